"""Export a project's labelled images as an ImageFolder tree, a CSV or GeoJSON points.

The ImageFolder export also writes ``cities.json`` and ``manifest.csv`` so that importing it into another
project restores cities and per-image metadata exactly. It is built in a temporary sibling folder and
renamed into place at the end, so an interrupted export leaves nothing half-written behind.

An export never destroys data: it refuses to write inside the project (its database, its images) or over
an existing file unless told to (`force`), a folder is accepted only as the ImageFolder target, and every
path it builds from a city slug stays inside the export folder. CSV cells that a spreadsheet would run as
a formula (starting with ``= + - @``) get a leading quote.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from ..errors import GeoSpottrError
from ..events import DONE, PROGRESS, Control, Event, EventCallback, ignore_events
from ..fsutil import (
    PART_SUFFIX,
    atomic_write_text,
    is_abandoned,
    is_inside,
    kill_point,
    part_prefix,
    safe_child,
    write_failed,
)
from .importing import CITIES_FILE, MANIFEST_FILE
from .project import ImageRecord, Project

FORMATS = ("imagefolder", "csv", "geojson")
#: File name endings that name a format; any other name is a folder (folder names may hold dots too).
SUFFIX_FORMATS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson"}
CSV_COLUMNS = ("path", "city", "lat", "lon", "heading", "pitch", "fov", "location_id", "source", "source_id",
               "captured_at", "status", "split", "licence", "attribution")


#: First characters that make Excel, LibreOffice or Sheets treat a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard_cell(value: object) -> object:
    """A text cell that would start a spreadsheet formula, quoted (``'=HYPERLINK(...)``); numbers pass."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _row(record: ImageRecord, path: str) -> dict[str, object]:
    values = record.to_dict()
    row = {k: values.get(k) for k in CSV_COLUMNS}
    row.update(path=path, city=record.city_slug)
    return {k: "" if v is None else guard_cell(v) for k, v in row.items()}


def _csv_text(rows: Sequence[dict[str, object]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def format_for(out: Path | str, fmt: str | None = None) -> str:
    """The export format for `out`: inferred from its extension when `fmt` is None, else `fmt`, refused when
    the extension names another format. Why: ``export out.geojson`` once wrote a folder named out.geojson."""
    implied = SUFFIX_FORMATS.get(Path(out).suffix.lower())
    if fmt is None:
        return implied or "imagefolder"
    if implied is not None and implied != fmt:
        raise GeoSpottrError(f"{out} names a {implied} file but the format asked for is {fmt}: "
                             f"drop the format to write {implied}, or change the name")
    return fmt


def export(project: Project, fmt: str, out: Path | str, *, include_rejected: bool = False,
           split: str | None = None, on_event: EventCallback = ignore_events,
           control: Control | None = None, force: bool = False) -> int:
    """Write the export; returns how many images it holds. `force` allows overwriting an existing file
    and writing inside the project folder (never over its database or images)."""
    control = control or Control()
    out = Path(out).expanduser()
    if fmt not in FORMATS:
        raise GeoSpottrError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    format_for(out, fmt)
    check_target(project, fmt, out, force)
    statuses = ("pending", "accepted", "rejected") if include_rejected else ("pending", "accepted")
    records = [r for r in project.images(status=statuses, split=split) if r.city_slug]
    if fmt == "imagefolder":
        _export_imagefolder(project, records, out, on_event, control)
    elif fmt == "csv":
        atomic_write_text(out, _csv_text([_row(r, str(project.image_path(r))) for r in records]))
    else:
        features = [{"type": "Feature",
                     "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]} if r.lat is not None else None,
                     "properties": _row(r, str(project.image_path(r)))} for r in records]
        atomic_write_text(out, json.dumps({"type": "FeatureCollection", "features": features}, indent=1))
    on_event(Event(DONE, f"exported {len(records)} images to {out}", done=len(records), total=len(records), scope="export"))
    return len(records)


def check_target(project: Project, fmt: str, out: Path, force: bool = False) -> None:
    """Refuse an export target that would lose data or cannot work, with a one-line reason."""
    project_root = project.root
    protected = [project.db_path, project.images_dir, project.runs_dir]
    if any(is_inside(out, p) for p in protected) or out.expanduser().resolve() in (
            project_root.resolve(), *(Path(f"{project.db_path}{x}").resolve() for x in ("-wal", "-shm", "-journal"))):
        raise GeoSpottrError(f"{out}: refusing to export over the project's own database, images or runs; "
                             f"choose a path outside {project_root}")
    if is_inside(out, project_root) and not force:
        raise GeoSpottrError(f"{out} is inside the project folder {project_root}; choose a path outside it "
                             f"(or pass --force)")
    if fmt == "imagefolder":
        if out.exists() and not out.is_dir():
            raise GeoSpottrError(f"{out} is a file; an imagefolder export needs a new (or empty) folder")
        return
    if out.is_dir():
        raise GeoSpottrError(f"{out} is a folder; a {fmt} export needs a file name, e.g. {out / ('images.' + fmt)}")
    if out.exists() and not force:
        raise GeoSpottrError(f"{out} already exists; choose another name, or pass --force to overwrite it")
    if out.exists() and not out.is_file():
        raise GeoSpottrError(f"{out} is not a regular file; refusing to replace it")


def _export_imagefolder(project: Project, records: Sequence[ImageRecord], out: Path, on_event: EventCallback,
                        control: Control) -> None:
    """Write the tree into a temporary sibling folder and rename it to `out` at the end: a killed,
    cancelled or disk-full export leaves no partial `out` (re-running it just works), and the temporary
    folder of a dead export is removed by the next one (`fsutil.is_abandoned`)."""
    if out.exists() and any(out.iterdir()):
        raise GeoSpottrError(f"{out} is not empty; export into a new folder")
    out = out.absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for stale in out.parent.glob(f".{glob.escape(out.name)}.pid*{PART_SUFFIX}"):
            if stale.is_dir() and not stale.is_symlink() and is_abandoned(stale):
                shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=part_prefix(out.name), suffix=PART_SUFFIX, dir=out.parent))
    except OSError as exc:
        raise write_failed(exc, out) from None
    try:
        rows = []
        for n, r in enumerate(records, 1):
            control.checkpoint()
            rel = f"{r.city_slug}/{r.id}.jpg"
            target = safe_child(work, r.city_slug, f"{r.id}.jpg")
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(project.image_path(r), target)
            rows.append(_row(r, rel))
            on_event(Event(PROGRESS, rel, done=n, total=len(records), scope="export"))
        used = {r.city_slug for r in records}
        cities = [c.to_dict() for c in project.cities() if c.slug in used]
        for c in cities:
            c.pop("id")
        atomic_write_text(work / CITIES_FILE, json.dumps(cities, indent=1))
        atomic_write_text(work / MANIFEST_FILE, _csv_text(rows))
        kill_point("export-before-rename")  # crash tests: everything written, nothing at `out` yet
        if out.exists():
            out.rmdir()  # empty (checked above): rename needs it gone on every platform
        os.rename(work, out)
    except BaseException as exc:
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, OSError):
            raise write_failed(exc, out) from None
        raise
