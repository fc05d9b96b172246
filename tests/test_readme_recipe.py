"""The README's "Try it on the sample photos" recipe runs as written (issue 27): its lines, verbatim, in a
fresh home folder, from the repository folder, with the venv's `geospottr` on the PATH, as a newcomer who
followed "The `geospottr` command" would. It needs the development photos at ../shared/data/gsv-croatia
(the path the recipe names) and skips without them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RECIPE_HEADING = "## Try it on the sample photos"


def recipe_lines(readme: str) -> list[str]:
    """The commands of the first ```sh block under the recipe heading, comments kept (bash ignores them)."""
    section = readme.split(RECIPE_HEADING, 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert block is not None, "the recipe has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_recipe_is_six_lines_init_import_split_train_predict_evaluate():
    lines = recipe_lines((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(lines) <= 6
    words = [line.split()[3] if line.split()[1] == "--project" else line.split()[1] for line in lines]
    assert words[:5] == ["init", "import", "split", "train", "predict"]
    assert "Zagreb,Osijek,Rijeka,Split" in lines[0]


def test_make_shell_puts_the_venv_on_the_path():
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-n", "shell", "VENV=/nonexistent/venv"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert 'PATH="/nonexistent/venv/bin:$PATH"' in done.stdout


def test_the_recipe_runs_verbatim_in_a_fresh_project(tmp_path):
    photos = REPO.parent / "shared" / "data" / "gsv-croatia"
    if not (photos / "manifest.csv").is_file():
        pytest.skip(f"the recipe's sample photos are not at {photos} (a development machine has them)")
    env = {**os.environ, "HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GEOSPOTTR_PROJECT", None)
    outputs = []
    for line in recipe_lines((REPO / "README.md").read_text(encoding="utf-8")):
        done = subprocess.run(["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"`{line}` failed:\n{done.stderr[-3000:]}"
        outputs.append(done)
    init, imported, split, train, predict = outputs[:5]
    assert "cities: osijek, rijeka, split, zagreb" in init.stdout
    assert "400 added" in imported.stdout
    assert "train" in split.stdout and "test" in split.stdout
    assert ": finished" in train.stdout and "best checkpoint: " in train.stdout
    assert "using the project's model: run " in predict.stderr
    ranking = [line.split()[1] for line in predict.stdout.splitlines()[2:]]
    assert sorted(ranking) == ["Osijek", "Rijeka", "Split", "Zagreb"]  # all four cities, ranked
    if len(outputs) > 5:
        assert "per image" in outputs[5].stdout
