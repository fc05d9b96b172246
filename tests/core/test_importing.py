"""Folder and CSV import: validation, dedupe, labels from coordinates, and surviving kill -9."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.data import catalog
from core.data.importing import import_source
from core.data.project import Project
from core.errors import GeoSpottrError

from ..conftest import CROATIA_CITIES, make_photo
from .bad_images import write_corpus


def _project(tmp_path, name="p"):
    return Project.init(tmp_path / name, [catalog.resolve(q) for q in CROATIA_CITIES])


def test_folder_import_validates_dedupes_and_copies(tmp_path):
    project = _project(tmp_path)
    root = tmp_path / "tree"
    corpus = write_corpus(root / "zagreb")
    make_photo(root / "Split" / "s1.jpg", 7)
    (root / "Split" / "readme.txt").write_text("not a photo")
    report = import_source(project, root)
    usable = [n for n, (_, ok) in corpus.items() if ok]
    assert report.added == len(usable) + 1
    refused = {n for n, (_, ok) in corpus.items() if not ok} | {"readme.txt"}
    assert {Path(p).name for p, _ in report.rejected} == refused
    assert all(p.exists() for p, _ in corpus.values())  # copied, never moved
    assert len(project.import_errors()) == len(report.rejected)
    again = import_source(project, root)
    assert again.added == 0 and again.duplicates == report.added
    assert {r.city_slug for r in project.images()} == {"zagreb", "split"}


def test_unknown_city_folder_is_an_error_unless_allowed(tmp_path):
    project = _project(tmp_path)
    make_photo(tmp_path / "tree" / "Vienna" / "v.jpg", 1)
    with pytest.raises(GeoSpottrError, match="not in this project"):
        import_source(project, tmp_path / "tree")
    report = import_source(project, tmp_path / "tree", add_cities=True)
    assert report.cities_added == ["vienna"] and report.added == 1


def test_csv_labels_by_nearest_city_with_max_km(tmp_path):
    project = _project(tmp_path)
    rows = [
        {"path": str(make_photo(tmp_path / "a.jpg", 1)), "lat": 45.80, "lon": 15.95, "location_id": "x"},  # Zagreb
        {"path": "b.jpg", "lat": 43.51, "lon": 16.44, "location_id": "y"},  # Split, relative path
        {"path": str(make_photo(tmp_path / "c.jpg", 3)), "lat": 48.2, "lon": 16.37, "location_id": "z"},  # Vienna
    ]
    make_photo(tmp_path / "b.jpg", 2)
    manifest = tmp_path / "m.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "lat", "lon", "location_id"])
        w.writeheader()
        w.writerows(rows)
    report = import_source(project, manifest, max_km=150)
    assert report.added == 2 and len(report.rejected) == 1
    assert "km away" in report.rejected[0][1]
    by_loc = {r.location_id: r for r in project.images()}
    assert by_loc["x"].city_slug == "zagreb" and by_loc["y"].city_slug == "split"
    assert by_loc["x"].lat == pytest.approx(45.80)


def test_csv_without_needed_columns_is_a_clear_error(tmp_path):
    project = _project(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\na.jpg,zagreb\n")
    with pytest.raises(GeoSpottrError, match="needs a 'path' column"):
        import_source(project, bad)


def _count(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_kill_during_import_leaves_consistent_project_and_rerun_completes(tmp_path):
    n = 400
    for i in range(n):
        make_photo(tmp_path / "tree" / "osijek" / f"{i:04d}.jpg", i, size=(320, 240))
    project = _project(tmp_path)
    project.close()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "core", "--project", str(project.root), "import",
                             str(tmp_path / "tree")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while _count(project.db_path) < 20 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reopened = Project.open(project.root)
    records = reopened.images()
    assert 0 < len(records) < n, "the kill should land mid-import"
    for r in records:  # no row without its complete file
        assert reopened.image_path(r).stat().st_size > 0
    assert not list(reopened.images_dir.rglob("*.part"))
    report = import_source(reopened, tmp_path / "tree")
    assert report.duplicates == len(records) and report.added == n - len(records)
    assert len(reopened.images()) == n
    assert len({r.sha256 for r in reopened.images()}) == n
