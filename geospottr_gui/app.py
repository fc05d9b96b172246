"""Start the desktop app: QApplication, then the main window on the last (or default) project.

``geospottr-gui [PROJECT_DIR]`` opens PROJECT_DIR, else the project open last time, else the default
project (``$GEOSPOTTR_PROJECT`` or the platform data folder), created on first run. Nothing here imports
torch: the first window must appear in well under 1.5 s (see ``benchmarks/bench_startup.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The reverse-DNS id used by the .desktop file, the AppStream metainfo and the macOS bundle.
DESKTOP_ID = "io.github.geospottr.GeoSpottr"


def startup_project_dir(explicit: str | None, last: str | None) -> tuple[Path, bool]:
    """(folder, create?) to open at startup: the one asked for, the last one if it still exists, or the default."""
    from core.project import DB_NAME, default_project_dir

    if explicit:
        return Path(explicit).expanduser(), True
    if last and (Path(last) / DB_NAME).exists() and "GEOSPOTTR_PROJECT" not in os.environ:
        return Path(last), False
    return default_project_dir(), True


def main(argv: list[str] | None = None) -> int:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # QtWebEngine's Chromium refuses to run its sandbox as root.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    args = list(sys.argv if argv is None else argv)
    smoke_test = "--smoke-test" in args
    args = [a for a in args if a != "--smoke-test"]
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from core.errors import GeoSpottrError
    from core.project import Project, default_project_dir
    from core.resources import resource_path

    from .context import AppContext
    from .main_window import MainWindow
    from .workers import stop_all_jobs

    # The Map tabs (QtWebEngine) are created lazily; sharing GL contexts must be set before the app exists.
    QApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(args)
    app.setOrganizationName("GeoSpottr")
    app.setApplicationName("GeoSpottr")
    # Matches packaging/linux/<id>.desktop so Wayland/X11 docks group the window under the app's icon.
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(QIcon(str(resource_path("icons", "geospottr-256.png"))))
    settings = QSettings("GeoSpottr", "GeoSpottr")
    positional = [a for a in args[1:] if not a.startswith("-")]
    root, create = startup_project_dir(positional[0] if positional else None, settings.value("lastProject"))
    try:
        project = Project.open(root, create=create)
    except GeoSpottrError as exc:
        QMessageBox.warning(None, "GeoSpottr", f"{exc}\nOpening the default project instead.")
        project = Project.open(default_project_dir(), create=True)
    context = AppContext(project, settings)
    window = MainWindow(context)
    window.show()
    if smoke_test:
        # Packaging check (packaging/check_wheel.py): the real window plus a QtWebEngine page, then exit.
        from .smoke import run_smoke_test

        code = run_smoke_test(app, window)
    else:
        code = app.exec()
    stop_all_jobs()  # a QThread still running when the interpreter exits aborts the process
    return code


if __name__ == "__main__":
    sys.exit(main())
