"""Findings: what a quality scan found, kept in the project until the user acts on them.

`scan` decodes every non-rejected image once (in a small thread pool: decoding dominates), runs the
chosen checks on it and stores the findings; it never changes an image. The user reviews them (CLI list,
GUI dialog) and `apply_findings` rejects the chosen images with the finding's message as the reason,
remembering each image's previous status so `undo_last_apply` puts it back. Nothing is ever deleted.

A new scan replaces the *open* findings of the kinds it checked (a fixed problem disappears, a new one
appears); applied and dismissed findings stay as the record of what was done.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..data.project import ImageRecord, Project, utcnow
from ..errors import GeoSpottrError
from ..events import DONE, PROGRESS, Control, Event, EventCallback, ignore_events
from ..fsutil import kill_point
from ..imaging import ImageError, load_image
from ..typed import DamagedFile, parse_json
from .checks import (
    CHECK_KINDS,
    CHECKS,
    EMBEDDING_CACHE,
    KINDS,
    OFFLINE_CHECKS,
    ScanContext,
    ScanOptions,
    load_checks,
    parse_checks,
)
from .frames import ANALYSIS_SIZE, measure
from .types import REASON_PREFIX, Finding, Sample

#: Re-exported: the check list and data types live in `checks` and `types`, the scan and its records here.
__all__ = ["CHECKS", "CHECK_KINDS", "EMBEDDING_CACHE", "KINDS", "OFFLINE_CHECKS", "REASON_PREFIX", "Finding",
           "Sample", "ScanOptions", "apply_findings", "dismiss_findings", "group_by_kind", "open_findings",
           "parse_checks", "reopen_unrejected", "scan", "undo_last_apply"]


def _analyse(project: Project, draft: int, record: ImageRecord) -> Sample | Finding:
    """Decode one image and measure it (runs in the pool: PIL releases the GIL while decoding)."""
    try:
        img = load_image(project.image_path(record), draft=(draft, draft))
    except ImageError as exc:
        return Finding(record.id, "corrupt", 1.0, str(exc).replace(str(project.root) + os.sep, ""))
    return Sample(record, img, measure(img))


def _require_files(options: ScanOptions) -> None:
    """A scene-weights or model file the user named must exist: said at once, before a check loads torch
    (seconds) only to find the file missing."""
    for what, path in (("scene weights file", options.scene_weights), ("model file", options.model)):
        if path is not None and not Path(path).is_file():
            raise GeoSpottrError(f"no {what} {path}")


def scan(project: Project, checks: str | Iterable[str] | None = None, on_event: EventCallback = ignore_events,
         control: Control | None = None, options: ScanOptions | None = None) -> list[Finding]:
    """Run `checks` over the project's non-rejected images; store and return the findings.

    Checks that need a file the user did not give (scene weights, a model) are skipped with one log
    line. A cancelled scan stores nothing.
    """
    names = parse_checks(checks)
    options = options or ScanOptions()
    _require_files(options)
    control = control or Control()
    records = project.images(status=list(options.statuses))
    total = len(records)
    findings: list[Finding] = []
    with ThreadPoolExecutor(max(1, options.workers)) as pool:
        loaded = load_checks(names, ScanContext(project, options, pool, on_event))
        ran = list(loaded)
        draft = max([ANALYSIS_SIZE] + [c.input_size for c in loaded.values()])
        on_event(Event(PROGRESS, "scanning", done=0, total=total, scope="clean"))
        for start in range(0, total, options.batch_size):
            control.checkpoint()
            batch = records[start:start + options.batch_size]
            samples = []
            for result in pool.map(lambda r: _analyse(project, draft, r), batch):
                if isinstance(result, Finding):
                    findings.append(result)
                else:
                    samples.append(result)
            for check in loaded.values():
                findings.extend(check.observe(samples))
            on_event(Event(PROGRESS, "scanning", done=min(start + len(batch), total), total=total, scope="clean"))
        control.checkpoint()
        for check in loaded.values():
            findings.extend(check.finish())
    kinds = ("corrupt",) + tuple(k for n in ran for k in CHECK_KINDS[n])
    stored = _store(project, findings, kinds)
    on_event(Event(DONE, f"{len(stored)} findings in {total} images", done=total, total=total, scope="clean",
                   data={"findings": len(stored), "images": total, "checks": list(ran)}))
    return stored


# ---------------------------------------------------------------------- persistence
_COLUMNS = "id, image_id, kind, score, grp, message, details, created, resolved, resolution"


def _details(row: Any) -> dict:
    """A finding's stored details; damaged ones (a crafted project) are dropped, never a crash of the list."""
    try:
        details = parse_json(row["details"] or "{}", "finding details")
    except DamagedFile:
        return {}
    return details if isinstance(details, dict) else {}


def _from_row(row: Any) -> Finding:
    return Finding(image_id=row["image_id"], kind=row["kind"], score=row["score"], message=row["message"],
                   group=row["grp"], details=_details(row), id=row["id"],
                   created=row["created"], resolved=row["resolved"], resolution=row["resolution"])


