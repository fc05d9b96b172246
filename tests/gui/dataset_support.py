"""A real main window over a given project for the Dataset workspace tests (settings in a temp INI file)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from core.project import Project
from geospottr_gui.context import AppContext
from geospottr_gui.main_window import WORKSPACES, MainWindow


def make_window(qtbot, project: Project, tmp_path: Path, all_workspaces: bool = False) -> MainWindow:
    """The window with only the Dataset workspace (other workspaces have their own tests) unless asked."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(AppContext(project, settings), None if all_workspaces else WORKSPACES[:1])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()  # window shortcuts (Ctrl+Z) need the active window
    qtbot.waitUntil(window.isActiveWindow)
    return window


def dataset(window: MainWindow):
    return window.workspaces["Dataset"]
