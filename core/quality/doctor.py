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

Repair never deletes what it cannot prove is garbage (issue 24):

* **Mass loss is refused.** When more than `MASS_SHARE` of the rows lose their files at once (or every
  row does), images/ is taken to be unavailable (an empty mount over it, an unplugged drive), not the
  photos gone: "images/ looks unavailable: 400 of 400 files missing", nothing changed. The same for
  orphans: a database that lists none of the files on disk is the wrong database, not garbage.
  `allow_many` (``--allow-many``) overrides, for a user who knows.
* **A backup first.** Before the first change, the database is copied with SQLite's backup API (a
  consistent snapshot even while others write) to ``geospottr.db.bak-<UTC time>`` beside it.
* **Backups protect files.** A file that any backup's rows still name is never an orphan: restoring that
  backup would need it. (So a second run after images/ came back cannot delete the photos whose rows an
  earlier repair removed.)

The CLI shows the plan and asks before changing anything (``--yes`` skips the question; without a
terminal and without ``--yes`` it only prints the plan).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..data.project import DB_NAME, Project
from ..errors import GeoSpottrError
from ..fsutil import PART_SUFFIX, is_abandoned

#: Files younger than this are never called orphans: their writer may be about to commit the row.
GRACE_S = 600.0
#: More than this share of the rows (or files) going at once is not garbage but a missing folder or a
#: wrong database: repair refuses (a few percent: a hand-deleted photo or a killed writer is far below).
MASS_SHARE = 0.05
#: ... unless it is at most this many (a small project's one deleted photo is 20 % of it).
MASS_FLOOR = 10
#: Backups of the database are named ``geospottr.db.bak-<YYYYmmdd-HHMMSS>[-n]``.
BACKUP_PREFIX = f"{DB_NAME}.bak-"
#: Orphan files listed by name in the plan (the rest are counted).
SHOWN = 10


@dataclass
class DoctorReport:
    """What `check` found (paths relative to the project) and, after `repair`, what was fixed."""

    orphan_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)   # image ids
    temp_files: list[str] = field(default_factory=list)
    young_files: int = 0           # unreferenced but recent: maybe a live writer's, left alone
    #: Unreferenced files that a backup of the database still names: kept (restoring it needs them).
    kept_files: list[str] = field(default_factory=list)
    rows: int = 0                  # image rows in the database
    files: int = 0                 # image files under images/
    backups: list[str] = field(default_factory=list)    # the backups read (names)
    #: Why repairing this state would be refused (mass loss), or None.
    refusal: str | None = None
    backup: str | None = None      # the backup `repair` wrote (a path)
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
        if self.kept_files:
            out.append(f"{len(self.kept_files)} unreferenced files kept: a database backup "
                       f"({', '.join(self.backups[-2:])}) still lists them; restore it, or delete the backup "
                       "to let repair remove them")
        if self.refusal and not self.repaired:
            out.append(self.refusal)
        return out

    def plan(self) -> list[str]:
        """What `repair` would change, for the user to confirm."""
        out = []
        if self.missing_files:
            out.append(f"remove {len(self.missing_files)} image rows (with their labels and splits) whose file "
                       f"is missing")
        if self.orphan_files:
            shown = ", ".join(self.orphan_files[:SHOWN]) + (" ..." if len(self.orphan_files) > SHOWN else "")
            out.append(f"delete {len(self.orphan_files)} orphan image files: {shown}")
        if self.temp_files:
            out.append(f"delete {len(self.temp_files)} abandoned temp files")
        return out


