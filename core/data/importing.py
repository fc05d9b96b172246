"""Import photos into a project from an ImageFolder tree (``root/<city>/*.jpg``) or a CSV.

Every file is validated (see `core.imaging`), copied (never moved), deduplicated by content hash and
committed in batches of `ADD_BATCH` (one flush to disk and one transaction each), so a killed import leaves
a consistent project and re-running it completes the rest: files already in the project are recognised by
hash and skipped.

Nothing is left out silently: a refused file is *rejected* (logged in the project with its reason), and
a file or folder the walk does not enter (hidden, a symlink loop, unreadable, outside any city folder) is
*skipped* with its reason; both are in the `ImportReport` the CLI and the desktop app show. A table's
``status`` and ``split`` columns are kept only with `trust_status` (a CSV from anywhere must not mark
its photos accepted or put them in the test split).
"""

from __future__ import annotations

import csv
import io
import math
import os
import shlex
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .. import geo
from ..errors import GeoSpottrError
from ..events import DONE, PROGRESS, WARNING, Control, Event, EventCallback, ignore_events
from ..fsutil import read_regular
from ..imaging import ImageError, read_image_file, validate_bytes
from ..typed import parse_json
from ..values import checked_point, parse_decimal
from . import catalog
from .project import IMAGE_META_FIELDS, NewImage, Project

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif", ".avif"}
#: Written by `export --format imagefolder`, read back here so a round trip keeps every city's details.
CITIES_FILE = "cities.json"
MANIFEST_FILE = "manifest.csv"
#: Cap on a CSV, manifest or cities.json read: far above any real one (1M rows), far below a memory problem.
MAX_TABLE_BYTES = 256 * 1024 * 1024
#: Refused files are logged in the project this many at a time (one transaction each).
ERROR_BATCH = 2000
#: Photos stored per flush and transaction: large enough that the one flush costs little per photo,
#: small enough that a cancel or kill loses little work (`Project.add_images`).
ADD_BATCH = 64
#: Refusals told one by one as warnings (the rest are counted in the report and logged in the project:
#: a million warning lines help nobody and took longer to print than the import itself).
WARNED_REJECTS = 50
#: Progress is reported at most this many times per import (a bar or a GUI signal per row of a
#: million-row CSV costs more than the rows).
PROGRESS_STEPS = 1000


#: A photo farther than this from every project city is most likely not of any of them: labelled by
#: nearest city, 400 Croatian photos would silently become "Vienna" and "Milan".
FAR_KM = 150.0


@dataclass(frozen=True)
class FarPhotos:
    """Photos of an import that lie more than `FAR_KM` from their nearest project city, and where they are."""

    count: int
    median_km: float
    near: tuple[tuple[float, float], ...]  # (lat, lon) of the densest places among them, densest first

    def text(self) -> str:
        where = " or ".join(f"{abs(lat):.1f} {'N' if lat >= 0 else 'S'}, {abs(lon):.1f} {'E' if lon >= 0 else 'W'}"
                            for lat, lon in self.near)
        return (f"{self.count} photo{'s are' if self.count != 1 else ' is'} more than {FAR_KM:g} km from their nearest "
                f"project city (median {self.median_km:.0f} km); did you mean to add cities near {where}? "
                f"(`import --max-km {FAR_KM:g}` rejects them instead)")


def far_photos(points: list[tuple[float, float, float]], most: int = 3) -> FarPhotos | None:
    """Summarise the (lat, lon, km to the nearest city) points beyond `FAR_KM`: how many, how far, and the
    mean position of each of the `most` most crowded 1-degree cells they fall in (where cities are missing)."""
    far = [(lat, lon, km) for lat, lon, km in points if km > FAR_KM]
    if not far:
        return None
    cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for lat, lon, _ in far:
        cells.setdefault((math.floor(lat), math.floor(lon)), []).append((lat, lon))
    crowded = sorted(cells.values(), key=len, reverse=True)[:most]
    near = tuple((sum(p[0] for p in c) / len(c), sum(p[1] for p in c) / len(c)) for c in crowded)
    return FarPhotos(len(far), statistics.median(km for _, _, km in far), near)


