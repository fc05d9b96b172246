"""`geospottr-gui` on a Linux machine without Qt's X11 libraries (issue 27 item 10): one line naming the
package to install, exit status 1, instead of Qt's raw abort."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the X11 library check is Linux-only")
def test_a_missing_xcb_library_is_named_with_its_package(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ldd = bin_dir / "ldd"  # this machine's ldd, as on a desktop-less Ubuntu: libxcb-cursor is not there
    ldd.write_text("#!/bin/sh\nprintf '\\tlibxcb-cursor.so.0 => not found\\n\\tlibc.so.6 => /lib/libc.so.6\\n'\n")
    ldd.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(PATH=str(bin_dir), DISPLAY=":0", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "geospottr_gui.app"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "geospottr-gui: Qt cannot open a window: this system lacks libxcb-cursor.so.0; install the packages that "
        "provide them with your system's package manager (on Debian/Ubuntu: sudo apt-get install -y libxcb-cursor0)"]


def test_offscreen_and_wayland_starts_are_not_checked(monkeypatch):
    from geospottr_gui import qt_libs

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert qt_libs.startup_problem() is None
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert qt_libs.startup_problem() is None