def check(project: Project) -> DoctorReport:
    """Report orphans, missing files and abandoned temp files without changing anything; `refusal` says
    whether the state looks like mass loss that `repair` will not act on."""
    report = DoctorReport()
    known = {row[0] for row in project.conn.execute("SELECT path FROM images")}
    report.rows = len(known)
    protected = _backed_up_paths(project, report)
    now = time.time()
    for path in sorted(project.images_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(project.root).as_posix()
        if path.name.endswith(PART_SUFFIX):
            if is_abandoned(path, now):
                report.temp_files.append(rel)
            continue
        report.files += 1
        if rel in known:
            continue
        if rel in protected:
            report.kept_files.append(rel)
        elif now - path.stat().st_mtime >= GRACE_S:
            report.orphan_files.append(rel)
        else:
            report.young_files += 1
    for image_id, rel in project.conn.execute("SELECT id, path FROM images ORDER BY id"):
        if not (project.root / rel).is_file():
            report.missing_files.append(image_id)
    report.refusal = _mass_loss(report)
    return report


def _mass(count: int, total: int) -> bool:
    return count > MASS_FLOOR and count > MASS_SHARE * total


def _mass_loss(report: DoctorReport) -> str | None:
    """The refusal line when the state looks like a missing folder or a wrong database, not garbage."""
    missing, rows = len(report.missing_files), report.rows
    if missing and (missing == rows or _mass(missing, rows)):
        return (f"images/ looks unavailable: {missing} of {rows} files missing. Nothing was changed: check that "
                "the drive or folder is there (an empty mount, an unplugged disk); if the photos are really "
                "gone, repair with --allow-many")
    orphans = len(report.orphan_files)
    if _mass(orphans, report.files):
        return (f"{DB_NAME} lists none of {orphans} of the {report.files} files in images/: is it the project's "
                "own database (a restored or copied one)? Nothing was changed; if those files are really "
                "garbage, repair with --allow-many")
    return None


def backup_database(project: Project) -> Path:
    """Copy the database to ``geospottr.db.bak-<UTC time>`` beside it with SQLite's backup API (a consistent
    snapshot while others write), through a temp name renamed at the end; returns the backup's path."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    target, n = project.root / f"{BACKUP_PREFIX}{stamp}", 2
    while target.exists():
        target, n = project.root / f"{BACKUP_PREFIX}{stamp}-{n}", n + 1
    tmp = target.with_name(target.name + ".tmp")
    try:
        dest = sqlite3.connect(tmp)
        try:
            project.conn.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            dest.close()
        tmp.replace(target)
    except (OSError, sqlite3.Error) as exc:
        tmp.unlink(missing_ok=True)
        raise GeoSpottrError(f"cannot back up {project.db_path} before repairing ({exc}); nothing was changed") from None
    return target


def backups(project: Project) -> list[Path]:
    """The database backups beside the project's database, oldest first."""
    return sorted(p for p in project.root.glob(f"{BACKUP_PREFIX}*")
                  if p.is_file() and not p.name.endswith((".tmp", "-wal", "-shm", "-journal")))


def _backed_up_paths(project: Project, report: DoctorReport) -> set[str]:
    """Every image path any backup's rows name (read-only; an unreadable backup names nothing)."""
    paths: set[str] = set()
    for backup in backups(project):
        try:
            conn = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
            try:
                paths.update(row[0] for row in conn.execute("SELECT path FROM images"))
            finally:
                conn.close()
        except sqlite3.Error:
            continue
        report.backups.append(backup.name)
    return paths


def repair(project: Project, allow_many: bool = False, plan: DoctorReport | None = None) -> DoctorReport:
    """Fix what `check` finds (or only what `plan`, a `check` the user confirmed, found and is still true);
    returns the report of what was removed. Refuses mass loss (`DoctorReport.refusal`) unless `allow_many`;
    writes a backup of the database before the first change (`DoctorReport.backup`)."""
    report = check(project)
    if report.refusal and not allow_many:
        raise GeoSpottrError(report.refusal)
    if plan is not None:  # never more than the user saw and confirmed
        report.orphan_files = sorted(set(report.orphan_files) & set(plan.orphan_files))
        report.missing_files = sorted(set(report.missing_files) & set(plan.missing_files))
        report.temp_files = sorted(set(report.temp_files) & set(plan.temp_files))
    if report.ok:
        report.repaired = True
        return report
    report.backup = str(backup_database(project))
    for rel in report.temp_files:
        path = project.root / rel
        if is_abandoned(path):
            path.unlink(missing_ok=True)
    protected = _backed_up_paths(project, DoctorReport())  # the new backup included
    removed_orphans = []
    for rel in report.orphan_files:
        # Looked up again now: a writer may have committed its row since the check.
        if rel in protected or project.conn.execute("SELECT 1 FROM images WHERE path = ?", (rel,)).fetchone():
            continue
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
