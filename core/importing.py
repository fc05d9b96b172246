"""Import photos into a project from an ImageFolder tree (``root/<city>/*.jpg``) or a CSV.

Every file is validated (see `core.imaging`), copied (never moved), deduplicated by content hash and
committed one by one, so a killed import leaves a consistent project and re-running it completes the
rest: files already in the project are recognised by hash and skipped.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from . import catalog, geo
from .errors import GeoSpottrError
from .events import DONE, PROGRESS, WARNING, Control, Event, EventCallback, ignore_events
from .fsutil import read_regular
from .imaging import ImageError, read_image_file, validate_bytes
from .project import IMAGE_META_FIELDS, Project

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif", ".avif"}
#: Written by `export --format imagefolder`, read back here so a round trip keeps every city's details.
CITIES_FILE = "cities.json"
MANIFEST_FILE = "manifest.csv"
#: Cap on a CSV, manifest or cities.json read: far above any real one (1M rows), far below a memory problem.
MAX_TABLE_BYTES = 256 * 1024 * 1024


@dataclass
class ImportReport:
    """What happened to each file: a user sees these counts and the rejected files with reasons."""

    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    cities_added: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.added + self.duplicates + len(self.rejected)

    def summary(self) -> str:
        text = f"{self.added} added, {self.duplicates} already in the project, {len(self.rejected)} rejected"
        if self.cities_added:
            text += f"; new cities: {', '.join(self.cities_added)}"
        return text


@dataclass(frozen=True)
class _Item:
    path: Path
    city: str | None          # a project city slug (resolved before the copy loop)
    meta: dict[str, Any]


def import_source(project: Project, source: Path | str, *, max_km: float | None = None, add_cities: bool = False,
                  on_event: EventCallback = ignore_events, control: Control | None = None) -> ImportReport:
    """Import a folder tree or a CSV file (chosen by what `source` is)."""
    source = Path(source).expanduser()
    if max_km is not None and not (math.isfinite(max_km) and max_km > 0):
        raise GeoSpottrError(f"--max-km must be a distance above 0 km (got {max_km})")
    if source.is_dir():
        items, report = _folder_items(project, source, add_cities)
    elif source.exists() and source.suffix.lower() == ".csv":  # a FIFO or device is refused when read
        items, report = _csv_items(project, source, max_km, add_cities)
    elif source.exists():
        raise GeoSpottrError(f"{source}: import needs a folder (root/<city>/*.jpg) or a .csv file")
    else:
        raise GeoSpottrError(f"{source}: no such file or folder")
    return _run(project, items, report, on_event, control or Control())


def _run(project: Project, items: list[_Item], report: ImportReport, on_event: EventCallback,
         control: Control) -> ImportReport:
    total = len(items)
    on_event(Event(PROGRESS, "importing", done=0, total=total, scope="import"))
    for n, item in enumerate(items, 1):
        control.checkpoint()
        _import_one(project, item, report, on_event)
        on_event(Event(PROGRESS, item.path.name, done=n, total=total, scope="import"))
    on_event(Event(DONE, report.summary(), done=total, total=total, scope="import",
                   data={"added": report.added, "duplicates": report.duplicates, "rejected": len(report.rejected)}))
    return report


def _import_one(project: Project, item: _Item, report: ImportReport, on_event: EventCallback) -> None:
    try:
        valid = validate_bytes(read_image_file(item.path), str(item.path))
    except ImageError as exc:
        _reject(project, report, item.path, str(exc).split(": ", 1)[-1], on_event)
        return
    meta = {"source_id": item.path.name, **item.meta}
    record = project.add_image(valid.jpeg, sha256=valid.sha256, width=valid.width, height=valid.height,
                               city=item.city, source=meta.pop("source", "import"), **meta)
    if record is None:
        report.duplicates += 1
    else:
        report.added += 1


def _reject(project: Project, report: ImportReport, where: str | Path, reason: str,
            on_event: EventCallback = ignore_events) -> None:
    """Record a refused file (in the report and the project's import log) and tell the listener."""
    report.rejected.append((str(where), reason))
    project.record_import_error(str(where), reason)
    on_event(Event(WARNING, f"{where}: {reason}", scope="import", data={"path": str(where), "reason": reason}))


# ---------------------------------------------------------------------------------------------- sources
def _city_resolver(project: Project, add_cities: bool, report: ImportReport) -> Callable[[str], str]:
    """Maps a folder or CSV city name to a project slug, adding catalog cities when allowed."""
    cache: dict[str, str] = {}

    def resolve(name: str) -> str:
        if name in cache:
            return cache[name]
        city = project.find_city(name)
        if city is None:
            if not add_cities:
                raise GeoSpottrError(
                    f"city {name!r} is not in this project; add it first (`geospottr cities --add {shlex.quote(name)}`) "
                    "or pass --add-cities")
            city = project.add_city(catalog.resolve(name))
            report.cities_added.append(city.slug)
        cache[name] = city.slug
        return city.slug

    return resolve


def _folder_items(project: Project, root: Path, add_cities: bool) -> tuple[list[_Item], ImportReport]:
    report = ImportReport()
    cities_file = root / CITIES_FILE
    if cities_file.exists():  # our own export: restore cities with their slug, radius and target
        for record in _read_cities_file(cities_file):
            if project.find_city(record["slug"]) is None:
                project.add_city_record(record)
                report.cities_added.append(record["slug"])
    manifest = _read_manifest(root / MANIFEST_FILE)
    resolve = _city_resolver(project, add_cities, report)
    # Symlinked folders are skipped: a link could lead anywhere (and a loop would never end).
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    if not folders:
        raise GeoSpottrError(f"{root}: no city folders inside (expected root/<city>/*.jpg)")
    items: list[_Item] = []
    for folder in folders:
        slug = resolve(folder.name)
        for path in sorted(folder.rglob("*")):
            # Not only regular files: a FIFO, a device link or a broken link named .jpg is reported as
            # refused (by `read_image_file`, which never blocks on one) instead of silently skipped.
            if path.name.startswith(".") or path.is_dir():
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                _reject(project, report, path, "not an image file extension")
                continue
            meta = manifest.get(path.relative_to(root).as_posix(), {})
            items.append(_Item(path, slug, meta))
    return items, report


def _read_text(path: Path) -> str:
    """A CSV or JSON file as text: a regular file under `MAX_TABLE_BYTES` in UTF-8 (BOM allowed)."""
    data = read_regular(path, MAX_TABLE_BYTES, "table")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GeoSpottrError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _csv_rows(path: Path) -> tuple[set[str], Iterator[tuple[int, dict[str, str]]]]:
    """(column names, (line number, row) pairs) of a CSV read through `_read_text`; a malformed CSV
    (a field over the csv module's limit, a NUL byte) gives a one-line `GeoSpottrError` naming the line."""
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    try:
        columns = set(reader.fieldnames or ())
    except csv.Error as exc:
        raise GeoSpottrError(f"{path}: not a readable CSV ({exc})") from None

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise GeoSpottrError(f"{path}:{reader.line_num}: not a readable CSV row ({exc})") from None
    return columns, rows()


def _read_cities_file(path: Path) -> list[dict[str, Any]]:
    """The records of an export's ``cities.json``: a list of objects, each with a safe slug (checked
    again, with every other field, by `Project.add_city_record`)."""
    try:
        records = json.loads(_read_text(path))
    except ValueError as exc:
        raise GeoSpottrError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise GeoSpottrError(f"{path}: expected a JSON list of city objects")
    for record in records:
        try:
            catalog.validate_slug(record.get("slug"))
        except GeoSpottrError as exc:
            raise GeoSpottrError(f"{path}: {exc}") from None
    return records


def _read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """Per-file metadata written by our export (coordinates, location id, split...), keyed by relative path.
    A row with bad values is dropped (its file still imports, without that metadata)."""
    if not path.exists():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for _, row in _csv_rows(path)[1]:
        try:
            out[row.get("path") or ""] = _meta_from_row(row)
        except GeoSpottrError:
            continue
    return out


_FLOAT_FIELDS = {"lat", "lon", "heading", "pitch", "fov"}
_RANGES = {"lat": (-90.0, 90.0), "lon": (-180.0, 180.0), "heading": (-360.0, 360.0), "pitch": (-90.0, 90.0),
           "fov": (0.0, 360.0)}


def _meta_from_row(row: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in IMAGE_META_FIELDS:
        value = (row.get(key) or "").strip()
        if not value:
            continue
        if key in _FLOAT_FIELDS:
            try:
                number = float(value)
            except ValueError:
                raise GeoSpottrError(f"column {key!r} has a non-number {value[:40]!r}") from None
            low, high = _RANGES.get(key, (-math.inf, math.inf))
            if not (math.isfinite(number) and low <= number <= high):
                raise GeoSpottrError(f"column {key!r} is {value[:40]!r}, outside {low:g}..{high:g}"
                                     if math.isfinite(number) else f"column {key!r} is not a finite number ({value[:40]!r})")
            meta[key] = number
        elif key == "status" and value not in ("pending", "accepted", "rejected"):
            continue
        elif key == "split" and value not in ("train", "val", "test"):
            continue
        else:
            meta[key] = _unguard(value)
    if "source" in row and row["source"]:
        meta["source"] = _unguard(row["source"])
    return meta


def _unguard(value: str) -> str:
    """Undo the quote our export puts before a cell that a spreadsheet would read as a formula."""
    return value[1:] if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r" else value


def _csv_items(project: Project, csv_path: Path, max_km: float | None, add_cities: bool) -> tuple[list[_Item], ImportReport]:
    report = ImportReport()
    resolve = _city_resolver(project, add_cities, report)
    items: list[_Item] = []
    # The rows come from a bounded read: a FIFO named .csv or a huge file must not hang or exhaust us.
    columns, rows = _csv_rows(csv_path)
    if "path" not in columns or not ({"city"} <= columns or {"lat", "lon"} <= columns):
        raise GeoSpottrError(f"{csv_path}: needs a 'path' column and either 'city' or 'lat','lon' columns "
                             f"(found: {', '.join(sorted(columns)) or 'none'})")
    cities = project.cities()
    for line, row in rows:
        if not row.get("path"):
            _reject(project, report, f"{csv_path}:{line}", "empty path")
            continue
        path = Path(row["path"]).expanduser()
        if not path.is_absolute():
            path = csv_path.parent / path
        try:
            meta = _meta_from_row(row)
        except GeoSpottrError as exc:
            _reject(project, report, f"{csv_path}:{line}", str(exc))
            continue
        if row.get("city"):
            slug = resolve(row["city"])
        else:
            if "lat" not in meta or "lon" not in meta:
                _reject(project, report, f"{csv_path}:{line}", "missing lat/lon")
                continue
            if not cities:
                raise GeoSpottrError("labelling by coordinates needs cities in the project; add some first")
            city, distance = geo.nearest(meta["lat"], meta["lon"], cities)
            if max_km is not None and distance > max_km:
                _reject(project, report, str(path), f"nearest city {city.name} is {distance:.0f} km away (> --max-km {max_km:g})")
                continue
            slug = city.slug
        items.append(_Item(path, slug, meta))
    return items, report

