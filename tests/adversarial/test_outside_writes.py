"""Issue 24 item 3: nothing is written outside the project. Run ids are names (one validator); runs/,
reports/ and cache/ symlinked out of the project, a run folder symlinked out, a run file symlinked out and
``evaluate --run ../../x`` are refused in one line, and the folder outside is left exactly as it was."""

from __future__ import annotations

import shutil

import pytest

from core.data import thumbnails
from core.errors import GeoSpottrError
from core.fsutil import check_name, safe_child
from core.training import runs

from .conftest import cli, one_line_error

EVIL_RUN_IDS = ["../../x", "..", ".", "a/b", "a\\b", "/abs", "C:x", "", "x\x00y", "tab\there", "x" * 300, 5, None]


def _snapshot(folder):
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size if p.is_file() else -1)
                  for p in folder.rglob("*"))


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    return folder


def _fake_run(folder, bundle_path):
    folder.mkdir(parents=True, exist_ok=True)
    runs.write_json(folder / runs.CONFIG, {"arch": "baseline", "epochs": 1})
    shutil.copy(bundle_path, folder / runs.BEST)
    return folder


def test_one_validator_refuses_every_run_id_that_is_a_path(proj):
    for run_id in EVIL_RUN_IDS:
        with pytest.raises(GeoSpottrError, match="not a run id"):
            runs.check_run_id(run_id)
        with pytest.raises(GeoSpottrError):
            runs.run_dir(proj.runs_dir, run_id)
        with pytest.raises(GeoSpottrError):
            check_name(run_id, "run id")
    assert runs.check_run_id("20260101-000000-efficientnet-lite0") == "20260101-000000-efficientnet-lite0"


def test_evaluate_run_dotdot_writes_nothing_outside(tmp_path, proj, outside, bundle_path):
    _fake_run(outside / "x", bundle_path)
    before = _snapshot(outside)
    for ref in ("../../outside/x", "../" * 10 + str(outside / "x").lstrip("/"), str(outside / "x")):
        error = one_line_error(cli("--project", proj.root, "evaluate", "--run", ref, "--device", "cpu"))
        assert "not a run id" in error
    assert _snapshot(outside) == before


def test_a_run_folder_symlinked_out_is_refused_by_evaluate_and_resume(proj, outside, bundle_path):
    _fake_run(outside / "x", bundle_path)
    (outside / "x" / runs.LAST).write_bytes(b"placeholder")
    proj.runs_dir.mkdir(exist_ok=True)
    (proj.runs_dir / "evil").symlink_to(outside / "x")
    before = _snapshot(outside)
    error = one_line_error(cli("--project", proj.root, "evaluate", "--run", "evil", "--device", "cpu"))
    assert "outside" in error
    error = one_line_error(cli("--project", proj.root, "train", "--resume", "evil", timeout=180))
    assert "outside" in error
    assert _snapshot(outside) == before


def test_runs_symlinked_out_of_the_project_refuses_train_and_lists_nothing_through_it(tmp_path, outside):
    from tests.conftest import build_tiny_project

    project = build_tiny_project(tmp_path, per_city=3, size=(48, 36))
    root = project.root
    project.close()
    shutil.rmtree(root / "runs")
    (root / "runs").symlink_to(outside)
    before = _snapshot(outside)
    error = one_line_error(cli("--project", root, "train", "--arch", "baseline", "--epochs", "1", "--image-size", "32",
                               "--weights", "none", "--device", "cpu", timeout=300))
    assert "outside" in error and "runs" in error
    assert "outside" in one_line_error(cli("--project", root, "runs"))
    assert _snapshot(outside) == before


def test_reports_and_cache_symlinked_out_are_refused(tmp_path, proj, outside, bundle_path):
    (proj.root / "reports").symlink_to(outside)
    before = _snapshot(outside)
    error = one_line_error(cli("--project", proj.root, "evaluate", "--model", bundle_path, "--device", "cpu"))
    assert "outside" in error
    shutil.rmtree(proj.root / "cache")
    (proj.root / "cache").symlink_to(outside)
    with pytest.raises(GeoSpottrError, match="outside"):
        thumbnails.cache_path(proj, "abcdef", 128)
    with pytest.raises(GeoSpottrError, match="outside"):
        assert proj.cache_dir
    assert _snapshot(outside) == before


def test_a_run_file_symlinked_out_is_never_appended_to(proj, outside):
    folder = proj.runs_dir / "20260101-000000-baseline"
    folder.mkdir(parents=True)
    (folder / runs.METRICS).symlink_to(outside / "keep.txt")
    with pytest.raises(GeoSpottrError, match="outside"):
        runs.MetricsWriter(folder / runs.METRICS)
    with pytest.raises(GeoSpottrError, match="outside"):
        safe_child(folder, runs.METRICS)
    assert (outside / "keep.txt").read_text() == "mine"
