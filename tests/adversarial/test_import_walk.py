"""Issue 24 items 9 and 4: a folder import leaves nothing out silently (hidden files and folders, symlink
loops, links back above the import, broken links, files outside any city folder are each reported with
their reason in the summary that the CLI and the desktop app show), follows symlinked city folders that
stay readable, and a CSV of refused rows imports in linear time (batched, indexed import log)."""

from __future__ import annotations

import csv
import os
import sqlite3
import time

import pytest

from core.data.importing import import_source

from .conftest import cli
from .hostile import jpeg

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks")


def _state(project) -> tuple[int, int]:
    return len(project.images()), len(list(project.images_dir.rglob("*.jpg")))


@needs_symlinks
def test_hidden_and_symlinked_entries_are_followed_or_reported(tmp_path, proj):
    root = tmp_path / "dataset"
    (root / "zagreb" / "sub").mkdir(parents=True)
    (root / "zagreb" / "a.jpg").write_bytes(jpeg((40, 30), seed=1))
    (root / "zagreb" / "sub" / "b.jpg").write_bytes(jpeg((40, 30), seed=2))
    (root / "zagreb" / ".jpg").write_bytes(jpeg((40, 30), seed=3))            # a name that is all extension
    (root / "zagreb" / ".hidden.jpg").write_bytes(jpeg((40, 30), seed=4))
    (root / "zagreb" / ".thumbs").mkdir()
    (root / "zagreb" / ".thumbs" / "c.jpg").write_bytes(jpeg((40, 30), seed=5))
    (root / "zagreb" / "sub" / "loop").symlink_to("..")                       # back to zagreb/
    (root / "zagreb" / "up").symlink_to("../..")                               # above the imported folder
    elsewhere = tmp_path / "elsewhere" / "split-photos"                        # a common dataset layout
    elsewhere.mkdir(parents=True)
    (elsewhere / "d.jpg").write_bytes(jpeg((40, 30), seed=6))
    (root / "split").symlink_to(elsewhere)
    (root / "rijeka").symlink_to(tmp_path / "gone")                           # broken city link
    (root / "stray.jpg").write_bytes(jpeg((40, 30), seed=7))                   # outside any city folder
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    before = _state(proj)

    result = cli("--project", proj.root, "import", root, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3 added" in result.stdout
    expected = {root / "zagreb" / ".jpg": "hidden", root / "zagreb" / ".hidden.jpg": "hidden",
                root / "zagreb" / ".thumbs": "hidden", root / ".DS_Store": "hidden",
                root / "zagreb" / "sub" / "loop": "symlink loop", root / "zagreb" / "up": "symlink loop",
                root / "rijeka": "broken link", root / "stray.jpg": "not inside a city folder"}
    for path, reason in expected.items():
        line = next((x for x in result.stdout.splitlines() if x.startswith(f"skipped {path}:")), "")
        assert reason in line, (path, result.stdout)
    summary = result.stdout.strip().splitlines()[-1]
    assert "8 skipped (4 hidden, 2 symlink loop, 1 broken link, 1 not inside a city folder)" in summary, summary
    assert _state(proj) == (before[0] + 3, before[1] + 3)
    assert sorted((r.city_slug, r.source_id) for r in proj.images()) == [("split", "d.jpg"), ("zagreb", "a.jpg"),
                                                                          ("zagreb", "b.jpg")]


@needs_symlinks
def test_a_city_folder_linking_to_the_import_root_is_not_walked(tmp_path, proj):
    root = tmp_path / "dataset"
    (root / "split").mkdir(parents=True)
    (root / "split" / "a.jpg").write_bytes(jpeg((40, 30), seed=11))
    (root / "zagreb").symlink_to(root)  # walking it would label split's photo as zagreb
    report = import_source(proj, root)
    assert report.added == 1 and [r.city_slug for r in proj.images()] == ["split"]
    assert report.skipped == [(str(root / "zagreb"), "symlink loop (leads back to the imported folder)")]
    assert "1 skipped (1 symlink loop)" in report.summary()


def test_refused_rows_import_in_linear_time_and_are_logged_once(tmp_path, proj):
    """30,000 rows of missing files: each used to cost an indexless DELETE and a commit (40k rows: 59 s)."""
    rows = 30_000
    table = tmp_path / "missing.csv"
    with table.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "city"])
        writer.writerows([f"/nonexistent/{i}.jpg", "zagreb"] for i in range(rows))
    before = _state(proj)
    started = time.monotonic()
    report = import_source(proj, table)
    elapsed = time.monotonic() - started
    assert len(report.rejected) == rows and elapsed < 30, elapsed
    assert len(proj.import_errors()) == rows
    import_source(proj, table)  # refused again: still one entry per (file, reason)
    assert len(proj.import_errors()) == rows and _state(proj) == before
    with sqlite3.connect(proj.db_path) as conn:
        plan = " ".join(r[3] for r in conn.execute(
            "EXPLAIN QUERY PLAN DELETE FROM import_errors WHERE source = ? AND reason = ?", ("a", "b")))
    assert "import_errors_source" in plan


def test_many_hidden_files_are_counted_not_each_printed(tmp_path, proj):
    """A dataset copied from a Mac carries an AppleDouble ``._name`` beside every photo: all are skipped
    and counted by reason in the summary; the CLI lists the first 50 paths, not thousands."""
    folder = tmp_path / "mac" / "zagreb"
    folder.mkdir(parents=True)
    (folder / "photo.jpg").write_bytes(jpeg((40, 30), seed=21))
    for i in range(120):
        (folder / f"._{i}.jpg").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    result = cli("--project", proj.root, "import", tmp_path / "mac", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert sum(line.startswith("skipped ") for line in lines) == 50
    assert "... and 70 more skipped" in result.stdout
    assert lines[-1].startswith("1 added") and "120 skipped (120 hidden)" in lines[-1]
    assert _state(proj) == (1, 1)
