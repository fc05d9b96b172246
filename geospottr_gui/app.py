"""Start the desktop app: QApplication, then the main window on the last (or default) project."""

from __future__ import annotations

import os
import sys

#: The reverse-DNS id used by the .desktop file, the AppStream metainfo and the macOS bundle.
DESKTOP_ID = "io.github.geospottr.GeoSpottr"


def main(argv: list[str] | None = None) -> int:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # QtWebEngine's Chromium refuses to run its sandbox as root.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    args = list(sys.argv if argv is None else argv)
    smoke_test = "--smoke-test" in args
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from core.project import Project, default_project_dir
    from core.resources import resource_path

    from .context import AppContext
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication([a for a in args if a != "--smoke-test"])
    app.setOrganizationName("GeoSpottr")
    app.setApplicationName("GeoSpottr")
    # Matches packaging/linux/<id>.desktop so Wayland/X11 docks group the window under the app's icon.
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(QIcon(str(resource_path("icons", "geospottr-256.png"))))
    context = AppContext(Project.open(default_project_dir(), create=True))
    window = MainWindow(context)
    window.show()
    if smoke_test:
        # Packaging check (packaging/check_wheel.py): build the real window, run the loop briefly, exit 0.
        QTimer.singleShot(1500, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