def _store(project: Project, findings: Sequence[Finding], kinds: Sequence[str]) -> list[Finding]:
    """Replace the open findings of `kinds` with `findings` in one transaction; return them with ids."""
    now = utcnow()
    marks = ",".join("?" * len(kinds))
    with project.transaction() as c:
        c.execute(f"DELETE FROM findings WHERE resolved IS NULL AND kind IN ({marks})", tuple(kinds))
        for f in findings:
            c.execute("INSERT INTO findings(image_id, kind, score, grp, message, details, created) VALUES(?,?,?,?,?,?,?)",
                      (f.image_id, f.kind, float(f.score), f.group, f.message, json.dumps(dict(f.details)), now))
    return open_findings(project, kinds)


def open_findings(project: Project, kinds: Sequence[str] | None = None) -> list[Finding]:
    """Findings not yet applied or dismissed, by kind (display order) then score (worst first)."""
    sql = f"SELECT {_COLUMNS} FROM findings WHERE resolved IS NULL"
    args: tuple[str, ...] = ()
    if kinds is not None:
        sql += f" AND kind IN ({','.join('?' * len(kinds))})"
        args = tuple(kinds)
    rows = project.conn.execute(sql, args).fetchall()
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted((_from_row(r) for r in rows), key=lambda f: (order.get(f.kind, len(order)), f.group or "", -f.score, f.image_id))


def group_by_kind(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Findings per kind in display order (kinds without findings left out)."""
    out: dict[str, list[Finding]] = {}
    for f in findings:
        out.setdefault(f.kind, []).append(f)
    return {k: out[k] for k in sorted(out, key=lambda k: list(KINDS).index(k) if k in KINDS else len(KINDS))}


def apply_findings(project: Project, finding_ids: Sequence[int], history: Any = None) -> int:
    """Reject the images of the given open findings, each with its finding's message as the reason.

    One transaction sets the statuses and stores the undo batch (each image's previous status), so a
    kill at any point leaves either nothing applied or everything applied and undoable.
    `history` (a `core.data.curation.CurationHistory`) makes the rejection one undoable edit in the app's
    Edit > Undo; `undo_last_apply` undoes it from the CLI either way. Returns the number of images rejected.
    """
    wanted = {int(i) for i in finding_ids}
    chosen = [f for f in open_findings(project) if f.id in wanted]
    if not chosen:
        return 0
    reasons: dict[str, str] = {}
    for f in chosen:
        reasons.setdefault(f.image_id, f.reason)
    rejected: list[int] = []

    def change() -> None:
        with project.transaction() as c:
            before = project.label_snapshot(list(reasons))  # same connection: read inside the transaction
            targets = {i: ("rejected", r) for i, r in reasons.items() if i in before and before[i][1] != "rejected"}
            project.set_statuses(targets)  # in this transaction: statuses and undo batch land together
            kill_point("clean-apply")  # crash tests: statuses written, undo batch not yet
            batch = (c.execute("SELECT MAX(batch) FROM findings").fetchone()[0] or 0) + 1
            none = (None, None, None)
            c.executemany("UPDATE findings SET resolved = ?, resolution = 'rejected', batch = ?, prev_status = ?,"
                          " prev_reason = ? WHERE id = ?",
                          [(utcnow(), batch, before.get(f.image_id, none)[1], before.get(f.image_id, none)[2], f.id)
                           for f in chosen])
        rejected.append(len(targets))

    if history is not None:
        history.record(f"Reject {len(reasons)} problem image" + ("" if len(reasons) == 1 else "s"), list(reasons), change)
    else:
        change()
    return rejected[0]


def dismiss_findings(project: Project, finding_ids: Sequence[int]) -> int:
    """Mark findings as reviewed and fine (the image keeps its status); returns how many."""
    with project.transaction() as c:
        cur = c.executemany("UPDATE findings SET resolved = ?, resolution = 'dismissed' WHERE id = ? AND resolved IS NULL",
                            [(utcnow(), int(i)) for i in finding_ids])
    return cur.rowcount


def undo_last_apply(project: Project) -> int:
    """Put back the images of the most recent `apply_findings` and reopen its findings (one transaction).

    An image whose status the user changed since (no longer rejected with our reason) is left alone.
    Returns the number of images restored.
    """
    with project.transaction() as c:
        batch = c.execute("SELECT MAX(batch) FROM findings WHERE resolution = 'rejected'").fetchone()[0]
        if batch is None:
            return 0
        rows = c.execute("SELECT id, image_id, prev_status, prev_reason FROM findings WHERE batch = ?",
                         (batch,)).fetchall()
        current = project.label_snapshot([r["image_id"] for r in rows])
        restore: dict[str, tuple[str, str | None]] = {}
        for r in rows:
            now = current.get(r["image_id"])
            if now and now[1] == "rejected" and (now[2] or "").startswith(REASON_PREFIX) and r["prev_status"]:
                restore.setdefault(r["image_id"], (r["prev_status"], r["prev_reason"]))
        project.set_statuses(restore)
        c.execute("UPDATE findings SET resolved = NULL, resolution = NULL, batch = NULL, prev_status = NULL,"
                  " prev_reason = NULL WHERE batch = ?", (batch,))
    return len(restore)


def reopen_unrejected(project: Project) -> int:
    """Reopen applied findings whose image is no longer rejected (an undo through the curation history
    put it back), so the review list shows them again. Returns how many were reopened."""
    with project.transaction() as c:
        cur = c.execute("UPDATE findings SET resolved = NULL, resolution = NULL, batch = NULL, prev_status = NULL,"
                        " prev_reason = NULL WHERE resolution = 'rejected' AND image_id IN"
                        " (SELECT id FROM images WHERE status != 'rejected')")
    return cur.rowcount
