"""Start the desktop app: QApplication, then the main window on the last (or default) project."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # QtWebEngine's Chromium refuses to run its sandbox as root.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    from PySide6.QtWidgets import QApplication

    from core.project import Project, default_project_dir

    from .context import AppContext
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setOrganizationName("GeoSpottr")
    app.setApplicationName("GeoSpottr")
    context = AppContext(Project.open(default_project_dir(), create=True))
    window = MainWindow(context)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
