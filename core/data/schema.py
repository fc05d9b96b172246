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
    # 2: human-vs-model challenges (core/evaluation/challenge.py); rounds keep a snapshot of the truth and of the
    # model's guess so later relabelling or retraining never rewrites a played game
    """
    CREATE TABLE challenges (
        id           INTEGER PRIMARY KEY,
        model        TEXT NOT NULL,       -- bundle path the model guesses came from
        run_id       TEXT,
        split        TEXT NOT NULL,
        seed         INTEGER NOT NULL,
        player       TEXT NOT NULL DEFAULT '',
        created_at   TEXT NOT NULL
    );
    CREATE TABLE challenge_rounds (
        challenge_id     INTEGER NOT NULL REFERENCES challenges(id) ON DELETE CASCADE,
        number           INTEGER NOT NULL,   -- 1-based
        image_id         TEXT NOT NULL,
        image_path       TEXT NOT NULL,      -- relative to the project root
        true_city        TEXT NOT NULL,
        true_lat         REAL NOT NULL,
        true_lon         REAL NOT NULL,
        model_city       TEXT NOT NULL,
        model_lat        REAL NOT NULL,
        model_lon        REAL NOT NULL,
        model_confidence REAL NOT NULL,
        guess_city       TEXT,               -- the city guessed, or nearest to the point guessed
        guess_lat        REAL,               -- the point, or the guessed city's centre
        guess_lon        REAL,
        guess_kind       TEXT CHECK (guess_kind IN ('city', 'point')),
        guess_seconds    REAL,
        guessed_at       TEXT,
        PRIMARY KEY (challenge_id, number)
    );
    """,
    # 3: points the downloaders tried, so a resumed or repeated run never asks about the same point twice
    """
    CREATE TABLE sample_points (
        provider   TEXT NOT NULL,       -- streetview | mapillary
        city_id    INTEGER NOT NULL REFERENCES cities(id) ON DELETE CASCADE,
        lat_e6     INTEGER NOT NULL,    -- coordinates in 1e-6 degrees
        lon_e6     INTEGER NOT NULL,
        outcome    TEXT NOT NULL,       -- saved | duplicate | no_coverage | rejected
        source_id  TEXT,                -- the panorama / image the point led to
        tried_at   TEXT NOT NULL,
        PRIMARY KEY (provider, city_id, lat_e6, lon_e6)
    );
    CREATE INDEX sample_points_source ON sample_points(provider, source_id);
    """,
    # 4: data-quality findings (core/quality): reviewed by the user, applied as reversible rejections
    """
    CREATE TABLE findings (
        id           INTEGER PRIMARY KEY,
        image_id     TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        kind         TEXT NOT NULL,       -- corrupt | placeholder | dark | bright | blurry | duplicate | ...
        score        REAL NOT NULL,       -- higher = more certainly a problem (sorts the review list)
        grp          TEXT,                -- duplicate group key, NULL for single-image findings
        message      TEXT NOT NULL,
        details      TEXT NOT NULL DEFAULT '{}',   -- JSON: what was measured
        created      TEXT NOT NULL,
        resolved     TEXT,                -- when applied or dismissed, NULL while open
        resolution   TEXT CHECK (resolution IN ('rejected', 'dismissed')),
        batch        INTEGER,             -- apply batch, for `geospottr clean --undo`
        prev_status  TEXT,                -- the image's status and reason before it was rejected
        prev_reason  TEXT
    );
    CREATE INDEX findings_open ON findings(resolved, kind);
    CREATE INDEX findings_image ON findings(image_id);
    """,
    # 5: a challenge's play area (km, the D of core.geo.scaled_points), fixed when the game is drawn so
    # adding cities later never rescores it; NULL: a game scored on the world map (before this column)
    """
    ALTER TABLE challenges ADD COLUMN scale_km REAL;
    """,
    # 6: an import logs each refused (file, reason) once by deleting its earlier entry: without this
    # index every delete scanned the table, and a CSV of a million missing files never finished
    """
    CREATE INDEX import_errors_source ON import_errors(source, reason);
    """,
    # 7: the model's latest guess for each image ("predict the dataset", `core.inference.dataset_predictions`), so
    # the curation grid can filter and sort by what the model says, how sure it is and whether it is right
    """
    CREATE TABLE predictions (
        image_id    TEXT PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        model       TEXT NOT NULL,        -- the model that guessed (its run and val accuracy, or its file)
        city        TEXT NOT NULL,        -- the guessed city's slug
        confidence  REAL NOT NULL,        -- its probability
        at          TEXT NOT NULL
    );
    CREATE INDEX predictions_city ON predictions(city);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
