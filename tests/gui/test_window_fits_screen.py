"""The first window fits the screen it opens on (issue 27 item 11): 1280x820 on a big screen, the available
area less the title bar on a small one, so the status bar stays visible on an 800-px screen."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from geospottr_gui import settings as keys
from geospottr_gui.context import AppContext
from geospottr_gui.main_window import FIRST_SIZE, FRAME_MARGIN, WORKSPACES, MainWindow, fitted_size


def test_fitted_size_keeps_the_framed_window_in_the_available_area():
    assert fitted_size(*FIRST_SIZE, 1920, 1040) == FIRST_SIZE
    assert fitted_size(*FIRST_SIZE, 1280, 800) == (1280, 800 - FRAME_MARGIN)
    assert fitted_size(*FIRST_SIZE, 1024, 728) == (1024, 728 - FRAME_MARGIN)


def _window(qtbot, project, settings: QSettings) -> MainWindow:
    window = MainWindow(AppContext(project, settings), WORKSPACES[:1])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_new_and_restored_windows_fit_the_screen(qtbot, tiny_project, tmp_path):
    area = QApplication.primaryScreen().availableGeometry()  # offscreen: 800x800
    assert area.height() < FIRST_SIZE[1]  # the screen is the small one this is about
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = _window(qtbot, tiny_project, settings)
    assert window.height() <= area.height() - FRAME_MARGIN
    assert window.statusBar().isVisible() and window.geometry().bottom() <= area.bottom()
    window.close()
    # A size and place saved on a bigger monitor come back inside this one.
    big = MainWindow(AppContext(tiny_project, settings), WORKSPACES[:1])
    qtbot.addWidget(big)
    big.resize(1600, 1100)
    big.move(900, 700)
    keys.WINDOW_GEOMETRY.set(settings, big.saveGeometry())
    big.deleteLater()
    restored = _window(qtbot, tiny_project, settings)
    geometry = restored.geometry()
    assert geometry.height() <= area.height() - FRAME_MARGIN and geometry.top() >= area.top()
    assert geometry.bottom() <= area.bottom() and geometry.left() <= area.right()
    restored.close()
