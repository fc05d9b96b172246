"""Are the system libraries Qt needs on this Linux machine? Stdlib only, Qt-free: it runs before Qt loads.

PySide6's wheels bring Qt itself but not the X11 / OpenGL / font libraries it links against. On a fresh
desktop-less Debian or Ubuntu (a server, a container, WSL) Qt then aborts at start with "Could not load
the Qt platform plugin xcb", a message that names no package. `ldd` says which libraries Qt's files cannot
find, and `apt_line` turns them into the exact ``apt-get install`` line. Used by `make run`
(``packaging/check_qt_libs.py``: every file the app needs) and by ``geospottr-gui`` itself before it
starts Qt (`startup_problem`: the xcb platform plugin only, about 20 ms).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
from pathlib import Path

#: Qt files whose dependencies decide whether the desktop app starts (relative to PySide6/Qt).
QT_FILES = ("plugins/platforms/libqxcb.so", "lib/libQt6XcbQpa.so.6", "lib/libQt6Gui.so.6",
            "lib/libQt6WebEngineCore.so.6")
#: What Qt loads to open its first window under X11: a library missing here is the raw abort at start.
XCB_FILES = QT_FILES[:2]

#: Debian / Ubuntu package of each library Qt may miss.
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1", "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xinerama.so.0": "libxcb-xinerama0", "libxcb-dri3.so.0": "libxcb-dri3-0", "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1", "libX11.so.6": "libx11-6", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbfile.so.1": "libxkbfile1", "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1", "libGLX.so.0": "libglx0", "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6", "libdbus-1.so.3": "libdbus-1-3",
    "libnss3.so": "libnss3", "libnssutil3.so": "libnss3", "libsmime3.so": "libnss3", "libnspr4.so": "libnspr4",
    "libplc4.so": "libnspr4", "libplds4.so": "libnspr4", "libXcomposite.so.1": "libxcomposite1",
    "libXdamage.so.1": "libxdamage1", "libXrandr.so.2": "libxrandr2", "libXtst.so.6": "libxtst6",
    "libXext.so.6": "libxext6", "libXfixes.so.3": "libxfixes3", "libXrender.so.1": "libxrender1",
    "libxshmfence.so.1": "libxshmfence1", "libgbm.so.1": "libgbm1", "libdrm.so.2": "libdrm2",
    "libasound.so.2": "libasound2", "libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0",
    "libwayland-server.so.0": "libwayland-server0",
}
#: Packages renamed with a ``t64`` suffix in Ubuntu 24.04 / Debian 13 (the old name is then virtual).
T64_RENAMED = {"libasound2", "libglib2.0-0"}


def missing_libraries(ldd_output: str) -> list[str]:
    """The ``NAME => not found`` libraries of `ldd` output, in order, once each."""
    found: list[str] = []
    for line in ldd_output.splitlines():
        name, _, where = line.strip().partition("=>")
        if where.strip() == "not found" and name.strip() not in found:
            found.append(name.strip())
    return found


def apt_line(libraries: list[str], t64: bool = False) -> str:
    """``sudo apt-get install -y ...`` for the packages holding `libraries` (unknown ones are left out)."""
    packages = sorted({PACKAGES[lib] + ("t64" if t64 and PACKAGES[lib] in T64_RENAMED else "")
                       for lib in libraries if lib in PACKAGES})
    return "sudo apt-get install -y " + " ".join(packages) if packages else ""


def _uses_t64_names() -> bool:
    """Whether this Debian/Ubuntu release names libasound2 ``libasound2t64``."""
    if not shutil.which("apt-cache"):
        return False
    done = subprocess.run(["apt-cache", "show", "libasound2t64"], capture_output=True, check=False)
    return done.returncode == 0


def qt_dir() -> Path | None:
    """PySide6's bundled ``Qt`` folder, found without importing PySide6 (None: not installed)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "Qt"


def missing_for(qt: Path, files: tuple[str, ...]) -> list[str]:
    """The libraries `files` (under `qt`) need that `ldd` cannot find, Qt's own excepted, once each."""
    missing: list[str] = []
    for name in files:
        if (qt / name).is_file():
            done = subprocess.run(["ldd", str(qt / name)], capture_output=True, text=True, check=False)
            missing += [lib for lib in missing_libraries(done.stdout) if lib not in missing and "Qt6" not in lib]
    return missing


def install_advice(missing: list[str]) -> str:
    """How to get `missing`: the apt-get line where apt exists, else the package names to look for."""
    line = apt_line(missing, _uses_t64_names())
    if line and shutil.which("apt-get"):
        return f"install them with: {line}"
    return ("install the packages that provide them with your system's package manager "
            f"(on Debian/Ubuntu: {line or 'see the names above'})")


def startup_problem() -> str | None:
    """Why Qt would abort opening a window on this machine, as one line naming what to install; None when
    nothing is missing, off Linux, or when Qt will not use X11 (``QT_QPA_PLATFORM=offscreen``, Wayland)."""
    if platform.system() != "Linux" or not shutil.which("ldd"):
        return None
    default = "wayland" if os.environ.get("WAYLAND_DISPLAY") else "xcb"
    if not (os.environ.get("QT_QPA_PLATFORM") or default).startswith("xcb"):
        return None
    qt = qt_dir()
    missing = missing_for(qt, XCB_FILES) if qt is not None else []
    if not missing:
        return None
    return f"Qt cannot open a window: this system lacks {' '.join(missing)}; {install_advice(missing)}"
