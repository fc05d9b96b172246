"""The `geospottr` command: help everywhere, one-line errors, the dataset commands end to end."""

import json
import subprocess
import sys

import pytest

from core.cli.main import build_parser, main

from ..conftest import make_photo


def test_help_runs_for_every_subcommand(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"init", "cities", "import", "split", "stats", "export"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: geospottr" in capsys.readouterr().out


def test_installed_entry_point_help_and_cities():
    out = subprocess.run([sys.executable, "-m", "core", "--help"], capture_output=True, text=True, check=True).stdout
    assert "cities" in out and "import" in out
    out = subprocess.run([sys.executable, "-m", "core", "cities", "santiago"], capture_output=True, text=True,
                         check=True).stdout
    header, *lines = out.strip().splitlines()
    assert header.split()[:2] == ["city", "country"] and len(lines) >= 5 and "Chile" in lines[0]
    # a city found through an alternate name says which one
    caracas = next(line for line in lines if line.startswith("Caracas,VE"))
    assert "Santiago de Leon de Caracas" in caracas


def test_errors_are_one_line_and_nonzero(tmp_path, capsys):
    assert main(["--project", str(tmp_path / "missing"), "stats"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no GeoSpottr project" in err[0] and "Traceback" not in err[0]


def test_dataset_workflow(tmp_path, capsys, monkeypatch):
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--cities", "Zagreb,Split,HR", "--target", "10"]) == 0
    for k, city in enumerate(("zagreb", "split")):
        for i in range(6):
            make_photo(tmp_path / "tree" / city / f"{i}.jpg", seed=100 * k + i)
    monkeypatch.setenv("GEOSPOTTR_PROJECT", str(proj))  # the env var names the project
    assert main(["import", str(tmp_path / "tree")]) == 0
    assert "12 added" in capsys.readouterr().out
    assert main(["split", "--ratios", "0.5,0.25,0.25", "--seed", "3"]) == 0
    assert "train" in capsys.readouterr().out
    assert main(["stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["images"] == 12 and stats["cities"]["zagreb"]["target"] == 10
    assert main(["--project", str(proj), "export", str(tmp_path / "out.csv"), "--format", "csv"]) == 0
    assert (tmp_path / "out.csv").read_text().count("\n") == 13
    assert main(["cities", "--add", "Vienna", "--target", "5"]) == 0
    assert "vienna" in capsys.readouterr().out


def test_default_project_is_created_in_the_user_data_dir(capsys):
    assert main(["stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert "GeoSpottr" in stats["project"] and stats["images"] == 0
