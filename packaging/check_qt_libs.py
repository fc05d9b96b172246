"""Before `make run` opens the app: are the system libraries Qt needs on this Linux machine?

    python packaging/check_qt_libs.py      # exit 0: all there (or not Linux); 1: prints what to install

Checks every Qt file the app loads (its window, GUI and web engine for the maps); the rules and the
package names live in `geospottr_gui.qt_libs`, which ``geospottr-gui`` also runs before it starts Qt.
"""

from __future__ import annotations

import platform
import shutil
import sys

from geospottr_gui.qt_libs import QT_FILES, apt_line, install_advice, missing_for, missing_libraries, qt_dir

__all__ = ["apt_line", "main", "missing_libraries"]


def main() -> int:
    if platform.system() != "Linux" or not shutil.which("ldd"):
        return 0
    qt = qt_dir()
    if qt is None:
        print("PySide6 is not installed in this Python; run `make install` first", file=sys.stderr)
        return 1
    missing = missing_for(qt, QT_FILES)
    if not missing:
        return 0
    print("The desktop app cannot start: Qt needs system libraries this machine lacks:", file=sys.stderr)
    print("  " + " ".join(missing), file=sys.stderr)
    advice = install_advice(missing)
    print(advice[0].upper() + advice[1:], file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
