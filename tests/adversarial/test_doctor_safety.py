"""Issue 24 item 1: `doctor --repair` never destroys the dataset. With images/ unavailable (an empty folder
mounted over it) it refuses and changes nothing, twice; a partially missing set beyond a few percent is
refused too; a repair writes a consistent backup first, shows its plan and asks (no terminal and no
--yes: nothing changes); and a file that a backup still lists is never deleted as an orphan. Every case
counts rows and files before and after."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest

from core.data.importing import import_source
from core.errors import GeoSpottrError
from core.quality.doctor import BACKUP_PREFIX, GRACE_S, MASS_FLOOR, check, repair

from .conftest import cli, one_line_error
from .hostile import jpeg


def _fill(proj, tmp_path, n):
    src = tmp_path / "src"
    for i in range(n):
        city = "zagreb" if i % 2 else "split"
        (src / city).mkdir(parents=True, exist_ok=True)
        (src / city / f"{i}.jpg").write_bytes(jpeg((32, 24), seed=1000 + i))
    report = import_source(proj, src)
    assert report.added == n
    with proj.transaction() as c:  # labels and splits: what a lost row would take with it
        c.execute("UPDATE images SET status = 'accepted', split = 'train'")


def _state(proj):
    """(rows, labelled rows, files under images/, their bytes): everything a repair could lose."""
    rows = proj.conn.execute("SELECT COUNT(*), SUM(split = 'train') FROM images").fetchone()
    files = sorted(p for p in proj.images_dir.rglob("*.jpg") if p.is_file())
    return rows[0], rows[1], len(files), sum(p.stat().st_size for p in files)


def _age(folder):
    old = time.time() - GRACE_S - 60
    for p in folder.rglob("*.jpg"):
        os.utime(p, (old, old))


def _backups(proj):
    return sorted(p for p in proj.root.iterdir() if p.name.startswith(BACKUP_PREFIX) and "-wal" not in p.name
                  and "-shm" not in p.name)


def test_an_unavailable_images_folder_is_refused_twice_and_nothing_is_lost(tmp_path, proj):
    _fill(proj, tmp_path, 40)
    before = _state(proj)
    real = proj.root / "images.real"
    proj.images_dir.rename(real)
    proj.images_dir.mkdir()  # the empty mount over images/
    for _ in range(2):  # the second run must not find "orphans" either
        error = one_line_error(cli("--project", proj.root, "doctor", "--repair", "--yes"))
        assert "images/ looks unavailable: 40 of 40 files missing" in error, error
        assert proj.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 40
    check_only = cli("--project", proj.root, "doctor")
    assert check_only.returncode == 1 and "looks unavailable" in check_only.stdout
    with pytest.raises(GeoSpottrError, match="looks unavailable"):
        repair(proj)
    proj.images_dir.rmdir()
    real.rename(proj.images_dir)  # the drive is back
    _age(proj.images_dir)
    assert _state(proj) == before and check(proj).ok
    again = cli("--project", proj.root, "doctor", "--repair", "--yes")
    assert again.returncode == 0 and "project is consistent" in again.stdout
    assert _state(proj) == before and not _backups(proj)  # nothing to change: no backup either


def test_a_partially_missing_set_over_a_few_percent_is_refused(tmp_path, proj):
    _fill(proj, tmp_path, 60)
    before = _state(proj)
    gone = [proj.image_path(r) for r in proj.images()[:MASS_FLOOR + 5]]  # 15 of 60: 25 %
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for p in gone:
        p.rename(hidden / p.name)
    error = one_line_error(cli("--project", proj.root, "doctor", "--repair", "--yes"))
    assert f"{len(gone)} of 60 files missing" in error
    assert proj.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 60 and not _backups(proj)
    for p in gone:
        (hidden / p.name).rename(p)
    assert _state(proj) == before


def test_repair_backs_up_asks_and_never_deletes_what_a_backup_lists(tmp_path, proj):
    _fill(proj, tmp_path, 40)
    rows, labelled, files, _ = _state(proj)
    victim = proj.images()[0]
    path = proj.image_path(victim)
    parked = tmp_path / "parked.jpg"
    path.rename(parked)  # one photo briefly away: 1 of 40 is within "a few percent"

    unasked = cli("--project", proj.root, "doctor", "--repair")  # no terminal, no --yes: the plan only
    assert unasked.returncode == 1 and "remove 1 image rows" in unasked.stdout and "nothing changed" in unasked.stdout
    assert proj.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == rows and not _backups(proj)

    done = cli("--project", proj.root, "doctor", "--repair", "--yes")
    assert done.returncode == 0, done.stderr
    (backup,) = _backups(proj)
    assert f"backed up the database to {backup}" in done.stdout
    with sqlite3.connect(backup) as conn:  # a consistent copy holding the removed row, label and split
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT split FROM images WHERE id = ?", (victim.id,)).fetchone()[0] == "train"
        assert conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == rows
    assert proj.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == rows - 1

    parked.rename(path)  # the photo is back: now a file without a row, but the backup still lists it
    _age(proj.images_dir)
    report = check(proj)
    assert report.orphan_files == [] and report.kept_files == [victim.path]
    second = cli("--project", proj.root, "doctor", "--repair", "--yes")
    assert second.returncode == 0 and "kept" in second.stdout
    assert path.is_file() and _state(proj)[2] == files  # no photo deleted
    assert _state(proj)[:2] == (rows - 1, labelled - 1)


def test_a_database_that_lists_none_of_the_files_is_not_a_reason_to_delete_them(tmp_path, proj):
    _fill(proj, tmp_path, 30)
    _age(proj.images_dir)
    files_before = _state(proj)[2:]
    with proj.transaction() as c:  # a wrong (restored, copied, emptied) database over the same images/
        c.execute("DELETE FROM images")
    error = one_line_error(cli("--project", proj.root, "doctor", "--repair", "--yes"))
    assert "lists none of 30 of the 30 files" in error
    assert _state(proj)[2:] == files_before and not _backups(proj)