@dataclass
class ImportReport:
    """What happened to each file: a user sees these counts, the rejected files and the skipped ones
    with reasons (the CLI prints them; the desktop app shows `summary`)."""

    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cities_added: list[str] = field(default_factory=list)
    far: FarPhotos | None = None  # photos far from every project city (a CSV with coordinates)

    @property
    def seen(self) -> int:
        return self.added + self.duplicates + len(self.rejected)

    def summary(self) -> str:
        text = f"{self.added} added, {self.duplicates} already in the project, {len(self.rejected)} rejected"
        if self.skipped:
            reasons = Counter(reason.split(" (")[0] for _, reason in self.skipped)  # the kind, not the detail
            text += f", {len(self.skipped)} skipped ({', '.join(f'{n} {r}' for r, n in reasons.most_common())})"
        if self.cities_added:
            text += f"; new cities: {', '.join(self.cities_added)}"
        if self.far is not None:
            text += f"; {self.far.text()}"
        return text


class _Rejects:
    """Records refused files in the report at once and in the project's import log in batches
    (`ERROR_BATCH` per transaction; `flush` at the end): one commit per refused row made a CSV of a
    million missing files crawl. A kill loses at most the last batch of log lines, never a photo."""

    def __init__(self, project: Project, report: ImportReport, on_event: EventCallback) -> None:
        self.project, self.report, self.on_event = project, report, on_event
        self.pending: list[tuple[str, str]] = []

    def __call__(self, where: str | Path, reason: str) -> None:
        entry = (str(where), reason)
        self.report.rejected.append(entry)
        self.pending.append(entry)
        count = len(self.report.rejected)
        if count <= WARNED_REJECTS:
            self.on_event(Event(WARNING, f"{where}: {reason}", scope="import",
                                data={"path": str(where), "reason": reason}))
        elif count == WARNED_REJECTS + 1:
            self.on_event(Event(WARNING, "more files refused: the summary counts them and the project's import "
                                         "log lists them all (`geospottr stats --errors`)", scope="import"))
        if len(self.pending) >= ERROR_BATCH:
            self.flush()

    def flush(self) -> None:
        self.project.record_import_errors(self.pending)
        self.pending = []


@dataclass(frozen=True)
class _Item:
    path: Path
    city: str | None          # a project city slug (resolved before the copy loop)
    meta: dict[str, Any]


def import_source(project: Project, source: Path | str, *, max_km: float | None = None, add_cities: bool = False,
                  trust_status: bool = False, on_event: EventCallback = ignore_events,
                  control: Control | None = None) -> ImportReport:
    """Import a folder tree or a CSV file (chosen by what `source` is). `trust_status` keeps the table's
    (CSV or an export's manifest) ``status`` and ``split`` columns; without it every photo is pending
    and unsplit."""
    source = Path(source).expanduser()
    if max_km is not None and not (math.isfinite(max_km) and max_km > 0):
        raise GeoSpottrError(f"--max-km must be a distance above 0 km (got {max_km})")
    report = ImportReport()
    reject = _Rejects(project, report, on_event)
    try:
        if source.is_dir():
            items = _folder_items(project, source, add_cities, trust_status, report, reject)
        elif source.exists() and source.suffix.lower() == ".csv":  # a FIFO or device is refused when read
            items = _csv_items(project, source, max_km, add_cities, trust_status, report, reject)
        elif source.exists():
            raise GeoSpottrError(f"{source}: import needs a folder (root/<city>/*.jpg) or a .csv file")
        else:
            raise GeoSpottrError(f"{source}: no such file or folder")
        return _run(project, items, report, reject, on_event, control or Control())
    finally:
        reject.flush()


