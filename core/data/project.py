"""A GeoSpottr project: a folder holding ``geospottr.db`` (SQLite, WAL), ``images/``, ``runs/``, ``cache/``.

The database is the truth about labels and splits; ``images/<city-slug>/<id>.jpg`` is where a file was put
when it arrived (relabelling changes the database, not the path). Image files are written atomically
before their row is committed, so a kill leaves no half file and no row without its file; a killed
writer's temp files are swept on the next open (only those of dead writers: any number of processes may
read and write one project at once), and a re-run overwrites any file whose row never landed.
`core.quality.doctor` finds and repairs what a kill can still leave (orphan files, rows without files).
Every path built from user data (city slugs, image ids) is checked to stay inside the project.
API keys are never stored here.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shlex
import sqlite3
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import platformdirs

from ..errors import GeoSpottrError
from ..fsutil import atomic_write_bytes, kill_point, make_durable, safe_child, sweep_partials, write_failed
from ..names import city_label, did_you_mean
from ..typed import parse_json, short
from ..values import checked_point
from . import catalog
from .schema import MIGRATIONS, SCHEMA_VERSION

DB_NAME = "geospottr.db"
STATUSES = ("pending", "accepted", "rejected")
SPLITS = ("train", "val", "test")


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_project_dir() -> Path:
    """``$GEOSPOTTR_PROJECT``, else ``<platform data dir>/GeoSpottr/default``."""
    env = os.environ.get("GEOSPOTTR_PROJECT")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("GeoSpottr", appauthor=False)) / "default"


@dataclass(frozen=True)
class City:
    id: int
    slug: str
    name: str
    country: str
    lat: float
    lon: float
    radius_km: float | None
    bbox: tuple[float, float, float, float] | None
    target_count: int
    population: int | None
    geonameid: int | None
    added_at: str
    #: Why the stored bbox could not be used (damaged in the database), else None; `bbox` is then None.
    bbox_problem: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "City":
        data = dict(row)
        data["bbox"], data["bbox_problem"] = _read_bbox(data["bbox"], data["slug"])
        return cls(**data)

    @property
    def label(self) -> str:
        """How a city is shown to a user, everywhere: "Osijek, HR" (`core.names.city_label`)."""
        return city_label(self.name, self.country)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ImageRecord:
    id: str
    path: str
    city_id: int | None
    lat: float | None
    lon: float | None
    source: str
    source_id: str | None
    location_id: str | None
    heading: float | None
    pitch: float | None
    fov: float | None
    captured_at: str | None
    sha256: str
    width: int
    height: int
    status: str
    reason: str | None
    split: str | None
    licence: str | None
    attribution: str | None
    added_at: str
    city_slug: str | None = None  # joined from cities for convenience

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "ImageRecord":
        return cls(**dict(row))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Columns of `images` a caller may set when adding an image (the rest are derived).
@dataclass(frozen=True)
class NewImage:
    """A validated photo to add (`Project.add_images`): its JPEG bytes and what `core.imaging` measured,
    its city slug (None: unlabelled), where it came from and any other images column (`IMAGE_META_FIELDS`)."""
    data: bytes
    sha256: str
    width: int
    height: int
    city: str | None
    source: str
    meta: Mapping[str, Any]


IMAGE_META_FIELDS = (
    "lat", "lon", "source_id", "location_id", "heading", "pitch", "fov", "captured_at",
    "status", "reason", "split", "licence", "attribution",
)

#: Named sort orders for `Project.image_ids` (callers pick a name; only these reach SQL).
IMAGE_ORDERS: dict[str, str] = {
    "added": "images.added_at, images.id",
    "newest": "images.added_at DESC, images.id DESC",
    "city": "cities.slug, images.added_at, images.id",
    "status": "images.status, images.added_at, images.id",
    "split": "images.split, images.added_at, images.id",
    "source": "images.source, images.added_at, images.id",
    # The model's guesses (`store_predictions`): least sure first, the images it has not seen last.
    "confidence": "predictions.confidence IS NULL, predictions.confidence, images.added_at, images.id",
}
#: `image_ids(model=...)` filters: what the model said of each image, against its label.
MODEL_FILTERS = ("right", "wrong", "unpredicted")
#: Ids per `IN (...)` query: below SQLite's oldest host-parameter limit (999).
_ID_CHUNK = 900

_OPEN_PROJECTS: "weakref.WeakSet[Project]" = weakref.WeakSet()

def _read_bbox(stored: Any, slug: str) -> tuple[tuple[float, float, float, float] | None, str | None]:
    """(bbox, None) from a city's stored bbox, or (None, why) when the stored value is damaged: the city
    still opens (lists, maps, relabelling work); what needs its area (a download) says why, in one line."""
    if not stored:
        return None, None
    try:
        value = parse_json(stored if isinstance(stored, (str, bytes)) else str(stored), "bbox")
        box = tuple(float(v) for v in value) if isinstance(value, list) and len(value) == 4 \
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) else None
        if box is None or not all(math.isfinite(v) for v in box) or not (
                -180 <= box[0] < box[2] <= 180 and -90 <= box[1] < box[3] <= 90):
            raise GeoSpottrError(f"not four numbers min_lon, min_lat, max_lon, max_lat: {short(value)}")
    except (GeoSpottrError, OverflowError) as exc:
        return None, (f"{DB_NAME}: city {slug!r} has a damaged bbox ({exc}); set its area again with "
                      f"`geospottr cities {slug} --radius-km KM`")
    return box, None  # type: ignore[return-value]


#: Images with their city (the slug of `city_id`), for every read of the images table.
_IMAGES_WITH_CITY = "FROM images LEFT JOIN cities ON cities.id = images.city_id"
_IMAGE_SELECT = f"SELECT images.*, cities.slug AS city_slug {_IMAGES_WITH_CITY}"


class DatabaseLocked(GeoSpottrError):
    """Another process holds the project database's write lock (longer than the wait): not damage."""


