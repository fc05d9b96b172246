"""Where to look for imagery: points sampled in a city's area, deterministic for a seed, never repeated.

Two samplers, both infinite-or-exhaustible iterators of ``(lat, lon)``:

* `uniform_points`: uniform in the city's disc (``radius_km``) or bbox, from a seeded RNG.
* `weighted_points`: the same inside some sub-areas of a city (a download plan's, `core.evaluation.advisor`), each
  drawn by its weight, keeping only points of the city's `Region`.
* `AddressBook`: points read from OpenAddresses-style files (GeoJSON FeatureCollection, GeoJSON-seq /
  newline-delimited GeoJSON, or CSV with lon/lat columns; ``.gz`` too), streamed once so multi-gigabyte
  files never sit in memory: only the points inside some city's area are kept (two floats each), then
  visited in a seeded random order.

"Never the same point twice" is `PointSource`'s job: it skips points already handed out in this run
and points the project recorded as tried in earlier runs (keys are coordinates rounded to 1e-6 degree,
about 10 cm), so a resumed run walks the same seeded sequence and continues where the last one stopped.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import random
import re
import threading
import zlib
from array import array
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TextIO

import numpy as np

from .. import geo
from ..data import catalog
from ..data.project import City
from ..errors import GeoSpottrError
from ..fsutil import open_regular
from ..typed import DamagedFile, parse_json
from ..values import BadValue, is_point, parse_decimal

Point = tuple[float, float]  # (lat, lon)
PointKey = tuple[int, int]


def point_key(lat: float, lon: float) -> PointKey:
    """A point's identity for "tried before?" (1e-6 degree grid)."""
    return round(lat * 1e6), round(lon * 1e6)


def seeded(seed: int, *parts: str) -> int:
    """A 64-bit seed for one sub-stream (city, provider) that does not depend on PYTHONHASHSEED."""
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True)
class Area:
    """A city's sampling area: a disc around its centre or a bbox ``(min_lon, min_lat, max_lon, max_lat)``."""

    lat: float
    lon: float
    radius_km: float | None = None
    bbox: tuple[float, float, float, float] | None = None

    @classmethod
    def of(cls, city: City) -> "Area":
        if city.bbox_problem:  # a damaged stored bbox: say so rather than sample the wrong area
            raise GeoSpottrError(city.bbox_problem)
        if city.bbox:
            return cls(city.lat, city.lon, bbox=tuple(city.bbox))  # type: ignore[arg-type]
        radius = city.radius_km if city.radius_km else catalog.default_radius_km(city.population)
        return cls(city.lat, city.lon, radius_km=radius)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """An enclosing ``(min_lon, min_lat, max_lon, max_lat)`` (a cheap pre-filter)."""
        if self.bbox:
            return self.bbox
        dlat = math.degrees(self.radius_km / geo.EARTH_RADIUS_KM)
        dlon = dlat / max(0.01, math.cos(math.radians(self.lat)))
        return self.lon - dlon, self.lat - dlat, self.lon + dlon, self.lat + dlat

    def contains(self, lat: float, lon: float) -> bool:
        min_lon, min_lat, max_lon, max_lat = self.bounds
        if not (min_lat <= lat <= max_lat and min_lon <= lon <= max_lon):
            return False
        return self.bbox is not None or geo.haversine_km(self.lat, self.lon, lat, lon) <= self.radius_km

    def random_point(self, rng: random.Random) -> Point:
        if self.bbox:
            return geo.random_point_in_bbox(self.bbox, rng)
        return geo.random_point_in_radius(self.lat, self.lon, self.radius_km, rng)


class Region:
    """A city's region: its sampling area, plus every point nearer to it than to any other city of the
    project, the rule `import` labels photos by coordinates with. A project of such photos has them all over
    the region, so that is where a download plan (`core.evaluation.advisor`) may look for the next ones."""

    def __init__(self, city: City, cities: Sequence[City]) -> None:
        self.city, self.area = city, Area.of(city)
        self.others = [c for c in cities if c.slug != city.slug]

    def contains(self, lat: float, lon: float) -> bool:
        if self.area.contains(lat, lon):
            return True
        own = geo.haversine_km(lat, lon, self.city.lat, self.city.lon)
        return all(own <= geo.haversine_km(lat, lon, c.lat, c.lon) for c in self.others)


def uniform_points(area: Area, seed: int) -> Iterator[Point]:
    """Endless uniform points in `area`; the same seed gives the same sequence."""
    rng = random.Random(seed)
    while True:
        yield area.random_point(rng)


def weighted_points(areas: Sequence[tuple[Area, float]], within: Area | Region, seed: int,
                    max_misses: int = 10_000) -> Iterator[Point]:
    """Endless points: a sub-area drawn by weight, then a uniform point in it, kept when `within` (the
    city's area or region) contains it. Ends when `max_misses` draws in a row fall outside (sub-areas
    outside the city)."""
    rng = random.Random(seed)
    choices, weights = [a for a, _ in areas], [max(w, 0.0) for _, w in areas]
    if not choices or sum(weights) <= 0:
        return
    misses = 0
    while misses < max_misses:
        lat, lon = rng.choices(choices, weights)[0].random_point(rng)
        if within.contains(lat, lon):
            misses = 0
            yield lat, lon
        else:
            misses += 1


