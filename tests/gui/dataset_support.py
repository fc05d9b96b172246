"""A real main window over a given project for the Dataset workspace tests (settings in a temp INI file)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from core.data.project import Project
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


def download_panel_on_fake_apis(qtbot, project: Project, tmp_path: Path, apis):
    """(window, Dataset > Download panel) pointed at the loopback Street View server `apis`, with its key
    entered and not remembered, fast retries and small frames: a real download that ends in seconds."""
    from core.acquisition.streetview import StreetViewParams
    from tests.core.acquisition.conftest import FAST_RETRY

    window = make_window(qtbot, project, tmp_path)
    view = dataset(window)
    panel = view.download
    view.show_panel(panel)
    panel.config_overrides = {"base_url": apis.streetview_url, "retry": FAST_RETRY, "qps": None,
                              "streetview": StreetViewParams(size=64, radius_m=300)}
    panel.remember.setChecked(False)
    panel.key.setText(apis.world.key)
    return window, panel
