"""The layers hold (docs/architecture.md): the import-linter contracts in pyproject.toml are kept, the desktop
app and the CLI's entry point load without torch, so the UI thread and ``geospottr --help`` never pay for it
(and never crash on a late native torch import), and ruff's lint and import order are clean."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]


def _run(code: str, root: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
           "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env,
                          timeout=300)


def _require(module: str) -> None:
    """The checkers are in the dev extra that `make test` installs: a missing one fails, never skips, so
    a broken install cannot pass the architecture checks by not running them."""
    try:
        importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{module} is missing: the dev extra installs it (pip install -e '.[dev]')")


_LINT_IMPORTS = ("import sys; from importlinter.cli import lint_imports; "
                 "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")


def test_import_linter_contracts_are_kept():
    _require("importlinter")
    proc = _run(_LINT_IMPORTS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


#: contract id -> (a module of a copy of the tree, an import planted in it that breaks only that contract)
PLANTED = {
    "core-no-qt": ("core/geo.py", "import PySide6"),
    "torch-free-core": ("core/geo.py", "import torch"),
    "gui-views-no-torch": ("geospottr_gui/views/widgets/layouts.py", "import torch"),
    "layers": ("core/data/splitting.py", "import core.evaluation.metrics"),
    "workspaces-independent": ("geospottr_gui/views/dataset/dataset_view.py", "import geospottr_gui.views.predict.predict_view"),
}


@pytest.mark.parametrize("contract", sorted(PLANTED))
def test_each_contract_catches_a_planted_violation(tmp_path, contract):
    """A contract that cannot fail checks nothing: on a copy of the tree with one forbidden import added,
    exactly that contract is reported broken."""
    _require("importlinter")
    for package in ("core", "geospottr_gui"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    module, planted = PLANTED[contract]
    with open(tmp_path / module, "a", encoding="utf-8") as fh:
        fh.write(f"\n{planted}  # planted by tests/test_architecture.py\n")
    proc = _run(_LINT_IMPORTS, root=tmp_path)
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    broken = [c["id"] for c in config if re.search(re.escape(" ".join(c["name"].split())) + r"\s+BROKEN",
                                                      " ".join(proc.stdout.split()))]
    assert proc.returncode != 0 and broken == [contract], proc.stdout + proc.stderr


#: Prints every import cycle between modules (strongly connected components of grimp's module graph, lazy
#: imports inside functions included, `if TYPE_CHECKING:` imports left out), one per line.
_CYCLES = """
import sys
import grimp
sys.setrecursionlimit(20000)
graph = grimp.build_graph("core", "geospottr_gui", exclude_type_checking_imports=True)
edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
index, low, stack, on, found = {}, {}, [], set(), []
def visit(v):
    index[v] = low[v] = len(index); stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        part = []
        while True:
            w = stack.pop(); on.discard(w); part.append(w)
            if w == v:
                break
        if len(part) > 1:
            found.append(sorted(part))
for m in sorted(edges):
    if m not in index:
        visit(m)
for part in found:
    print(" <-> ".join(part))
"""


def test_no_import_cycles_between_modules(tmp_path):
    """The structure map has no cycles: two modules that need each other are one module, or one of them
    names the other only for type hints. Proven able to fail by a cycle planted in a copy of the tree."""
    _require("grimp")
    proc = _run(_CYCLES)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    for package in ("core", "geospottr_gui"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "core" / "geo.py", "a", encoding="utf-8") as fh:
        fh.write("\nimport core.data.importing  # planted by tests/test_architecture.py\n")
    planted = _run(_CYCLES, root=tmp_path)
    assert "core.data.importing" in planted.stdout and "core.geo" in planted.stdout, planted.stdout + planted.stderr


def test_ruff_lint_and_import_order_are_clean():
    _require("ruff")
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


#: Issue 26: no module of the desktop app grows past this; a bigger one is split into named modules.
MAX_GUI_MODULE_LINES = 450


def test_no_gui_module_is_over_the_line_limit():
    lengths = {path.relative_to(REPO).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
               for path in sorted((REPO / "geospottr_gui").rglob("*.py"))}
    offenders = {path: n for path, n in lengths.items() if n > MAX_GUI_MODULE_LINES}
    for path, n in offenders.items():
        print(f"{path}: {n} lines (the limit is {MAX_GUI_MODULE_LINES})")
    assert not offenders, f"GUI modules over {MAX_GUI_MODULE_LINES} lines (split them): {offenders}"
