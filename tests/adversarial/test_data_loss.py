"""Issue 15 items 7-10: a kill mid-`clean --apply` loses nothing, export never overwrites data, a damaged
or foreign database gets a plain-words error (and is left as it was), and `doctor` repairs what a kill
leaves."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import numpy as np
import pytest
from PIL import Image

from core.data.importing import import_source
from core.data.project import Project
from core.fsutil import KILL_AT_ENV
from core.quality.doctor import GRACE_S, check, repair

from .conftest import cli, one_line_error
from .hostile import jpeg


def _import(proj, tmp_path, n=4, dark=0):
    src = tmp_path / "src"
    for i in range(n):
        (src / "zagreb").mkdir(parents=True, exist_ok=True)
        (src / "zagreb" / f"{i}.jpg").write_bytes(jpeg((64, 48), seed=100 + i))
    for i in range(dark):
        Image.fromarray(np.full((48, 64, 3), 3 + i, np.uint8)).save(src / "zagreb" / f"dark{i}.jpg")
    import_source(proj, src)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_clean_apply_killed_between_its_writes_loses_nothing(tmp_path, proj):
    _import(proj, tmp_path, n=2, dark=2)
    scan = cli("--project", proj.root, "clean", "--checks", "frames")
    assert scan.returncode == 0 and "Near-black frames: 2" in scan.stdout, scan.stdout
    killed = cli("--project", proj.root, "clean", "--list", "--apply", extra_env={KILL_AT_ENV: "clean-apply"})
    assert killed.returncode == -signal.SIGKILL
    assert {r.status for r in proj.images()} == {"pending"}  # nothing half-applied
    assert "nothing to undo" in cli("--project", proj.root, "clean", "--undo").stdout
    applied = cli("--project", proj.root, "clean", "--list", "--apply")
    assert applied.returncode == 0 and "rejected 2 images" in applied.stdout
    assert "restored 2 images" in cli("--project", proj.root, "clean", "--undo").stdout
    assert {r.status for r in proj.images()} == {"pending"}


def test_export_refuses_to_overwrite_or_write_into_the_project(tmp_path, proj):
    _import(proj, tmp_path, n=2)
    for target in (proj.db_path, proj.root / "images" / "x.csv", proj.root):
        error = one_line_error(cli("--project", proj.root, "export", target, "--format", "csv", "--force"))
        assert "project" in error
    assert "inside the project" in one_line_error(cli("--project", proj.root, "export", proj.root / "x.csv",
                                                      "--format", "csv"))
    assert proj.db_path.read_bytes().startswith(b"SQLite format 3") and len(proj.images()) == 2
    existing = tmp_path / "mine.csv"
    existing.write_text("my own work\n")
    assert "already exists" in one_line_error(cli("--project", proj.root, "export", existing, "--format", "csv"))
    assert existing.read_text() == "my own work\n"
    assert "is a folder" in one_line_error(cli("--project", proj.root, "export", tmp_path, "--format", "geojson"))
    ok = cli("--project", proj.root, "export", existing, "--format", "csv", "--force")
    assert ok.returncode == 0 and existing.read_text().startswith("path,city")


def _db_case(root, kind):
    db = root / "geospottr.db"
    if kind == "empty":
        db.write_bytes(b"")
    elif kind == "garbage":
        db.write_bytes(os.urandom(4096))
    else:
        with sqlite3.connect(db) as conn:
            conn.execute(f"PRAGMA user_version = {99 if kind == 'newer' else -3}")
    return db


@pytest.mark.parametrize("kind, words", [("empty", "0 bytes"), ("garbage", "damaged"), ("newer", "newer GeoSpottr"),
                                         ("negative", "impossible schema version")])
def test_a_damaged_or_foreign_database_is_a_plain_words_error(tmp_path, proj, kind, words):
    root = proj.root
    proj.close()
    db = _db_case(root, kind)
    before = db.read_bytes()
    error = one_line_error(cli("--project", root, "stats"))
    assert words in error and str(db) in error and "sqlite" not in error.split("(")[0].lower()
    if kind in ("empty", "garbage"):
        assert db.read_bytes() == before  # never "repaired" by re-creating it empty
    else:
        with sqlite3.connect(db) as conn:  # not migrated or rewritten
            assert conn.execute("PRAGMA user_version").fetchone()[0] == (99 if kind == "newer" else -3)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_doctor_repairs_what_a_killed_city_removal_leaves(tmp_path, proj):
    _import(proj, tmp_path, n=3)
    files = [proj.image_path(r) for r in proj.images()]
    killed = cli("--project", proj.root, "cities", "--remove", "zagreb", "--delete-images",
                 extra_env={KILL_AT_ENV: "remove-city-files"})
    assert killed.returncode == -signal.SIGKILL and all(f.exists() for f in files) and not proj.images()
    report = check(proj)
    assert report.ok and report.young_files == 3  # just written: maybe a live writer's, left alone
    old = time.time() - GRACE_S - 60
    for f in files:
        os.utime(f, (old, old))
    doctor = cli("--project", proj.root, "doctor")
    assert doctor.returncode == 1 and "3 orphan image files" in doctor.stdout
    assert cli("--project", proj.root, "doctor", "--repair", "--yes").returncode == 0
    assert not any(f.exists() for f in files) and check(proj).ok


def test_doctor_removes_rows_without_files_and_dead_writers_temp_files(tmp_path, proj):
    _import(proj, tmp_path, n=3)
    gone = proj.images()[0]
    proj.image_path(gone).unlink()
    stale = proj.images_dir / "zagreb" / ".x.jpg.abc.part"
    stale.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    report = check(proj)
    assert report.missing_files == [gone.id] and report.temp_files == ["images/zagreb/.x.jpg.abc.part"]
    fixed = repair(proj)
    assert fixed.missing_files == [gone.id] and not stale.exists()
    assert len(proj.images()) == 2 and check(proj).ok
    with Project.open(proj.root) as again:  # reopening finds nothing more to do
        assert check(again).ok
