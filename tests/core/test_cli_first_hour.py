"""Issue 27, "first hour, round two": the CLI says what it did and nothing else, and every hint runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from core.data.project import Project

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "core", *args], env=env, cwd=REPO, **kwargs)


def test_init_refuses_an_existing_project_and_a_non_empty_folder(tmp_path, capsys):
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--cities", "Zagreb,Split,Rijeka,Osijek"]) == 0
    capsys.readouterr()
    assert main(["init", str(proj), "--cities", "seed"]) == 1
    err = capsys.readouterr().err
    assert "is already a project" in err and "cities --add" in err and "project ready" not in err
    with Project.open(proj) as project:
        assert len(project.cities()) == 4  # not 26: the seed was not added
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"not mine to mix into")
    assert main(["init", str(other)]) == 1
    assert "not empty and not a project" in capsys.readouterr().err
    assert not (other / "geospottr.db").exists()
    (tmp_path / "empty").mkdir()
    assert main(["init", str(tmp_path / "empty")]) == 0  # an empty folder is fine


def test_cities_remove_takes_a_list_and_reports_each_city_removed(tmp_path, capsys):
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--cities", "Amsterdam,Berlin,Vienna"]) == 0
    capsys.readouterr()
    assert main(["--project", str(proj), "cities", "--remove", "amsterdam,Berlin"]) == 0
    out = capsys.readouterr().out
    assert "removed amsterdam (Amsterdam, NL)" in out and "removed berlin (Berlin, DE)" in out
    with Project.open(proj) as project:
        assert [c.slug for c in project.cities()] == ["vienna"]
    # An unknown name removes nothing, and says which name it was.
    assert main(["--project", str(proj), "cities", "--remove", "vienna,berln"]) == 1
    assert "'berln' is not in this project" in capsys.readouterr().err
    with Project.open(proj) as project:
        assert [c.slug for c in project.cities()] == ["vienna"]


def test_cities_remove_refuses_all_when_one_city_still_has_images(tiny_project, capsys):
    root = str(tiny_project.root)
    assert main(["--project", root, "cities", "--remove", "zagreb,split"]) == 1
    assert "nothing was removed" in capsys.readouterr().err
    assert len(tiny_project.cities()) == 4
    assert main(["--project", root, "cities", "--remove", "zagreb,split", "--delete-images"]) == 0
    assert "removed zagreb (Zagreb, HR) and its 12 images" in capsys.readouterr().out


def test_a_closed_pipe_ends_any_command_quietly(tmp_path):
    """`geospottr ... | head -1`: no BrokenPipeError traceback, status 141 (SIGPIPE) like other tools."""
    proc = _cli("cities", "a", "--limit", "5000", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"city")
    proc.stdout.close()  # the reader goes away, as `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


@pytest.mark.parametrize("command", [["predict", "x.jpg"], ["evaluate"], ["challenge"], ["clean", "--checks", "labels"]])
def test_a_missing_model_file_is_named_before_torch_loads(tmp_path, command):
    assert main(["init", str(tmp_path / "p")]) == 0
    code = ("import sys; from core.cli.main import main; rc = main(sys.argv[1:]); "
            "print('torch' in sys.modules, rc)")
    out = subprocess.run([sys.executable, "-c", code, "--project", str(tmp_path / "p"), *command,
                          "--model", str(tmp_path / "nope.pt")], env={**os.environ, "PYTHONPATH": str(REPO)},
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "1"], out.stderr
    assert out.stderr.strip() == f"geospottr: error: no model file {tmp_path / 'nope.pt'}"


def probe_and_paused_runs(runs: Path) -> None:
    """A probe run that finished (one fit: one epoch record though config.json asked for 10) and a run of
    this process that is paused (status.json says running, with the pause flag)."""
    import json
    import socket

    from tests.core.training.test_best_model import make_run

    probe = make_run(runs, "20261207-100000-efficientnet-lite0", "finished", [0.45], "2026-12-07T10:00:00")
    (probe / "config.json").write_text(json.dumps({"arch": "efficientnet-lite0", "epochs": 10}))
    paused = make_run(runs, "20261207-110000-baseline", "running", [0.2, 0.3], "2026-12-07T11:00:00")
    (paused / "config.json").write_text(json.dumps({"arch": "baseline", "epochs": 10}))
    (paused / "status.json").write_text(json.dumps({"status": "running", "pid": os.getpid(), "paused": True,
                                                    "host": socket.gethostname(), "iteration": 21, "total": 100}))


def test_runs_shows_a_finished_probe_as_one_epoch_and_a_paused_run_as_paused(tmp_path, capsys):
    assert main(["init", str(tmp_path / "p")]) == 0
    probe_and_paused_runs(tmp_path / "p" / "runs")
    capsys.readouterr()
    assert main(["--project", str(tmp_path / "p"), "runs"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["20261207-100000-efficientnet-lite0"][2:4] == ["finished", "1"]
    assert rows["20261207-110000-baseline"][2:5] == ["paused", "21%", "2/10"]



@pytest.mark.parametrize("args, message", [(["train", "--resume", "nope"], "no run 'nope' in this project"),
                                           (["train", "--arch", "efficientnet-lit0"], "did you mean efficientnet-lite0")])
def test_train_names_a_typo_before_torch_loads(tmp_path, args, message):
    assert main(["init", str(tmp_path / "p")]) == 0
    code = ("import sys; from core.cli.main import main; rc = main(sys.argv[1:]); "
            "print('torch' in sys.modules, rc)")
    out = subprocess.run([sys.executable, "-c", code, "--project", str(tmp_path / "p"), *args],
                         env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["False", "1"], out.stderr
    assert message in out.stderr
