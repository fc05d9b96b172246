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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from PIL import Image

from ..errors import GeoSpottrError
from ..events import DONE, LOG, PROGRESS, Control, Event, EventCallback, ignore_events
from ..imaging import ImageError, load_image
from ..project import ImageRecord, Project, utcnow
from .frames import ANALYSIS_SIZE, FrameStats, FrameThresholds, classify, measure

#: Checks in the order they run and are listed.
CHECKS = ("frames", "duplicates", "scene", "outliers", "labels")
#: What runs without any user-supplied file (scene needs --weights, labels needs --model).
OFFLINE_CHECKS = ("frames", "duplicates", "outliers")
#: Finding kinds with the heading a user sees, in display order.
KINDS: dict[str, str] = {
    "corrupt": "Unreadable or truncated files",
    "placeholder": "Placeholder frames (no imagery)",
    "dark": "Near-black frames",
    "bright": "Near-white frames",
    "blurry": "Blurred frames",
    "duplicate": "Near-duplicates (best copy kept)",
    "label_conflict": "Duplicates labelled with different cities",
    "scene": "Indoor / non-street scenes",
    "outlier": "Unusual for their city",
    "label_error": "Label contradicted by the model",
}
CHECK_KINDS: dict[str, tuple[str, ...]] = {
    "frames": ("corrupt", "placeholder", "dark", "bright", "blurry"),
    "duplicates": ("duplicate", "label_conflict"),
    "scene": ("scene",),
    "outliers": ("outlier",),
    "labels": ("label_error",),
}
REASON_PREFIX = "quality: "
#: Where the outlier check keeps image embeddings between scans (under the project's cache folder).
EMBEDDING_CACHE = "quality/lite0-embeddings.npz"


@dataclass(frozen=True)
class Finding:
    """One problem with one image. `group` ties near-duplicates together; `details` holds what was measured."""

    image_id: str
    kind: str
    score: float
    message: str
    group: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None
    created: str | None = None
    resolved: str | None = None
    resolution: str | None = None

    @property
    def reason(self) -> str:
        """The rejection reason written to the image when this finding is applied."""
        return f"{REASON_PREFIX}{self.message}"


@dataclass(frozen=True)
class Sample:
    """A decoded image handed to the checks, with its frame measurements."""

    record: ImageRecord
    image: Image.Image
    stats: FrameStats


@dataclass
class ScanOptions:
    """Thresholds and inputs of a scan (the CLI's ``--threshold``, ``--weights``, ``--model``)."""

    frames: FrameThresholds = field(default_factory=FrameThresholds)
    hamming: int | None = None              # duplicates: max differing bits (None = the module default)
    scene_weights: Path | None = None       # Places365 ResNet checkpoint (CSAIL release)
    indoor: float | None = None             # scene: flag when P(indoor) is at least this
    street: float | None = None             # scene: flag when P(street-like scene) is below this
    outlier_z: float | None = None          # outliers: robust z-score above which an image is flagged
    model: Path | None = None               # a trained GeoSpottr bundle for label errors
    label_confidence: float | None = None   # labels: flag when the model's other city has at least this
    statuses: tuple[str, ...] = ("pending", "accepted")
    batch_size: int = 32
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))


def parse_checks(checks: str | Iterable[str] | None) -> tuple[str, ...]:
    """A validated tuple of check names from ``"frames,duplicates"`` or a list (None = `OFFLINE_CHECKS`)."""
    if checks is None:
        return OFFLINE_CHECKS
    names = [c.strip().lower() for c in (checks.split(",") if isinstance(checks, str) else checks) if c.strip()]
    unknown = [c for c in names if c not in CHECKS]
    if unknown:
        raise GeoSpottrError(f"unknown check {unknown[0]!r}; choose from {', '.join(CHECKS)}")
    if not names:
        raise GeoSpottrError(f"no check chosen; choose from {', '.join(CHECKS)}")
    return tuple(c for c in CHECKS if c in names)


def _analyse(project: Project, draft: int, record: ImageRecord) -> Sample | Finding:
    """Decode one image and measure it (runs in the pool: PIL releases the GIL while decoding)."""
    try:
        img = load_image(project.image_path(record), draft=(draft, draft))
    except ImageError as exc:
        return Finding(record.id, "corrupt", 1.0, str(exc).replace(str(project.root) + os.sep, ""))
    return Sample(record, img, measure(img))


