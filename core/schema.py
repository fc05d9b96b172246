"""The project database schema as forward migrations, versioned with ``PRAGMA user_version``.

Migration N (1-based) takes a database from version N-1 to N. Never edit a released migration: append a
new one, so a project made by any earlier GeoSpottr opens and upgrades in place.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: cities, images, import errors, key/value settings
    """
    CREATE TABLE cities (
        id           INTEGER PRIMARY KEY,
        slug         TEXT NOT NULL UNIQUE,
        name         TEXT NOT NULL,
        country      TEXT NOT NULL DEFAULT '',
        lat          REAL NOT NULL,
        lon          REAL NOT NULL,
        radius_km    REAL,
        bbox         TEXT,            -- JSON [min_lon, min_lat, max_lon, max_lat] or NULL
        target_count INTEGER NOT NULL DEFAULT 1250,
        population   INTEGER,
        geonameid    INTEGER,
        added_at     TEXT NOT NULL
    );
    CREATE TABLE images (
        id           TEXT PRIMARY KEY,   -- first 16 hex digits of sha256: re-imports are idempotent
        path         TEXT NOT NULL UNIQUE,  -- relative to the project root, POSIX separators
        city_id      INTEGER REFERENCES cities(id) ON DELETE RESTRICT,
        lat          REAL,
        lon          REAL,
        source       TEXT NOT NULL,      -- import | streetview | mapillary | ...
        source_id    TEXT,               -- pano id, Mapillary image id, original file name
        location_id  TEXT,               -- groups views of one place (splits never separate them)
        heading      REAL,
        pitch        REAL,
        fov          REAL,
        captured_at  TEXT,
        sha256       TEXT NOT NULL UNIQUE,
        width        INTEGER NOT NULL,
        height       INTEGER NOT NULL,
        status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
        reason       TEXT,
        split        TEXT CHECK (split IN ('train', 'val', 'test')),
        licence      TEXT,
        attribution  TEXT,
        added_at     TEXT NOT NULL
    );
    CREATE INDEX images_city ON images(city_id);
    CREATE INDEX images_source ON images(source, source_id);
    CREATE INDEX images_split ON images(split);
    CREATE TABLE import_errors (
        id       INTEGER PRIMARY KEY,
        source   TEXT NOT NULL,
        reason   TEXT NOT NULL,
        at       TEXT NOT NULL
    );
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL              -- JSON
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
