"""GUI test setup shared by every tests/gui module.

QtWebEngine must be imported, and OpenGL contexts shared, before pytest-qt creates the QApplication.
"""

from PySide6 import QtWebEngineWidgets  # noqa: F401  (import before the QApplication exists)
from PySide6.QtCore import QCoreApplication, Qt

QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def context_for(project, tmp_path):
    """An AppContext whose settings live in tmp_path: Qt caches the user settings path per process, so
    the default QSettings would carry one test's choices (a model path) into the next."""
    from PySide6.QtCore import QSettings

    from geospottr_gui.context import AppContext

    return AppContext(project, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
