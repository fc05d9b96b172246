"""The project's model (issue 27, issue 28 item 4): `predict`, `evaluate`, `challenge` and `predict --explain`
without --run/--model use the project's best validated run, the rule the desktop app follows, and say which."""

from __future__ import annotations

import io
import shutil

import pytest

from core.cli.main import main
from core.inference.project_model import name_model, project_model, run_models
from tests.conftest import build_tiny_project, make_photo
from tests.core.training.test_best_model import make_run


@pytest.fixture
def two_runs(tmp_path, trained):
    """A fresh tiny project with an older run validated at 45% and a newer, worse one at 31%, both holding
    the same real bundle (the rule must follow validation accuracy, not recency)."""
    project = build_tiny_project(tmp_path)
    good = make_run(project.runs_dir, "20261201-100000-baseline", "finished", [0.40, 0.45], "2026-12-01T10:00:00")
    worse = make_run(project.runs_dir, "20261207-100000-baseline", "finished", [0.31], "2026-12-07T10:00:00")
    for run in (good, worse):
        shutil.copy(trained.bundle, run / "best.pt")
    yield project, good
    project.close()


def test_the_project_model_is_the_best_validated_run_named_by_run_and_accuracy(two_runs, tmp_path):
    project, good = two_runs
    best = project_model(project)
    assert best.path == good / "best.pt" and best.label == "run 20261201-100000-baseline (val 45.0%)"
    assert [m.run_id for m in run_models(project)] == ["20261207-100000-baseline", "20261201-100000-baseline"]
    # A model picked by hand wins while its file exists; a file from elsewhere is named by its name.
    mine = tmp_path / "mine.pt"
    shutil.copy(good / "best.pt", mine)
    assert project_model(project, chosen=mine).label == "mine.pt"
    mine.unlink()
    assert project_model(project, chosen=mine).path == good / "best.pt"
    assert name_model(good / "last.pt").label == "run 20261201-100000-baseline (val 45.0%, last checkpoint)"


@pytest.mark.parametrize("command", [["predict", "PHOTO"], ["predict", "PHOTO", "--explain", "OUT"],
                                     ["evaluate", "--out", "OUT"], ["challenge", "--rounds", "1", "--no-open"]])
def test_model_commands_default_to_the_project_model_and_say_which(two_runs, tmp_path, capsys, monkeypatch,
                                                                    command):
    project, good = two_runs
    photo = make_photo(tmp_path / "photo.jpg", seed=5, kind=1)
    args = [str(photo) if a == "PHOTO" else str(tmp_path / "out") if a == "OUT" else a for a in command]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # challenge: the player leaves at once
    assert main(["--project", str(project.root), *args, "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "using the project's model: run 20261201-100000-baseline (val 45.0%)" in err


def test_without_a_trained_run_the_model_commands_say_how_to_get_one(tmp_path, capsys):
    assert main(["init", str(tmp_path / "p")]) == 0
    capsys.readouterr()
    assert main(["--project", str(tmp_path / "p"), "evaluate"]) == 1
    err = capsys.readouterr().err
    assert "no trained model yet" in err and f"`geospottr --project {tmp_path / 'p'} train`" in err
