"""Install sized for the machine: `make` says which torch build it installs (TORCH=cpu: PyTorch's CPU
index), and `make run` names the missing Qt system libraries with the exact apt-get line."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, load_script


def _make_dry_run(*args: str) -> subprocess.CompletedProcess:
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    return subprocess.run(["make", "-n", "-B", "install", "VENV=/nonexistent/venv", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_make_prints_and_installs_the_torch_build_asked_for():
    cpu = _make_dry_run("TORCH=cpu").stdout
    assert "installing torch: the CPU-only build" in cpu
    assert "pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch==" in cpu
    default = _make_dry_run().stdout
    assert "installing torch: torch==" in default and "download.pytorch.org" not in default
    wrong = _make_dry_run("TORCH=cuda")
    assert wrong.returncode != 0 and "TORCH must be pinned or cpu" in wrong.stderr


def _check_qt_libs():
    return load_script("packaging/check_qt_libs.py")


def test_missing_qt_libraries_become_one_apt_get_line():
    check = _check_qt_libs()
    ldd = ("\tlinux-vdso.so.1 (0x00007ffd)\n"
           "\tlibxcb-cursor.so.0 => not found\n"
           "\tlibQt6Gui.so.6 => /venv/PySide6/Qt/lib/libQt6Gui.so.6 (0x00007f)\n"
           "\tlibxkbcommon-x11.so.0 => not found\n"
           "\tlibasound.so.2 => not found\n"
           "\tlibxcb-cursor.so.0 => not found\n")
    missing = check.missing_libraries(ldd)
    assert missing == ["libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libasound.so.2"]
    assert check.apt_line(missing) == "sudo apt-get install -y libasound2 libxcb-cursor0 libxkbcommon-x11-0"
    assert check.apt_line(missing, t64=True) == "sudo apt-get install -y libasound2t64 libxcb-cursor0 libxkbcommon-x11-0"


def test_the_check_runs_here_and_either_passes_silently_or_names_the_packages():
    """Real `ldd` on the installed Qt: silent when all is there (a desktop), else the exact packages (CI
    installs only what offscreen Qt needs, so the xcb libraries may well be missing there)."""
    done = subprocess.run([sys.executable, str(REPO / "packaging" / "check_qt_libs.py")], capture_output=True,
                          text=True, timeout=60)
    if done.returncode == 0:
        assert done.stderr == ""
    else:
        assert "Qt needs system libraries" in done.stderr and "apt-get install -y lib" in done.stderr