class ReadOnlyProject(GeoSpottrError):
    """A change asked of a project opened read-only, or whose database the system will not let us write."""


def database_error(exc: sqlite3.Error, db: Path) -> GeoSpottrError:
    """The one-line error for an SQLite failure on the project database, by what it means: a lock held by
    another writer, a read-only or full disk are no damage (and say what to do); only the rest is."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return DatabaseLocked(f"{db} is locked by another process (an import, download or training writing to "
                              f"it?); try again when it has finished")
    if name.startswith("SQLITE_READONLY") or "readonly" in text or (
            name.startswith("SQLITE_CANTOPEN") and not os.access(db.parent, os.W_OK)):  # a read-only disk
        return ReadOnlyProject(f"{db} is read-only, and this command changes the project; the commands that "
                               f"only read (stats, runs, cities) still work")
    if name == "SQLITE_FULL" or "disk is full" in text:
        return write_failed(OSError(errno.ENOSPC, "disk full"), db)
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in text:
        return write_failed(OSError(errno.EIO, f"a disk error ({exc})"), db)
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return GeoSpottrError(f"{db}: cannot open the project database ({exc}); check the folder's permissions")
    return GeoSpottrError(f"{db} is damaged or not a GeoSpottr database ({exc}). Restore it from a backup, or "
                          f"move it away to start a new project in this folder")


def release_thread_connections() -> None:
    """Close the calling thread's connections to every project: a short-lived worker thread (one per GUI
    job) calls this as it ends, so connections do not pile up for the life of the project."""
    for project in list(_OPEN_PROJECTS):
        project.release_connection()


class Project:
    """Open with `Project.open(dir)` or create with `Project.init(dir)`; use as a context manager.

    Safe to share between threads: each thread gets its own SQLite connection (WAL lets readers run
    beside the one writer).
    """

    #: Seconds a statement waits for another process's lock before `DatabaseLocked`.
    LOCK_WAIT_S = 30.0

    def __init__(self, root: Path, readonly: bool = False) -> None:
        self.root = Path(root).resolve()
        self.db_path = self.root / DB_NAME
        #: Opened read-only (`open(readonly=True)`): SQLite's ``mode=ro``, and every write refused.
        self.readonly = readonly
        self._local = threading.local()
        #: Every open connection and the thread it belongs to (each thread gets its own: `conn`).
        self._connections: dict[sqlite3.Connection, threading.Thread] = {}
        self._lock = threading.Lock()
        _OPEN_PROJECTS.add(self)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def init(cls, root: Path | str, cities: Iterable[catalog.CatalogCity] = (), target_count: int = catalog.DEFAULT_TARGET,
             *, must_be_new: bool = False) -> "Project":
        """Create a project folder (or open an existing one) and add `cities` to it.

        `must_be_new` (``geospottr init``) refuses an existing project, whose cities a repeated init would
        silently extend (maybe while it trains), and a non-empty folder that is not a project, which the
        project's folders and database would be mixed into."""
        root = Path(root).expanduser()
        if root.exists() and not root.is_dir():
            raise GeoSpottrError(f"{root} exists and is not a folder")
        if must_be_new and (root / DB_NAME).exists():
            raise GeoSpottrError(f"{root} is already a project: change its cities with "
                                 f"`geospottr --project {shlex.quote(str(root))} cities --add NAME` (or --remove)")
        if must_be_new and root.is_dir() and any(root.iterdir()):
            raise GeoSpottrError(f"{root} is not empty and not a project: choose a new or empty folder")
        root.mkdir(parents=True, exist_ok=True)
        project = cls.open(root, create=True)
        for city in cities:
            project.add_city(city, target_count=target_count)
        return project

    @classmethod
    def open(cls, root: Path | str, create: bool = False, readonly: bool = False) -> "Project":
        """Open the project at `root`, upgrading its schema; with `create`, make it if missing.

        `readonly` (commands that only read: stats, runs, cities): the database is opened with SQLite's
        ``mode=ro`` and nothing is created, upgraded or swept, so a project on a read-only disk, or one
        another process is writing to, can still be looked at. A project that does not exist yet is
        created as usual when `create` allows."""
        root = Path(root).expanduser()
        db = root / DB_NAME
        if readonly and db.is_file() and db.stat().st_size:
            return cls._open_readonly(root)
        if not db.exists():
            if not create:
                raise GeoSpottrError(f"no GeoSpottr project at {root} (create one with `geospottr init {root}`)")
            root.mkdir(parents=True, exist_ok=True)
        elif not db.is_file():
            raise GeoSpottrError(f"{db} is not a regular file; move it away (it is not a project database)")
        elif db.stat().st_size == 0:
            raise GeoSpottrError(
                f"{db} is empty (0 bytes): the project database was truncated, so its labels are gone from it. "
                f"Restore it from a backup; to start over instead, move it away (the images/ folder stays)")
        project = cls(root)
        try:
            for sub in ("images", "runs", "cache"):
                (project.root / sub).mkdir(exist_ok=True)
            project._migrate()
        except sqlite3.DatabaseError as exc:
            project.close()
            raise database_error(exc, db) from None
        except OSError as exc:  # images/, runs/ or cache/ cannot be made (a read-only disk)
            project.close()
            raise write_failed(exc, exc.filename or root) from None
        except BaseException:
            project.close()
            raise
        sweep_partials(project.images_dir)
        return project

    @classmethod
    def _open_readonly(cls, root: Path) -> "Project":
        project = cls(root, readonly=True)
        try:
            project._check_version(project.schema_version)
        except sqlite3.DatabaseError as exc:
            project.close()
            raise database_error(exc, project.db_path) from None
        except BaseException:
            project.close()
            raise
        return project

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def runs_dir(self) -> Path:
        """``runs/``, refused (`GeoSpottrError`) when it is a symlink leading out of the project: every
        run folder, checkpoint and report is written below it (`fsutil.safe_child`)."""
        return safe_child(self.root, "runs")

    @property
    def cache_dir(self) -> Path:
        """``cache/``, refused like `runs_dir` when it leads out of the project."""
        return safe_child(self.root, "cache")

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect_readonly() if self.readonly else sqlite3.connect(
                self.db_path, timeout=self.LOCK_WAIT_S, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            if not self.readonly:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._connections[conn] = threading.current_thread()
        return conn

    def release_connection(self) -> None:
        """Close the calling thread's connection (a worker thread about to end; see `release_thread_connections`)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._lock:
                self._connections.pop(conn, None)
            conn.close()

    def close(self) -> None:
        """Close the connections of this thread and of threads that have ended. A connection of a thread
        still running (a GUI job finishing a read) is left to it: closing a connection while another
        thread executes on it crashes the process inside SQLite. Such a connection closes when its thread
        releases it (`release_thread_connections`) or ends, which drops it with the thread's locals."""
        me = threading.current_thread()
        with self._lock:
            for conn, owner in self._connections.items():
                if owner is me or not owner.is_alive():
                    try:
                        conn.close()
                    except sqlite3.ProgrammingError:
                        pass
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect_readonly(self) -> sqlite3.Connection:
        """A ``mode=ro`` connection. A WAL database on a read-only disk cannot be read that way when its
        ``-shm`` file is missing (a cleanly closed project has none); then, and only when no ``-wal``
        holds uncommitted-to-the-file pages, it is opened ``immutable`` (exact: no one can be writing it)."""
        uri = self.db_path.as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=self.LOCK_WAIT_S, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA user_version").fetchone()
            return conn
        except sqlite3.OperationalError as exc:  # only "cannot open" (no -shm) falls back; "locked" is raised
            wal = Path(f"{self.db_path}-wal")
            if "unable to open" not in str(exc) or wal.exists() and wal.stat().st_size:
                conn.close()
                raise
            conn.close()
        return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=self.LOCK_WAIT_S, isolation_level=None,
                               check_same_thread=False)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on any exception). SQLite's own
        failures (locked, read-only, disk full) become one-line errors (`database_error`); nothing of the
        transaction stays."""
        if self.readonly:
            raise ReadOnlyProject(f"{self.root} was opened read-only; this needs a project it may change")
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise database_error(exc, self.db_path) from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk does)
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise database_error(exc, self.db_path) from None
            raise

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise GeoSpottrError(
                f"{self.db_path} was made by a newer GeoSpottr (schema {version}, this one knows up to "
                f"{SCHEMA_VERSION}); upgrade GeoSpottr to open it")
        if version < 0:
            raise GeoSpottrError(f"{self.db_path} has an impossible schema version ({version}): it is damaged; "
                                 f"restore it from a backup")

    def _migrate(self) -> None:
        """Upgrade the schema one migration per transaction. The version is read again inside each
        transaction, so two processes opening a new project at once never run a migration twice. An
        up-to-date project takes no write lock: opening it never waits for (or fails on) another writer."""
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        self._check_version(version)
        if version >= SCHEMA_VERSION:
            return
        while True:
            with self.transaction() as c:
                version = c.execute("PRAGMA user_version").fetchone()[0]
                self._check_version(version)
                if version >= SCHEMA_VERSION:
                    return
                for statement in _statements(MIGRATIONS[version]):
                    c.execute(statement)
                c.execute(f"PRAGMA user_version = {version + 1}")

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    # ------------------------------------------------------------------ settings
    def get_setting(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under `key` (`default` when none); a damaged value is one `GeoSpottrError`
        naming the database and the key (`core.typed`), never a raw JSONDecodeError."""
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        return parse_json(row[0] if isinstance(row[0], (str, bytes)) else str(row[0]),
                          f"{self.db_path}: setting {key!r}")

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO settings(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, json.dumps(value)))

    # ------------------------------------------------------------------ cities
    def add_city(self, city: catalog.CatalogCity, target_count: int = catalog.DEFAULT_TARGET,
                 radius_km: float | None = None, bbox: Sequence[float] | None = None,
                 slug: str | None = None) -> City:
        """Add a catalog city (idempotent: an existing city with the same slug is returned unchanged).

        Two different cities that fold to one slug ("San Jose" CR and US) get the country appended.
        """
        slug = catalog.validate_slug(slug or city.slug)
        _check_city_values(city.lat, city.lon, target_count, radius_km, bbox)
        existing = self.find_city(slug)
        if existing is not None:
            if existing.geonameid in (None, city.geonameid) or existing.name == city.name and existing.country == city.country:
                return existing
            slug = catalog.slugify(f"{city.name}{city.country}")
            existing = self.find_city(slug)
            if existing is not None:
                return existing
        radius = radius_km if radius_km is not None else (None if bbox else catalog.default_radius_km(city.population))
        with self.transaction() as c:
            # OR IGNORE: another process may add the same city at the same moment (two imports); theirs wins.
            c.execute(
                "INSERT OR IGNORE INTO cities(slug, name, country, lat, lon, radius_km, bbox, target_count, population,"
                " geonameid, added_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (slug, city.name, city.country, float(city.lat), float(city.lon), radius,
                 json.dumps([float(v) for v in bbox]) if bbox else None, int(target_count), city.population,
                 city.geonameid, utcnow()),
            )
        return self.city(slug)

    def add_city_record(self, record: Mapping[str, Any]) -> City:
        """Add a city from an exported record (``cities.json``), keeping its slug, radius and target.

        The record comes from a file anyone could have written: every field is type- and range-checked
        (`GeoSpottrError` names the bad one) and the slug passes `catalog.validate_slug`.
        """
        if not isinstance(record, Mapping):
            raise GeoSpottrError("a city record must be a JSON object")
        slug = catalog.validate_slug(record.get("slug"))
        name, country = record.get("name"), record.get("country") or ""
        if not isinstance(name, str) or not name.strip() or len(name) > 200 or not isinstance(country, str) or len(country) > 100:
            raise GeoSpottrError(f"city {slug}: 'name' must be a non-empty text (and 'country' a short one)")
        lat, lon = _number(record.get("lat"), "lat", slug), _number(record.get("lon"), "lon", slug)
        target = record.get("target_count", catalog.DEFAULT_TARGET)
        if isinstance(target, bool) or not isinstance(target, int):
            raise GeoSpottrError(f"city {slug}: 'target_count' must be a whole number")
        radius = record.get("radius_km")
        radius = None if radius is None else _number(radius, "radius_km", slug)
        bbox = record.get("bbox")
        if bbox is not None:
            if not isinstance(bbox, list) or len(bbox) != 4:
                raise GeoSpottrError(f"city {slug}: 'bbox' must be [min_lon, min_lat, max_lon, max_lat]")
            bbox = [_number(v, "bbox", slug) for v in bbox]
        geonameid, population = record.get("geonameid") or 0, record.get("population") or 0
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (geonameid, population)):
            raise GeoSpottrError(f"city {slug}: 'geonameid' and 'population' must be whole numbers")
        cat = catalog.CatalogCity(geonameid=geonameid, name=name, country=country, country_name=country,
                                  lat=lat, lon=lon, population=population)
        return self.add_city(cat, target_count=target, radius_km=radius, bbox=bbox, slug=slug)

    def cities(self) -> list[City]:
        rows = self.conn.execute("SELECT * FROM cities ORDER BY slug").fetchall()
        return [City.from_row(r) for r in rows]

    def find_city(self, name_or_slug: str) -> City | None:
        """The project city named by slug, name or folded name (case and accents ignored)."""
        key = name_or_slug.strip()
        row = self.conn.execute("SELECT * FROM cities WHERE slug = ?", (key,)).fetchone()
        if row:
            return City.from_row(row)
        try:
            slug = catalog.slugify(key.split(",")[0])
        except GeoSpottrError:
            return None
        row = self.conn.execute("SELECT * FROM cities WHERE slug = ?", (slug,)).fetchone()
        if row:
            return City.from_row(row)
        for city in self.cities():
            if catalog.fold(city.name) == catalog.fold(key):
                return city
        return None

    def city(self, name_or_slug: str) -> City:
        found = self.find_city(name_or_slug)
        if found is None:
            cities = self.cities()
            known = ", ".join(c.slug for c in cities) or "none yet"
            near = did_you_mean(name_or_slug, [c.slug for c in cities])
            raise GeoSpottrError(f"city {name_or_slug!r} is not in this project{near or f' (cities: {known})'}")
        return found

    def city_by_id(self, city_id: int) -> City:
        row = self.conn.execute("SELECT * FROM cities WHERE id = ?", (city_id,)).fetchone()
        if row is None:
            raise GeoSpottrError(f"no city with id {city_id}")
        return City.from_row(row)

    def update_city(self, slug: str, *, target_count: int | None = None, radius_km: float | None = None,
                    bbox: Sequence[float] | None = None) -> City:
        city = self.city(slug)
        _check_city_values(city.lat, city.lon, target_count, radius_km, bbox)
        with self.transaction() as c:
            if target_count is not None:
                c.execute("UPDATE cities SET target_count = ? WHERE id = ?", (int(target_count), city.id))
            if radius_km is not None:
                c.execute("UPDATE cities SET radius_km = ? WHERE id = ?", (float(radius_km), city.id))
                if city.bbox_problem and bbox is None:  # a damaged bbox gives way to the radius given now
                    c.execute("UPDATE cities SET bbox = NULL WHERE id = ?", (city.id,))
            if bbox is not None:
                c.execute("UPDATE cities SET bbox = ? WHERE id = ?", (json.dumps(list(bbox)), city.id))
        return self.city(city.slug)

    def remove_city(self, slug: str, delete_images: bool = False) -> int:
        """Remove a city. Its images must go with it (`delete_images`) or the call refuses; returns count."""
        city = self.city(slug)
        records = self.images(city=city.slug)
        if records and not delete_images:
            raise GeoSpottrError(f"{city.name} has {len(records)} images; relabel them or remove them with the city")
        with self.transaction() as c:
            c.execute("DELETE FROM images WHERE city_id = ?", (city.id,))
            c.execute("DELETE FROM cities WHERE id = ?", (city.id,))
        kill_point("remove-city-files")  # crash tests: rows gone, files not yet
        for r in records:  # after the commit: a kill here leaves orphan files, which `geospottr doctor` removes
            self.image_path(r).unlink(missing_ok=True)
        return len(records)

    def city_counts(self, statuses: Sequence[str] = ("pending", "accepted")) -> dict[str, int]:
        """Images per city slug (all cities, zeros included) counting only `statuses`."""
        marks = ",".join("?" * len(statuses))
        rows = self.conn.execute(
            f"SELECT cities.slug, COUNT(images.id) FROM cities LEFT JOIN images ON images.city_id = cities.id"
            f" AND images.status IN ({marks}) GROUP BY cities.id", tuple(statuses)).fetchall()
        return {slug: n for slug, n in rows}

    # ------------------------------------------------------------------ images
    def has_sha256(self, sha256: str) -> bool:
        return self.conn.execute("SELECT 1 FROM images WHERE sha256 = ?", (sha256,)).fetchone() is not None

    def has_source(self, source: str, source_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM images WHERE source = ? AND source_id = ?",
                                 (source, source_id)).fetchone() is not None

    def add_image(self, data: bytes, *, sha256: str, width: int, height: int, city: str | None, source: str,
                  **meta: Any) -> ImageRecord | None:
        """Store JPEG `data` as a new image; returns None if the same content is already in the project.
        One photo through `add_images` (a download adds them as they arrive)."""
        return self.add_images([NewImage(data, sha256, width, height, city, source, meta)])[0]

    def add_images(self, photos: Sequence[NewImage]) -> list[ImageRecord | None]:
        """Store validated photos (see `core.imaging`) as new images, in one go; None for each one whose
        content is already in the project (or earlier in `photos`).

        The files are written first, made durable together (`make_durable`: one flush for the batch, not
        one fsync per file) and only then do their rows commit, in one transaction: a kill in between
        leaves at most orphan files, which the next add overwrites and `geospottr doctor` removes."""
        planned: list[tuple[int, Path, dict[str, Any]]] = []
        seen: set[str] = set()
        for n, photo in enumerate(photos):
            planned_row = self._planned_row(photo, seen)
            if planned_row is not None:
                planned.append((n, *planned_row))
        written: list[Path] = []
        refused: GeoSpottrError | None = None
        try:
            for n, target, _ in planned:
                atomic_write_bytes(target, photos[n].data, durable=False)
                written.append(target)
        except GeoSpottrError as exc:  # e.g. the disk filled up: keep the photos that fit, then say so
            refused = exc
        planned = planned[:len(written)]
        try:
            make_durable(written)
            inserted = self._insert_images([columns for _, _, columns in planned])
        except GeoSpottrError:  # the database refused (disk full, locked): take the files back
            for (_, target, columns) in planned:
                if not self.has_sha256(columns["sha256"]):
                    target.unlink(missing_ok=True)
            raise
        if refused is not None:
            raise refused
        out: list[ImageRecord | None] = [None] * len(photos)
        for (n, _, columns), added in zip(planned, inserted):
            out[n] = self.image(columns["id"]) if added else None
        return out

    def _planned_row(self, photo: NewImage, seen: set[str]) -> tuple[Path, dict[str, Any]] | None:
        """Where a new photo goes and its images row, or None for content the project (or this batch)
        already holds. Checks every field before anything is written."""
        meta = dict(photo.meta)
        unknown = set(meta) - set(IMAGE_META_FIELDS)
        if unknown:
            raise TypeError(f"unknown image fields: {sorted(unknown)}")
        if meta.get("lat") is not None or meta.get("lon") is not None:  # every photo's place passes one rule
            meta["lat"], meta["lon"] = checked_point(meta.get("lat"), meta.get("lon"), "photo coordinates")
        if photo.sha256 in seen or self.has_sha256(photo.sha256):
            return None
        seen.add(photo.sha256)
        city_rec = self.city(photo.city) if photo.city else None
        image_id = photo.sha256[:16]
        folder = city_rec.slug if city_rec else "_unlabelled"
        target = safe_child(self.root, "images", folder, f"{image_id}.jpg")
        columns = {"id": image_id, "path": f"images/{folder}/{image_id}.jpg",
                   "city_id": city_rec.id if city_rec else None, "source": photo.source, "sha256": photo.sha256,
                   "width": int(photo.width), "height": int(photo.height), "added_at": utcnow(),
                   "status": "pending", **meta}
        return target, columns

    def _insert_images(self, rows: list[dict[str, Any]]) -> list[bool]:
        """Insert image rows in one transaction; False for a row another process stored meanwhile."""
        added = []
        with self.transaction() as c:
            for columns in rows:
                try:
                    c.execute(f"INSERT INTO images({','.join(columns)}) VALUES({','.join('?' * len(columns))})",
                              tuple(columns.values()))
                    added.append(True)
                except sqlite3.IntegrityError:
                    if not self.has_sha256(columns["sha256"]):
                        raise
                    added.append(False)  # another worker stored it meanwhile
        return added

    def image(self, image_id: str) -> ImageRecord:
        row = self.conn.execute(f"{_IMAGE_SELECT} WHERE images.id = ?", (image_id,)).fetchone()
        if row is None:
            raise GeoSpottrError(f"no image {image_id!r} in this project")
        return ImageRecord.from_row(row)

    def images(self, *, city: str | None = None, status: str | Sequence[str] | None = None,
               split: str | Sequence[str] | None = None, source: str | None = None,
               order: str = "images.added_at, images.id") -> list[ImageRecord]:
        """Images filtered by city slug, status(es), split(s) (``"none"`` for unsplit) and source."""
        where, args = self._image_filter(city, status, split, source)
        sql = _IMAGE_SELECT + where + f" ORDER BY {order}"
        return [ImageRecord.from_row(r) for r in self.conn.execute(sql, args).fetchall()]

    def image_ids(self, *, city: str | None = None, status: str | Sequence[str] | None = None,
                  split: str | Sequence[str] | None = None, source: str | None = None,
                  order: str = "added", model: str | None = None, predicted: str | None = None) -> list[str]:
        """Ids only, filtered like `images` and sorted by a named `IMAGE_ORDERS` key.

        Why: a view over 30,000 images holds the id list and fetches records a page at a time
        (`images_by_id`), which is ~10x cheaper than building every `ImageRecord` up front.
        """
        if order not in IMAGE_ORDERS:
            raise GeoSpottrError(f"unknown image order {order!r}; choose one of {', '.join(IMAGE_ORDERS)}")
        where, args = self._image_filter(city, status, split, source)
        # What the model said (`store_predictions`): right / wrong against the label, not predicted yet, or
        # one guessed city (a confusion cell: "labelled X, the model says Y").
        guessed = {"right": "predictions.city = cities.slug", "wrong": "predictions.city != cities.slug",
                   "unpredicted": "predictions.image_id IS NULL", None: None}
        if model not in guessed:
            raise GeoSpottrError(f"unknown model filter {model!r}; choose one of {', '.join(MODEL_FILTERS)}")
        extra = [c for c in (guessed[model], "predictions.city = ?" if predicted else None) if c]
        if extra:
            where = (where + " AND " if where else " WHERE ") + " AND ".join(extra)
            args = [*args, *([predicted] if predicted else [])]
        sql = (f"SELECT images.id {_IMAGES_WITH_CITY}"
               " LEFT JOIN predictions ON predictions.image_id = images.id" + where
               + f" ORDER BY {IMAGE_ORDERS[order]}")
        return [r[0] for r in self.conn.execute(sql, args).fetchall()]

    def images_by_id(self, image_ids: Sequence[str]) -> dict[str, ImageRecord]:
        """Records of `image_ids` (unknown ids are left out), fetched in SQLite-sized chunks."""
        out: dict[str, ImageRecord] = {}
        for chunk in _chunks(image_ids):
            rows = self.conn.execute(f"{_IMAGE_SELECT} WHERE images.id IN ({','.join('?' * len(chunk))})", chunk)
            out.update((r["id"], ImageRecord.from_row(r)) for r in rows)
        return out

    def label_snapshot(self, image_ids: Sequence[str]) -> dict[str, tuple[int | None, str, str | None]]:
        """(city_id, status, reason) of each image: what an undoable edit saves to put back later."""
        out: dict[str, tuple[int | None, str, str | None]] = {}
        for chunk in _chunks(image_ids):
            rows = self.conn.execute(
                f"SELECT id, city_id, status, reason FROM images WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            out.update((r[0], (r[1], r[2], r[3])) for r in rows)
        return out

    def restore_labels(self, snapshot: Mapping[str, tuple[int | None, str, str | None]]) -> None:
        """Put back a `label_snapshot` in one transaction (all images or none)."""
        self.write_labels(snapshot)

    def write_labels(self, labels: Mapping[str, tuple[int | None, str, str | None]], *, chunk: int = 0,
                     progress: Callable[[int, int], None] | None = None) -> None:
        """Set each image's (city_id, status, reason) in one transaction: all images or none.

        Statuses are checked first. `progress(done, total)` runs after every `chunk` rows (0: all at once)
        inside the transaction, so a `Cancelled` raised there rolls every row back.
        """
        with self.transaction():
            self._write_labels(labels, chunk, progress)

    def edit_labels(self, image_ids: Sequence[str],
                    relabel: Callable[[tuple[int | None, str, str | None]], tuple[int | None, str, str | None]], *,
                    chunk: int = 0, progress: Callable[[int, int], None] | None = None,
                    ) -> dict[str, tuple[tuple[int | None, str, str | None], tuple[int | None, str, str | None]]]:
        """One transaction: read the labels of `image_ids`, write ``relabel(label)`` where it differs (as
        `write_labels` does), and return ``{image_id: (before, after)}`` of the images that changed.
        Reading inside the transaction means nobody changes a label between the read and the write."""
        with self.transaction():
            before = self.label_snapshot(image_ids)
            after = {i: relabel(label) for i, label in before.items()}
            changed = {i: (before[i], after[i]) for i in image_ids if i in before and after[i] != before[i]}
            self._write_labels({i: new for i, (_, new) in changed.items()}, chunk, progress)
        return changed

    def _write_labels(self, labels: Mapping[str, tuple[int | None, str, str | None]], chunk: int,
                      progress: Callable[[int, int], None] | None) -> None:
        bad = sorted({status for _, status, _ in labels.values() if status not in STATUSES})
        if bad:
            raise GeoSpottrError(f"status {bad[0]!r}: must be one of {', '.join(STATUSES)}")
        rows = [(city_id, status, reason, i) for i, (city_id, status, reason) in labels.items()]
        step = chunk or max(1, len(rows))
        for start in range(0, len(rows), step):
            try:
                self.conn.executemany("UPDATE images SET city_id = ?, status = ?, reason = ? WHERE id = ?",
                                      rows[start:start + step])
            except sqlite3.IntegrityError:
                raise GeoSpottrError("cannot write those labels: a city they used was removed") from None
            if progress is not None:
                progress(min(start + step, len(rows)), len(rows))

    def source_counts(self) -> dict[str, int]:
        """Images per source (``import``, ``streetview``, ``mapillary``...), for filters and summaries."""
        rows = self.conn.execute("SELECT source, COUNT(*) FROM images GROUP BY source ORDER BY source").fetchall()
        return {source: n for source, n in rows}

    def image_places(self, *, status: str | Sequence[str] | None = None) -> list[tuple[str, float | None, float | None,
                                                                                   str | None]]:
        """(id, lat, lon, city slug) of the images with `status`: what a map needs, read without building
        whole `ImageRecord`s (at 27,500 images those took 0.6 s of the Dataset map's first open)."""
        where, args = self._image_filter(None, status, None, None)
        sql = (f"SELECT images.id, images.lat, images.lon, cities.slug {_IMAGES_WITH_CITY}" + where
               + " ORDER BY images.added_at, images.id")
        return [(row[0], row[1], row[2], row[3]) for row in self.conn.execute(sql, args)]

    def _image_filter(self, city: str | None, status: str | Sequence[str] | None,
                      split: str | Sequence[str] | None, source: str | None) -> tuple[str, list[Any]]:
        """The `` WHERE ...`` clause (or "") and its arguments shared by `images` and `image_ids`."""
        where, args = [], []
        if city is not None:
            where.append("images.city_id = ?")
            args.append(self.city(city).id)
        for column, value in (("status", status), ("split", split)):
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            parts = []
            if "none" in values:
                parts.append(f"images.{column} IS NULL")
                values = [v for v in values if v != "none"]
            if values:
                parts.append(f"images.{column} IN ({','.join('?' * len(values))})")
                args.extend(values)
            where.append("(" + " OR ".join(parts) + ")")
        if source is not None:
            where.append("images.source = ?")
            args.append(source)
        return (" WHERE " + " AND ".join(where) if where else ""), args

    def image_path(self, record: ImageRecord) -> Path:
        """Where `record`'s file is; `GeoSpottrError` if its stored path would lead outside the project
        (a database edited by hand or by an attacker must not make us read or delete files elsewhere)."""
        return safe_child(self.root, *record.path.split("/"))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """The caller's open transaction if there is one (a multi-table change such as applying findings
        writes the images table here and its own table in the same transaction), else a new one."""
        if self.conn.in_transaction:
            yield self.conn
        else:
            with self.transaction() as conn:
                yield conn

    def store_predictions(self, model: str, guesses: Mapping[str, tuple[str, float]]) -> None:
        """Keep the model's latest guess ``(city slug, probability)`` for each image (one transaction),
        replacing any earlier one; an image deleted meanwhile is skipped (its rows go with it)."""
        now = utcnow()
        with self._write() as c:
            c.executemany("INSERT OR REPLACE INTO predictions(image_id, model, city, confidence, at)"
                          " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM images WHERE id = ?)",
                          [(i, model, city, float(p), now, i) for i, (city, p) in guesses.items()])

    def predictions(self) -> dict[str, tuple[str, float]]:
        """Every stored guess: image id -> (city slug, probability) (a few MB at 27,500 images)."""
        return {r[0]: (r[1], r[2]) for r in self.conn.execute("SELECT image_id, city, confidence FROM predictions")}

    def set_status(self, image_ids: Sequence[str], status: str, reason: str | None = None) -> None:
        self.set_statuses({i: (status, reason) for i in image_ids})

    def set_statuses(self, changes: Mapping[str, tuple[str, str | None]]) -> None:
        """Write each image's ``(status, reason)``; joins the caller's transaction when one is open."""
        bad = sorted({status for status, _ in changes.values() if status not in STATUSES})
        if bad:
            raise GeoSpottrError(f"status {bad[0]!r}: must be one of {', '.join(STATUSES)}")
        with self._write() as c:
            c.executemany("UPDATE images SET status = ?, reason = ? WHERE id = ?",
                          [(status, reason, i) for i, (status, reason) in changes.items()])

    def forget_images(self, image_ids: Sequence[str]) -> int:
        """Delete the rows of `image_ids` (their files stay: the caller decides about files). Joins the
        caller's transaction when one is open. Returns how many rows went."""
        with self._write() as c:
            return sum(c.execute("DELETE FROM images WHERE id = ?", (i,)).rowcount for i in image_ids)

    def set_city(self, image_ids: Sequence[str], city: str | None) -> None:
        """Relabel images (the file stays where it is; the database is the label's truth)."""
        city_id = self.city(city).id if city else None
        with self.transaction() as c:
            c.executemany("UPDATE images SET city_id = ? WHERE id = ?", [(city_id, i) for i in image_ids])

    def set_splits(self, assignments: Mapping[str, str | None]) -> None:
        for split in assignments.values():
            if split is not None and split not in SPLITS:
                raise GeoSpottrError(f"split must be one of {', '.join(SPLITS)}")
        with self.transaction() as c:
            c.executemany("UPDATE images SET split = ? WHERE id = ?", [(s, i) for i, s in assignments.items()])

    def record_import_errors(self, errors: Sequence[tuple[str, str]]) -> None:
        """Log refused files, each (source, reason) once: a re-run that refuses one again moves it to the
        end with the new time. One transaction for the batch, and the (source, reason) index keeps each
        lookup cheap: a CSV of a million missing files once took one indexless scan and one commit per row."""
        if not errors:
            return
        now = utcnow()
        with self.transaction() as c:
            c.executemany("DELETE FROM import_errors WHERE source = ? AND reason = ?", errors)
            c.executemany("INSERT INTO import_errors(source, reason, at) VALUES(?,?,?)",
                          [(source, reason, now) for source, reason in errors])

    def import_errors(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.conn.execute("SELECT source, reason, at FROM import_errors ORDER BY id")]

    # ------------------------------------------------------------------ summary
    def stats(self) -> dict[str, Any]:
        """Counts a user wants at a glance: per city by status and split, and totals."""
        rows = self.conn.execute(
            "SELECT cities.slug, images.status, images.split, COUNT(images.id) FROM cities"
            " LEFT JOIN images ON images.city_id = cities.id GROUP BY cities.id, images.status, images.split").fetchall()
        per_city: dict[str, dict[str, int]] = {c.slug: {"target": c.target_count, "total": 0, **{s: 0 for s in STATUSES},
                                                        **{s: 0 for s in SPLITS}} for c in self.cities()}
        for slug, status, split, n in rows:
            if status is None:
                continue
            entry = per_city[slug]
            entry["total"] += n
            entry[status] += n
            if split:
                entry[split] += n
        unlabelled = self.conn.execute("SELECT COUNT(*) FROM images WHERE city_id IS NULL").fetchone()[0]
        total = self.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        return {"project": str(self.root), "schema": self.schema_version, "images": total,
                "unlabelled": unlabelled, "cities": per_city}


def _number(value: Any, name: str, slug: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GeoSpottrError(f"city {slug}: {name!r} must be a finite number (got {str(value)[:40]!r})")
    return float(value)


def _check_city_values(lat: float, lon: float, target_count: int | None, radius_km: float | None,
                       bbox: Sequence[float] | None) -> None:
    """One-line errors for values no city can have (they would break sampling, maps and distances)."""
    checked_point(lat, lon, "city coordinates")
    if target_count is not None and not (0 <= int(target_count) <= catalog.MAX_TARGET):
        raise GeoSpottrError(f"a target count must be between 0 and {catalog.MAX_TARGET:,}")
    if radius_km is not None and not (math.isfinite(radius_km) and 0 < radius_km <= 500):
        raise GeoSpottrError(f"a sampling radius must be more than 0 and at most 500 km (got {radius_km:g})")
    if bbox is not None:
        if len(bbox) != 4 or not all(math.isfinite(float(v)) for v in bbox):
            raise GeoSpottrError("a bounding box is four finite numbers: min_lon, min_lat, max_lon, max_lat")
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox)
        if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
            raise GeoSpottrError("a bounding box needs min_lon < max_lon within -180..180 and min_lat < max_lat within -90..90")


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    items = list(items)
    for start in range(0, len(items), _ID_CHUNK):
        yield items[start:start + _ID_CHUNK]


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (our migrations hold no semicolons inside strings)."""
    return [s.strip() for s in script.split(";") if s.strip()]
