"""GUI test setup shared by every tests/gui module.

QtWebEngine must be imported, and OpenGL contexts shared, before pytest-qt creates the QApplication.
"""

import pytest
from PySide6 import QtWebEngineWidgets  # noqa: F401  (import before the QApplication exists)
from PySide6.QtCore import QCoreApplication, Qt

QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def context_for(project, tmp_path):
    """An AppContext whose settings live in tmp_path: Qt caches the user settings path per process, so
    the default QSettings would carry one test's choices (a model path) into the next."""
    from PySide6.QtCore import QSettings

    from geospottr_gui.context import AppContext

    return AppContext(project, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def dataset_map(qtbot, tmp_path, tiny_project):
    """The Dataset map of the tiny project, its page loaded; a test that patches `core.maps` first requests
    this fixture after patching (``request.getfixturevalue``)."""
    from geospottr_gui.views.dataset.dataset_map import DatasetMapView

    v = DatasetMapView(context_for(tiny_project, tmp_path))
    qtbot.addWidget(v)
    v.resize(900, 700)
    with qtbot.waitSignal(v.refreshed, timeout=30000):
        v.show()
    qtbot.waitUntil(lambda: v.map.is_loaded, timeout=20000)
    yield v
    v.shutdown()
    v.deleteLater()
    qtbot.wait(50)  # pages must be gone before QtWebEngine's profile at exit