def tile_around(lat: float, lon: float, size_m: float) -> tuple[float, float, float, float]:
    """A square bbox ``(min_lon, min_lat, max_lon, max_lat)`` of side `size_m` centred on a point."""
    half_lat = math.degrees(size_m / 2000.0 / geo.EARTH_RADIUS_KM)
    half_lon = half_lat / max(0.01, math.cos(math.radians(lat)))
    return lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat


# ---------------------------------------------------------------------------------------------- address books
class AddressBook:
    """The points of an address file that fall inside the given areas, kept compactly per area key."""

    def __init__(self, path: Path | str, areas: Mapping[str, Area]) -> None:
        self.path = Path(path).expanduser()
        self._coords: dict[str, array] = {key: array("d") for key in areas}
        self.read = 0
        for lat, lon in read_points(self.path):
            self.read += 1
            for key, area in areas.items():
                if area.contains(lat, lon):
                    self._coords[key].extend((lat, lon))

    def count(self, key: str) -> int:
        return len(self._coords.get(key, ())) // 2

    def points(self, key: str, seed: int) -> Iterator[Point]:
        """The area's addresses in a seeded random order (each once); ends when they are used up."""
        coords = self._coords.get(key, array("d"))
        order = np.random.default_rng(seed).permutation(len(coords) // 2)
        for i in order:
            yield coords[2 * i], coords[2 * i + 1]


#: The longest line (CSV, GeoJSON-seq) or single feature of an address file: an address is a few hundred
#: bytes; a 1 GiB feature or a 3 GiB line (a gzip bomb) is refused once this much of it was read.
MAX_RECORD_CHARS = 8 * 1024 * 1024
_CHUNK_CHARS = 1 << 20


@contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    """The address file as text: opened like every user file (`fsutil.open_regular`: a FIFO or a device is
    refused, not waited on; no total cap, a real address book may be gigabytes), gunzipped when ``.gz``,
    undecodable bytes replaced (a street name's bad byte does not matter for its coordinates). A damaged
    gzip stream or a read error is one `GeoSpottrError` line naming the file."""
    if not path.exists() and not path.is_symlink():
        raise GeoSpottrError(f"{path}: no such address file")
    with open_regular(path, None, "address file") as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if path.suffix.lower() == ".gz" else raw
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        try:
            yield text
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError; EOFError: a truncated gzip
            raise GeoSpottrError(f"{path}: damaged or truncated file ({exc})") from None
        except csv.Error as exc:
            raise GeoSpottrError(f"{path}: not a readable CSV ({exc})") from None
        finally:
            text.detach()


def read_points(path: Path) -> Iterator[Point]:
    """Stream ``(lat, lon)`` from a GeoJSON, GeoJSON-seq or CSV address file (format told by content).

    Bounded: a line or a feature longer than `MAX_RECORD_CHARS` ends the read with one line, whatever the
    file (or a gzip bomb inside it) holds after it."""
    name = path.name.lower().removesuffix(".gz")
    with _open_text(path) as fh:
        if name.endswith((".csv", ".tsv", ".txt")):
            yield from _csv_points(_Prefixed("", fh, path), path, "\t" if name.endswith(".tsv") else ",")
            return
        head = fh.read(4096)
        stripped = head.lstrip("\ufeff \t\r\n\x1e")
        if not stripped.startswith("{"):
            raise GeoSpottrError(f"{path}: not GeoJSON (expected '{{'); CSV address files need a .csv name")
        rest = _Prefixed(head, fh, path)
        first_line = head.split("\n", 1)[0].strip().lstrip("\x1e")
        features = _geojson_seq(rest, path) if _is_feature(first_line) else _feature_collection(rest, path)
        for feature in features:
            point = _feature_point(feature)
            if point is not None:
                yield point


def _is_feature(line: str) -> bool:
    try:
        obj = parse_json(line, "first line")
    except DamagedFile:
        return False
    return isinstance(obj, dict) and obj.get("type") == "Feature"


class _Prefixed:
    """A text stream with already-read text put back in front (format sniffing without seeking gzip),
    read in bounded pieces: no line longer than `MAX_RECORD_CHARS` is ever held."""

    def __init__(self, head: str, fh: TextIO, path: Path) -> None:
        self.head, self.fh, self.path = head, fh, path
        self.line_no = 0

    def read(self, n: int) -> str:
        if self.head:
            out, self.head = self.head[:n], self.head[n:]
            return out
        return self.fh.read(n)

    def readline(self) -> str:
        """The next line (with its newline), refused once it passes `MAX_RECORD_CHARS`."""
        self.line_no += 1
        if self.head:
            cut = self.head.find("\n")
            if cut >= 0:
                out, self.head = self.head[:cut + 1], self.head[cut + 1:]
                return out
            out, self.head = self.head, ""
        else:
            out = ""
        out += self.fh.readline(MAX_RECORD_CHARS + 1 - len(out))
        if len(out) > MAX_RECORD_CHARS:
            raise GeoSpottrError(f"{self.path}:{self.line_no}: a line longer than {MAX_RECORD_CHARS // 2**20} MiB: "
                                 "not an address file (refused)")
        return out

    def __iter__(self) -> Iterator[str]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


def _geojson_seq(fh: _Prefixed, path: Path) -> Iterator[Any]:
    for line in fh:
        line = line.strip().lstrip("\x1e")  # RFC 8142 record separators
        if not line:
            continue
        try:
            yield parse_json(line, str(path))
        except DamagedFile:
            raise GeoSpottrError(f"{path}:{fh.line_no}: not a JSON feature") from None


_FEATURES = re.compile(r'"features"\s*:\s*\[')


def _feature_collection(fh: _Prefixed, path: Path, chunk: int = _CHUNK_CHARS) -> Iterator[Any]:
    """The members of a FeatureCollection's ``features`` array, decoded one at a time from a stream; a
    feature (or the text before the array) longer than `MAX_RECORD_CHARS` is refused, not buffered on."""
    decoder = json.JSONDecoder()
    buf, eof, preamble = "", False, 0

    def more() -> None:
        nonlocal buf, eof
        data = fh.read(chunk)
        eof = not data
        buf += data

    while (match := _FEATURES.search(buf)) is None:
        if eof:
            raise GeoSpottrError(f"{path}: no \"features\" array (expected a GeoJSON FeatureCollection)")
        preamble += len(buf) - 64
        if preamble > MAX_RECORD_CHARS:
            raise GeoSpottrError(f"{path}: no \"features\" array in its first {MAX_RECORD_CHARS // 2**20} MiB: "
                                 "not an address file (refused)")
        buf = buf[-64:]
        more()
    buf, pos = buf[match.end():], 0
    while True:
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n,":
                pos += 1
            if pos < len(buf) or eof:
                break
            buf, pos = buf[pos:], 0
            more()
        if pos >= len(buf):
            raise GeoSpottrError(f"{path}: file ends inside the features array (truncated?)")
        if buf[pos] == "]":
            return
        try:
            obj, end = decoder.raw_decode(buf, pos)
        except RecursionError:
            raise GeoSpottrError(f"{path}: a feature nested too deeply (refused)") from None
        except ValueError:
            if eof:
                raise GeoSpottrError(f"{path}: invalid or truncated feature near character {pos}") from None
            if len(buf) - pos > MAX_RECORD_CHARS:
                raise GeoSpottrError(f"{path}: a feature longer than {MAX_RECORD_CHARS // 2**20} MiB: not an "
                                     "address file (refused)") from None
            buf, pos = buf[pos:], 0
            more()
            continue
        yield obj
        pos = end
        if pos > chunk:
            buf, pos = buf[pos:], 0


def _feature_point(feature: Any) -> Point | None:
    try:
        geometry = feature["geometry"]
        if geometry["type"] != "Point":
            return None
        lon, lat = float(geometry["coordinates"][0]), float(geometry["coordinates"][1])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return (lat, lon) if is_point(lat, lon) else None


_LON_NAMES = ("lon", "longitude", "lng", "long", "x")
_LAT_NAMES = ("lat", "latitude", "y")


def _csv_points(fh: Iterable[str], path: Path, delimiter: str) -> Iterator[Point]:
    reader = csv.reader(fh, delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    lon_i = next((header.index(n) for n in _LON_NAMES if n in header), None)
    lat_i = next((header.index(n) for n in _LAT_NAMES if n in header), None)
    if lon_i is None or lat_i is None:
        raise GeoSpottrError(f"{path}: needs lon and lat columns (LON/LAT, longitude/latitude or x/y); "
                             f"found: {', '.join(header) or 'no header'}")
    for row in reader:
        try:
            lat, lon = parse_decimal(row[lat_i]), parse_decimal(row[lon_i])
        except (BadValue, IndexError):
            continue  # OpenAddresses rows without coordinates exist; they are not errors
        if is_point(lat, lon):
            yield lat, lon


# ---------------------------------------------------------------------------------------------- the source
class PointSource:
    """Thread-safe supply of fresh points for one city: skips points handed out before in this run and
    points `was_tried` reports from earlier runs. `next()` returns None once the sampler is used up."""

    def __init__(self, points: Iterable[Point], was_tried: Callable[[PointKey], bool]) -> None:
        self._points = iter(points)
        self._was_tried = was_tried
        self._seen: set[PointKey] = set()
        self._lock = threading.Lock()
        self.handed_out = 0
        self.skipped = 0

    def next(self) -> Point | None:
        with self._lock:
            for lat, lon in self._points:
                key = point_key(lat, lon)
                if key in self._seen or self._was_tried(key):
                    self.skipped += 1
                    continue
                self._seen.add(key)
                self.handed_out += 1
                return lat, lon
            return None