def scan(project: Project, checks: str | Iterable[str] | None = None, on_event: EventCallback = ignore_events,
         control: Control | None = None, options: ScanOptions | None = None) -> list[Finding]:
    """Run `checks` over the project's non-rejected images; store and return the findings.

    Checks that need a file the user did not give (scene weights, a model) are skipped with one log
    line. A cancelled scan stores nothing.
    """
    from .duplicates import DEFAULT_HAMMING, image_hashes

    names = parse_checks(checks)
    options = options or ScanOptions()
    control = control or Control()
    models = _model_checks(project, names, options, on_event)
    ran = [n for n in names if n in ("frames", "duplicates") or n in models]
    records = project.images(status=list(options.statuses))
    draft = max([ANALYSIS_SIZE] + [m.input_size for m in models.values()])
    total = len(records)
    findings: list[Finding] = []
    hashed: list[tuple[ImageRecord, tuple[int, int], tuple[float, ...]]] = []
    on_event(Event(PROGRESS, "scanning", done=0, total=total, scope="clean"))
    with ThreadPoolExecutor(max(1, options.workers)) as pool:
        for start in range(0, total, options.batch_size):
            control.checkpoint()
            batch = records[start:start + options.batch_size]
            samples = []
            for result in pool.map(lambda r: _analyse(project, draft, r), batch):
                if isinstance(result, Finding):
                    findings.append(result)
                else:
                    samples.append(result)
            if "frames" in names:
                for s in samples:
                    problem = classify(s.stats, options.frames)
                    if problem:
                        kind, score, message = problem
                        findings.append(Finding(s.record.id, kind, round(score, 4), message, details=s.stats.to_dict()))
            if "duplicates" in names:
                # a featureless frame's hash says nothing (every blank frame would match every other one)
                textured = [s for s in samples if s.stats.uniform_fraction < options.frames.uniform]
                hashed.extend(zip((s.record for s in textured), pool.map(lambda s: image_hashes(s.image), textured),
                                  ((s.record.width * s.record.height, s.stats.sharpness) for s in textured)))
            for check in models.values():
                findings.extend(check.observe(samples))
            on_event(Event(PROGRESS, "scanning", done=min(start + len(batch), total), total=total, scope="clean"))
    control.checkpoint()
    if "duplicates" in names:
        findings.extend(_duplicate_findings(hashed, DEFAULT_HAMMING if options.hamming is None else options.hamming))
    for check in models.values():
        findings.extend(check.finish())
    kinds = ("corrupt",) + tuple(k for n in ran for k in CHECK_KINDS[n])
    stored = _store(project, findings, kinds)
    on_event(Event(DONE, f"{len(stored)} findings in {total} images", done=total, total=total, scope="clean",
                   data={"findings": len(stored), "images": total, "checks": list(ran)}))
    return stored


def _model_checks(project: Project, names: Sequence[str], options: ScanOptions,
                  on_event: EventCallback) -> dict[str, Any]:
    """The model-based checks that can run, loaded once; the others are skipped with one clear line."""
    checks: dict[str, Any] = {}
    if "scene" in names:
        if options.scene_weights is None:
            on_event(Event(LOG, "scene check skipped: it needs Places365 ResNet weights from MIT CSAIL "
                                "(resnet18_places365.pth.tar or resnet50_places365.pth.tar; CLI: --weights PATH)"))
        else:
            from .scene import SceneCheck
            checks["scene"] = SceneCheck.load(options.scene_weights, indoor=options.indoor, street=options.street)
    if "outliers" in names:
        from .embedding import OutlierCheck
        checks["outliers"] = OutlierCheck(z_threshold=options.outlier_z, cache=project.cache_dir / EMBEDDING_CACHE)
    if "labels" in names:
        if options.model is None:
            on_event(Event(LOG, "label check skipped: it needs a trained model bundle from `geospottr train` (CLI: --model FILE)"))
        else:
            from .label_errors import LabelCheck
            checks["labels"] = LabelCheck.load(options.model, confidence=options.label_confidence)
    return checks


