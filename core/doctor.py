"""`geospottr doctor`: find and repair what a kill or a full disk can leave in a project.

Writers keep a project consistent by ordering (file first, then its row; row deleted, then its file), so
the worst a kill leaves is:

* **orphan files**: an image file no row points to (a kill between writing a file and committing its row,
  a disk-full insert, or ``cities --remove --delete-images`` killed midway);
* **missing files**: a row whose file is gone (deleted by hand, a restored backup of the database only);
* **abandoned temp files**: ``*.part`` of a writer that died (`core.fsutil.is_abandoned`).

`check` only reports. `repair` deletes orphan files and abandoned temp files and removes rows without
files. It is safe while other processes use the project: a file counts as an orphan only when it is older
than `GRACE_S` (a live import writes a file a moment before committing its row) and its row is looked up
again just before it is deleted; rows are removed in one transaction that re-checks each file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .fsutil import PART_SUFFIX, is_abandoned
from .project import Project

#: Files younger than this are never called orphans: their writer may be about to commit the row.
GRACE_S = 600.0


@dataclass
class DoctorReport:
    """What `check` found (paths relative to the project) and, after `repair`, what was fixed."""

    orphan_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)   # image ids
    temp_files: list[str] = field(default_factory=list)
    young_files: int = 0           # unreferenced but recent: maybe a live writer's, left alone
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not (self.orphan_files or self.missing_files or self.temp_files)

    def lines(self) -> list[str]:
        verb = "removed" if self.repaired else "found"
        out = [f"{len(self.orphan_files)} orphan image files (no row) {verb}",
               f"{len(self.missing_files)} rows whose file is missing {verb}",
               f"{len(self.temp_files)} abandoned temp files {verb}"]
        if self.young_files:
            out.append(f"{self.young_files} unreferenced files younger than {GRACE_S / 60:.0f} min left alone "
                       "(another process may be writing them)")
        return out


def check(project: Project) -> DoctorReport:
    """Report orphans, missing files and abandoned temp files without changing anything."""
    report = DoctorReport()
    known = {row[0] for row in project.conn.execute("SELECT path FROM images")}
    now = time.time()
    for path in sorted(project.images_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(project.root).as_posix()
        if path.name.endswith(PART_SUFFIX):
            if is_abandoned(path, now):
                report.temp_files.append(rel)
        elif rel not in known:
            if now - path.stat().st_mtime >= GRACE_S:
                report.orphan_files.append(rel)
            else:
                report.young_files += 1
    for image_id, rel in project.conn.execute("SELECT id, path FROM images ORDER BY id"):
        if not (project.root / rel).is_file():
            report.missing_files.append(image_id)
    return report


def repair(project: Project) -> DoctorReport:
    """Fix what `check` finds; returns the report of what was removed."""
    report = check(project)
    for rel in report.temp_files:
        path = project.root / rel
        if is_abandoned(path):
            path.unlink(missing_ok=True)
    removed_orphans = []
    for rel in report.orphan_files:
        # Looked up again now: a writer may have committed its row since the check.
        if project.conn.execute("SELECT 1 FROM images WHERE path = ?", (rel,)).fetchone() is None:
            (project.root / rel).unlink(missing_ok=True)
            removed_orphans.append(rel)
    report.orphan_files = removed_orphans
    removed_rows = []
    with project.transaction() as c:
        for image_id in report.missing_files:
            row = c.execute("SELECT path FROM images WHERE id = ?", (image_id,)).fetchone()
            if row is not None and not (project.root / row[0]).is_file():
                project.forget_images([image_id])  # in this transaction
                removed_rows.append(image_id)
    report.missing_files = removed_rows
    report.repaired = True  # empty folders stay: removing one could race a writer about to use it
    return report
