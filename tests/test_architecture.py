"""The layers hold (docs/architecture.md): the import-linter contracts in pyproject.toml are kept, the desktop
app and the CLI's entry point load without torch, so the UI thread and ``geospottr --help`` never pay for it
(and never crash on a late native torch import), and ruff's lint and import order are clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)


def test_import_linter_contracts_are_kept():
    pytest.importorskip("importlinter", reason="import-linter is in the dev extra (pip install -e .[dev])")
    proc = _run("import sys; from importlinter.cli import lint_imports; "
                "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_lint_and_import_order_are_clean():
    pytest.importorskip("ruff", reason="ruff is in the dev extra (pip install -e .[dev])")
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr + "\n(`ruff check --fix .` sorts imports)"


def _torch_free_core_modules() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    return next(c["source_modules"] for c in config if c["id"] == "torch-free-core")


def test_every_gui_module_and_the_cli_entry_point_load_without_torch():
    modules = ["core.cli.main", *_torch_free_core_modules()]
    code = f"""
import importlib, pkgutil, sys
import geospottr_gui
names = {modules!r} + [m.name for m in pkgutil.walk_packages(geospottr_gui.__path__, 'geospottr_gui.')]
for name in names:
    importlib.import_module(name)
    if 'torch' in sys.modules:
        sys.exit(f'importing {{name}} loaded torch')
print(len(names))
"""
    proc = _run(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert int(proc.stdout.split()[-1]) > 30  # the walk really found the app's modules