def _duplicate_findings(hashed: Sequence[tuple[ImageRecord, tuple[int, int], tuple[float, ...]]],
                        hamming: int) -> list[Finding]:
    """One finding per extra copy, or, when a group mixes cities, one label conflict per member (which
    label is right is for the user to decide, so no copy is preferred)."""
    from .duplicates import group_duplicates

    groups = group_duplicates([h for _, h, _ in hashed], [q for _, _, q in hashed], hamming)
    out = []
    for g in groups:
        recs = [hashed[i][0] for i in g.members]
        keep = hashed[g.keep][0]
        key = f"dup-{keep.id}"
        cities = sorted({r.city_slug or "unlabelled" for r in recs})
        members = [r.id for r in recs]
        if len(cities) > 1:
            for r in recs:
                out.append(Finding(r.id, "label_conflict", 1.0,
                                   f"near-duplicate images labelled {' / '.join(cities)} (this one: {r.city_slug or 'unlabelled'})",
                                   group=key, details={"cities": cities, "members": members, "distance": g.distance}))
            continue
        for r in recs:
            if r.id != keep.id:
                out.append(Finding(r.id, "duplicate", round(1.0 - g.distance / 64, 4),
                                   f"near-duplicate of {keep.id} (kept: larger or sharper)", group=key,
                                   details={"keep": keep.id, "members": members, "distance": g.distance}))
    return out


# ---------------------------------------------------------------------- persistence
_COLUMNS = "id, image_id, kind, score, grp, message, details, created, resolved, resolution"


def _from_row(row: Any) -> Finding:
    return Finding(image_id=row["image_id"], kind=row["kind"], score=row["score"], message=row["message"],
                   group=row["grp"], details=json.loads(row["details"] or "{}"), id=row["id"],
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

    `history` (a `core.curation.CurationHistory`) makes the rejection one undoable edit in the app's
    Edit > Undo; `undo_last_apply` undoes it from the CLI either way. Returns the number of images rejected.
    """
    wanted = {int(i) for i in finding_ids}
    chosen = [f for f in open_findings(project) if f.id in wanted]
    if not chosen:
        return 0
    reasons: dict[str, str] = {}
    for f in chosen:
        reasons.setdefault(f.image_id, f.reason)
    before = project.label_snapshot(list(reasons))
    targets = {i: r for i, r in reasons.items() if i in before and before[i][1] != "rejected"}
    by_reason: dict[str, list[str]] = {}
    for image_id, reason in targets.items():
        by_reason.setdefault(reason, []).append(image_id)

    def change() -> None:
        for reason, ids in by_reason.items():
            project.set_status(ids, "rejected", reason)

    if history is not None:
        history.record(f"Reject {len(targets)} problem image" + ("" if len(targets) == 1 else "s"), list(targets), change)
    else:
        change()
    batch = (project.conn.execute("SELECT MAX(batch) FROM findings").fetchone()[0] or 0) + 1
    now = utcnow()
    with project.transaction() as c:
        c.executemany("UPDATE findings SET resolved = ?, resolution = 'rejected', batch = ?, prev_status = ?, prev_reason = ?"
                      " WHERE id = ?",
                      [(now, batch, before.get(f.image_id, (None, None, None))[1],
                        before.get(f.image_id, (None, None, None))[2], f.id) for f in chosen])
    return len(targets)


def dismiss_findings(project: Project, finding_ids: Sequence[int]) -> int:
    """Mark findings as reviewed and fine (the image keeps its status); returns how many."""
    with project.transaction() as c:
        cur = c.executemany("UPDATE findings SET resolved = ?, resolution = 'dismissed' WHERE id = ? AND resolved IS NULL",
                            [(utcnow(), int(i)) for i in finding_ids])
    return cur.rowcount


def undo_last_apply(project: Project) -> int:
    """Put back the images of the most recent `apply_findings` and reopen its findings.

    An image whose status the user changed since (no longer rejected with our reason) is left alone.
    Returns the number of images restored.
    """
    batch = project.conn.execute("SELECT MAX(batch) FROM findings WHERE resolution = 'rejected'").fetchone()[0]
    if batch is None:
        return 0
    rows = project.conn.execute("SELECT id, image_id, prev_status, prev_reason FROM findings WHERE batch = ?",
                                (batch,)).fetchall()
    current = project.label_snapshot([r["image_id"] for r in rows])
    restore: dict[str, tuple[int | None, str, str | None]] = {}
    for r in rows:
        now = current.get(r["image_id"])
        if now and now[1] == "rejected" and (now[2] or "").startswith(REASON_PREFIX) and r["prev_status"]:
            restore.setdefault(r["image_id"], (now[0], r["prev_status"], r["prev_reason"]))
    project.restore_labels(restore)
    with project.transaction() as c:
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
