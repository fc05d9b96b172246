"""A newcomer's first commands: every printed hint runs as printed, errors say what is wrong, silent
results say what they did (issue 16's "wrong or misleading words")."""

from __future__ import annotations

import json
import os
import shlex
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main

from ..conftest import build_tiny_project, make_photo

REPO = Path(__file__).resolve().parents[2]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_unknown_city_hint_runs_as_printed_and_the_import_then_works(tmp_path, capsys):
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--cities", "Zagreb,HR"]) == 0
    capsys.readouterr()
    for i in range(2):
        make_photo(tmp_path / "tree" / "Osijek" / f"{i}.jpg", seed=i)
    assert main(["--project", str(proj), "import", str(tmp_path / "tree")]) == 1
    line = _error_line(capsys)
    hint = shlex.split(line.split("`")[1])
    assert hint == ["geospottr", "--project", str(proj), "cities", "--add", "Osijek"]
    assert main(hint[1:]) == 0
    assert "osijek" in capsys.readouterr().out
    assert main(["--project", str(proj), "import", str(tmp_path / "tree")]) == 0
    assert "2 added" in capsys.readouterr().out


def test_init_without_cities_says_how_to_add_them_to_that_project(tmp_path, capsys):
    assert main(["init", str(tmp_path / "empty")]) == 0
    hint = shlex.split(capsys.readouterr().out.split("`")[1])
    assert hint[:3] == ["geospottr", "--project", str(tmp_path / "empty")]
    assert main(hint[1:]) == 0


def test_export_format_follows_the_extension_and_a_mismatch_is_refused(tiny_project, tmp_path, capsys):
    base = ["--project", str(tiny_project.root), "export"]
    assert main([*base, str(tmp_path / "out.geojson")]) == 0
    assert "(geojson)" in capsys.readouterr().out
    data = json.loads((tmp_path / "out.geojson").read_text())  # a file, not an ImageFolder directory
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 48
    assert main([*base, str(tmp_path / "out.csv")]) == 0
    assert (tmp_path / "out.csv").read_text().count("\n") == 49
    assert main([*base, str(tmp_path / "tree")]) == 0
    assert (tmp_path / "tree" / "manifest.csv").is_file()
    capsys.readouterr()  # the exports' progress lines (a non-terminal gets them too)
    assert main([*base, str(tmp_path / "other.geojson"), "--format", "imagefolder"]) == 1
    assert "names a geojson file" in _error_line(capsys)
    assert not (tmp_path / "other.geojson").exists()


def test_stats_errors_and_clean_say_what_they_did_when_all_is_well(tiny_project, capsys):
    base = ["--project", str(tiny_project.root)]
    assert main([*base, "stats", "--errors"]) == 0
    assert "no import errors" in capsys.readouterr().out
    assert main([*base, "clean", "--checks", "frames,duplicates"]) == 0
    assert "no problems found in 48 images (checks: frames, duplicates)" in capsys.readouterr().out


@pytest.mark.parametrize("content", ["text", "sqlite"])
def test_model_file_errors_say_what_the_file_is(tmp_path, capsys, content):
    path = tmp_path / "model.pt"
    if content == "text":
        path.write_text("these are my notes about the model\n" * 100)
    else:
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE t(x)")
        db.commit()
        db.close()
    assert main(["predict", "--model", str(path), str(tmp_path)]) == 1
    line = _error_line(capsys)
    said = {"text": "it is a text file", "sqlite": "it is an SQLite database"}[content]
    assert said in line and "a model bundle is the best.pt" in line
    assert not any(ch.isdigit() for ch in line.replace(str(tmp_path), ""))  # no unexplained numbers


def test_offline_resnet_train_prints_only_our_line(tmp_path):
    """The seed's arch needs torchvision's ResNet50 weights (the default, efficientnet-lite0, ships its own);
    with no way to reach the download server (a proxy on a refused loopback port stands for "offline"), only
    our one-line error shows, not torch's own "Downloading: https://download.pytorch.org/..." line."""
    build_tiny_project(tmp_path).close()
    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy", "http_proxy")}
        env.update(PYTHONPATH=str(REPO), TORCH_HOME=str(tmp_path / "torch-home"), HTTPS_PROXY=proxy,
                   HTTP_PROXY=proxy)
        done = subprocess.run([sys.executable, "-m", "core", "--project", str(tmp_path / "project"), "train",
                               "--arch", "geospottr", "--epochs", "1", "--max-steps", "1", "--device", "cpu"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("geospottr: error: could not get the ImageNet weights")
    assert "--arch efficientnet-lite0" in done.stderr and "Downloading" not in done.stderr + done.stdout
