"""Build the sdist and wheel, install the wheel into a brand-new venv, and check that it works there.

    python packaging/check_wheel.py [--out DIR] [--no-isolation] [--keep]

Checks, each printed as it passes (exit 1 with the reason at the first failure):
  * the wheel holds core, geospottr_gui and geospottr_resources (icons) and both entry points;
    the sdist holds resources/ and packaging/;
  * in a fresh venv (no --system-site-packages), after `pip install torch==2.14.1 torchvision==0.29.1`
    (the pinned pair; taken from the local wheel cache where one exists) and `pip install <wheel>`:
    `geospottr --help`, `geospottr --version`, `geospottr versions`, resources found inside the venv,
    and `geospottr-gui --smoke-test` opening the main window offscreen and exiting 0.
The venv's commands run from an empty folder with private XDG dirs, so neither the checkout nor the
user's real data can leak in.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH_PIN = ["torch==2.14.1", "torchvision==0.29.1"] if platform.machine() in ("x86_64", "AMD64") else \
    ["torch==2.9.1", "torchvision==0.24.1"]  # same pins as the Makefile


class CheckFailed(Exception):
    """One failed check, with what was expected and what came out."""


def run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 1800) -> str:
    """Run `cmd`; its stdout+stderr on success, CheckFailed with the tail of the output otherwise."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise CheckFailed(f"`{' '.join(cmd)}` exited {proc.returncode}:\n  " + "\n  ".join(tail))
    return proc.stdout + proc.stderr


def ok(message: str, started: float) -> None:
    print(f"ok  {message}  ({time.monotonic() - started:.1f} s)", flush=True)


def build(out: Path, isolation: bool) -> tuple[Path, Path]:
    """`python -m build` into `out`; the wheel and sdist paths."""
    cmd = [sys.executable, "-m", "build", "--outdir", str(out)] + ([] if isolation else ["--no-isolation"])
    run(cmd + [str(REPO)], cwd=REPO)
    wheels, sdists = sorted(out.glob("geospottr-*.whl")), sorted(out.glob("geospottr-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise CheckFailed(f"expected one wheel and one sdist in {out}, found {wheels + sdists}")
    return wheels[0], sdists[0]


def check_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next((zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")), "")
    needed = ["core/__init__.py", "core/resources.py", "core/versions.py", "geospottr_gui/app.py",
              "geospottr_resources/__init__.py", "geospottr_resources/icons/geospottr.svg",
              "geospottr_resources/icons/geospottr-256.png"]
    missing = [n for n in needed if n not in names]
    if missing:
        raise CheckFailed(f"{wheel.name} lacks {missing}")
    if any("__pycache__" in n or n.endswith(".pyc") for n in names):
        raise CheckFailed(f"{wheel.name} contains bytecode caches")
    for script in ("geospottr = core.cli.main:main", "geospottr-gui = geospottr_gui.app:main"):
        if script not in entry_points:
            raise CheckFailed(f"{wheel.name} entry_points.txt lacks `{script}`:\n{entry_points}")


def check_sdist_contents(sdist: Path) -> None:
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    needed = ["setup.py", "resources/icons/geospottr.svg", "resources/icons/geospottr-512.png",
              "packaging/geospottr.spec", "packaging/linux/io.github.geospottr.GeoSpottr.desktop"]
    missing = [n for n in needed if n not in names]
    if missing:
        raise CheckFailed(f"{sdist.name} lacks {missing}")


def venv_bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / (name + (".exe" if os.name == "nt" else ""))


def isolated_env(home: Path) -> dict[str, str]:
    """The environment for the venv's commands: offscreen Qt, private XDG dirs, nothing from the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "GEOSPOTTR_PROJECT")}
    env.update(QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), HOME=env.get("HOME", str(home)))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    return env


def check_installed(wheel: Path, work: Path) -> None:
    venv, empty, home = work / "venv", work / "cwd", work / "home"
    empty.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    env = isolated_env(home)
    python = venv_bin(venv, "python")

    t = time.monotonic()
    run([sys.executable, "-m", "venv", str(venv)], cwd=empty)
    run([str(python), "-m", "pip", "install", "-q", *TORCH_PIN], cwd=empty, env=env)
    ok(f"fresh venv {venv} with {' '.join(TORCH_PIN)}", t)

    t = time.monotonic()
    run([str(python), "-m", "pip", "install", "-q", str(wheel)], cwd=empty, env=env)
    ok(f"pip install {wheel.name}", t)

    t = time.monotonic()
    helptext = run([str(venv_bin(venv, "geospottr")), "--help"], cwd=empty, env=env)
    if "usage: geospottr" not in helptext:
        raise CheckFailed(f"`geospottr --help` printed no usage:\n{helptext}")
    version = run([str(venv_bin(venv, "geospottr")), "--version"], cwd=empty, env=env).strip()
    versions = run([str(venv_bin(venv, "geospottr")), "versions"], cwd=empty, env=env)
    ok(f"geospottr --help; --version: {version}; versions: "
       + "; ".join(line.split(None, 1)[-1] for line in versions.splitlines()[:3]), t)

    t = time.monotonic()
    probe = ("import core, core.resources as r; "
             "print(core.__file__); print(r.resource_path('icons', 'geospottr-256.png'))")
    core_file, icon = run([str(python), "-c", probe], cwd=empty, env=env).split()
    for path in (core_file, icon):
        if not Path(path).resolve().is_relative_to(venv.resolve()) or not Path(path).is_file():
            raise CheckFailed(f"{path} should be a file inside {venv} (is the checkout leaking in?)")
    ok(f"installed resources found at {icon}", t)

    t = time.monotonic()
    run([str(venv_bin(venv, "geospottr-gui")), "--smoke-test"], cwd=empty, env=env, timeout=300)
    ok("geospottr-gui --smoke-test: main window and a QtWebEngine page opened offscreen, exit 0", t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="work folder (default: a new temporary folder)")
    parser.add_argument("--no-isolation", action="store_true",
                        help="build with this Python's setuptools instead of an isolated build env (faster, offline)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (wheel, sdist, venv) afterwards")
    args = parser.parse_args(argv)
    work = (args.out or Path(tempfile.mkdtemp(prefix="geospottr-wheel-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        t = time.monotonic()
        wheel, sdist = build(work / "dist", isolation=not args.no_isolation)
        check_wheel_contents(wheel)
        check_sdist_contents(sdist)
        ok(f"python -m build: {wheel.name} ({wheel.stat().st_size // 1024} KiB), {sdist.name}", t)
        check_installed(wheel, work)
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep and args.out is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"all checks passed{f'; kept {work}' if args.keep or args.out else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
