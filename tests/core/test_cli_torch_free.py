"""Commands that need no tensor never import torch, so they answer at once on a fresh machine (torch's
import took 15 s on a first run there). Each command really runs, in its own interpreter, on a real
project; the test then looks at ``sys.modules``. Figures: benchmarks/bench_cli_startup.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import build_tiny_project

REPO = Path(__file__).resolve().parents[2]

#: issue 16's list: everything that reads or writes the project without a model.
COMMANDS = [
    ["--help"], ["models"], ["cities", "santiago"], ["cities", "--list"], ["stats"], ["stats", "--errors"],
    ["runs"], ["split"], ["export", "{tmp}/out.csv"], ["challenge", "--scoreboard"],
    ["challenge", "--run", "some-run", "--scoreboard"],
]

RUN = """
import sys
from core.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help
    code = exc.code
heavy = sorted(m for m in ("torch", "torchvision") if m in sys.modules)
sys.exit(f"loaded {heavy}" if heavy else code)
"""


@pytest.fixture(scope="module")
def project_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("torch-free")
    build_tiny_project(root).close()
    return root / "project"


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_command_runs_without_importing_torch(argv, project_root, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    args = ["--project", str(project_root), *(a.format(tmp=tmp_path) for a in argv)]
    done = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()  # it said something