def _run(project: Project, items: list[_Item], report: ImportReport, reject: _Rejects, on_event: EventCallback,
         control: Control) -> ImportReport:
    total = len(items)
    step = max(1, total // PROGRESS_STEPS)
    on_event(Event(PROGRESS, "importing", done=0, total=total, scope="import"))
    batch: list[NewImage] = []
    for n, item in enumerate(items, 1):
        control.checkpoint()
        photo = _validated(item, reject)
        if photo is not None:
            batch.append(photo)
        if len(batch) >= ADD_BATCH or (n == total and batch):
            _add(project, batch, report)
            batch = []
        if n % step == 0 or n == total:
            on_event(Event(PROGRESS, item.path.name, done=n, total=total, scope="import"))
    reject.flush()
    on_event(Event(DONE, report.summary(), done=total, total=total, scope="import",
                   data={"added": report.added, "duplicates": report.duplicates, "rejected": len(report.rejected),
                         "skipped": len(report.skipped)}))
    return report


def _validated(item: _Item, reject: _Rejects) -> NewImage | None:
    """The photo `item` names, decoded and checked by the one image rule, or None (rejected with its reason)."""
    try:
        valid = validate_bytes(read_image_file(item.path), str(item.path), full_image=False)
    except ImageError as exc:
        reject(item.path, str(exc).split(": ", 1)[-1])
        return None
    meta = {"source_id": item.path.name, **item.meta}
    return NewImage(valid.jpeg, valid.sha256, valid.width, valid.height, item.city, meta.pop("source", "import"), meta)


def _add(project: Project, batch: list[NewImage], report: ImportReport) -> None:
    """Store a batch of validated photos: one flush to disk and one transaction for all of them. A cancel
    between batches keeps every batch already added."""
    for record in project.add_images(batch):
        if record is None:
            report.duplicates += 1
        else:
            report.added += 1


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


def _folder_items(project: Project, root: Path, add_cities: bool, trust_status: bool, report: ImportReport,
                  reject: _Rejects) -> list[_Item]:
    cities_file = root / CITIES_FILE
    if cities_file.exists():  # our own export: restore cities with their slug, radius and target
        for record in _read_cities_file(cities_file):
            if project.find_city(record["slug"]) is None:
                project.add_city_record(record)
                report.cities_added.append(record["slug"])
    manifest = _read_manifest(root / MANIFEST_FILE, trust_status)
    resolve = _city_resolver(project, add_cities, report)
    folders = []
    for entry in _entries(root, report):
        if entry.is_dir():  # a symlinked city folder (a common dataset layout) counts when it leads to one
            if not _loops_back(entry, root, report):
                folders.append(entry)
        elif entry.name not in (CITIES_FILE, MANIFEST_FILE):
            report.skipped.append((str(entry), "not inside a city folder" if entry.exists() else "broken link"))
    if not folders:
        raise GeoSpottrError(f"{root}: no city folders inside (expected root/<city>/*.jpg)")
    items: list[_Item] = []
    for folder in folders:
        slug = resolve(folder.name)
        for path in _files_below(folder, root, report):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                reject(path, "not an image file extension")
                continue
            meta = manifest.get(path.relative_to(root).as_posix(), {})
            items.append(_Item(path, slug, meta))
    return items


def _entries(folder: Path, report: ImportReport) -> list[Path]:
    """The entries of `folder`, sorted, hidden ones (``.jpg``, ``.hidden.jpg``, ``.git/``) left out and
    reported as skipped; an unreadable folder is reported as skipped and has none."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        report.skipped.append((str(folder), f"folder cannot be read ({exc.strerror or exc})"))
        return []
    out = []
    for name in names:
        if name.startswith("."):
            report.skipped.append((str(folder / name), "hidden (name starts with a dot)"))
        else:
            out.append(folder / name)
    return out


def _loops_back(folder: Path, root: Path, report: ImportReport) -> bool:
    """Whether symlinked `folder` leads to the import `root` or a folder above it (walking it would import
    every other city's photos again under this name, or the whole disk); reported as skipped."""
    if not folder.is_symlink():
        return False
    target, top = folder.resolve(), root.resolve()
    if target == top or target in top.parents:
        report.skipped.append((str(folder), "symlink loop (leads back to the imported folder)"))
        return True
    return False


def _files_below(top: Path, root: Path, report: ImportReport) -> Iterator[Path]:
    """Every non-hidden file below `top`, in sorted order, following symlinked folders that stay readable.

    A folder reached twice (a symlink loop, or two links to one folder) is entered once, the second one
    reported as skipped, and a link back to `root` or above is never followed (`_loops_back`). Not only
    regular files are yielded: a FIFO, a device link or a broken link named .jpg is refused by
    `read_image_file` (which never blocks on one) and so reported, not silently lost.
    """
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
        except OSError as exc:
            report.skipped.append((str(folder), f"folder cannot be read ({exc.strerror or exc})"))
            continue
        if (info.st_dev, info.st_ino) in seen:
            report.skipped.append((str(folder), "symlink loop (folder already imported)"))
            continue
        seen.add((info.st_dev, info.st_ino))
        subfolders = []
        for path in _entries(folder, report):
            if not path.is_dir():
                yield path
            elif not _loops_back(path, root, report):
                subfolders.append(path)
        stack.extend(reversed(subfolders))


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
    records = parse_json(_read_text(path), str(path))
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise GeoSpottrError(f"{path}: expected a JSON list of city objects")
    for record in records:
        try:
            catalog.validate_slug(record.get("slug"))
        except GeoSpottrError as exc:
            raise GeoSpottrError(f"{path}: {exc}") from None
    return records


def _read_manifest(path: Path, trust_status: bool) -> dict[str, dict[str, Any]]:
    """Per-file metadata written by our export (coordinates, location id, split...), keyed by relative path.
    A row with bad values is dropped (its file still imports, without that metadata)."""
    if not path.exists():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for _, row in _csv_rows(path)[1]:
        try:
            out[row.get("path") or ""] = _meta_from_row(row, trust_status)
        except GeoSpottrError:
            continue
    return out


#: Decimal columns other than the coordinates (which `checked_point` checks as a pair), with their range.
_RANGES = {"heading": (-360.0, 360.0), "pitch": (-90.0, 90.0), "fov": (0.0, 360.0)}
#: Columns only a trusted table may set (`trust_status`), with the values they may take.
_TRUSTED = {"status": ("pending", "accepted", "rejected"), "split": ("train", "val", "test")}


def _meta_from_row(row: dict[str, str], trust_status: bool) -> dict[str, Any]:
    """A table row's image metadata. Numbers must be plain decimals (`parse_decimal`: no ``nan``, ``inf``
    or ``4_5.8``) within range, coordinates a place on Earth; ``status``/``split`` only when trusted."""
    meta: dict[str, Any] = {}
    for key in IMAGE_META_FIELDS:
        value = (row.get(key) or "").strip()
        if not value:
            continue
        if key in ("lat", "lon") or key in _RANGES:
            number = parse_decimal(value, f"column {key!r}")
            low, high = _RANGES.get(key, (-math.inf, math.inf))
            if not low <= number <= high:
                raise GeoSpottrError(f"column {key!r} is {value[:40]!r}, outside {low:g}..{high:g}")
            meta[key] = number
        elif key in _TRUSTED:
            if trust_status and value in _TRUSTED[key]:
                meta[key] = value
        else:
            meta[key] = _unguard(value)
    if "lat" in meta or "lon" in meta:
        if "lat" not in meta or "lon" not in meta:
            raise GeoSpottrError("columns 'lat' and 'lon' must both be given (or neither)")
        meta["lat"], meta["lon"] = checked_point(meta["lat"], meta["lon"])
    if "source" in row and row["source"]:
        meta["source"] = _unguard(row["source"])
    return meta


def _unguard(value: str) -> str:
    """Undo the quote our export puts before a cell that a spreadsheet would read as a formula."""
    return value[1:] if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r" else value


def _csv_items(project: Project, csv_path: Path, max_km: float | None, add_cities: bool, trust_status: bool,
               report: ImportReport, reject: _Rejects) -> list[_Item]:
    resolve = _city_resolver(project, add_cities, report)
    items: list[_Item] = []
    # The rows come from a bounded read: a FIFO named .csv or a huge file must not hang or exhaust us.
    columns, rows = _csv_rows(csv_path)
    if "path" not in columns or not ({"city"} <= columns or {"lat", "lon"} <= columns):
        raise GeoSpottrError(f"{csv_path}: needs a 'path' column and either 'city' or 'lat','lon' columns "
                             f"(found: {', '.join(sorted(columns)) or 'none'})")
    cities = project.cities()
    located: list[tuple[float, float, float]] = []  # (lat, lon, km to the nearest city) of the photos kept
    for line, row in rows:
        if not row.get("path"):
            reject(f"{csv_path}:{line}", "empty path")
            continue
        path = Path(os.path.expanduser(row["path"]) if row["path"].startswith("~") else row["path"])
        if not path.is_absolute():
            path = csv_path.parent / path
        try:
            meta = _meta_from_row(row, trust_status)
        except GeoSpottrError as exc:
            reject(f"{csv_path}:{line}", str(exc))
            continue
        labelled = bool(row.get("city"))  # else labelled by its nearest city
        if not labelled and "lat" not in meta:
            reject(f"{csv_path}:{line}", "missing lat/lon")
            continue
        if not labelled and not cities:
            raise GeoSpottrError("labelling by coordinates needs cities in the project; add some first")
        if "lat" in meta and cities:
            nearest, km = geo.nearest(meta["lat"], meta["lon"], cities)
            if max_km is not None and km > max_km:  # labelled or not, it lies far from every city
                reject(path, f"nearest city {nearest.name} is {km:.0f} km away (> --max-km {max_km:g})")
                continue
            located.append((meta["lat"], meta["lon"], km))
        items.append(_Item(path, resolve(row["city"]) if labelled else nearest.slug, meta))
    report.far = far_photos(located)
    return items
