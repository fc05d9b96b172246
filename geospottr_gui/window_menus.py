"""The main window's menu bar (File, Edit, View, Help) and what its Edit menu drives: undo / redo of the
curation history. Its own module so the window module keeps to building the workspaces and the status bar;
`MainWindow` mixes this in and calls `_build_menus()` once its workspaces are listed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from . import settings as keys
from .context import AppContext
from .plaintext import warn
from .qt_mixins import MainWindowMixin
from .views.widgets.dialogs import AboutDialog, ShortcutsDialog


class WindowMenus(MainWindowMixin):
    """Menus and undo / redo of `MainWindow` (mixed into that QMainWindow, which provides these attributes
    and the slots the File menu names: `new_project`, `import_paths`'s dialogs, `export_dialog`...)."""

    context: AppContext
    versions: dict[str, str] | None
    about: AboutDialog | None
    _specs: dict[str, tuple[str, str]]
    recent_menu: QMenu
    undo_action: QAction
    redo_action: QAction
    online_tiles_action: QAction

    # ------------------------------------------------------------------ menus
    def _action(self, menu: QMenu, text: str, slot: Callable[..., Any], shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [shortcut])
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New project…", self.new_project, QKeySequence.StandardKey.New)
        self._action(file, "&Open project…", self.open_project_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        self._action(file, "&Import folder…", self.import_folder_dialog, QKeySequence("Ctrl+I"))
        self._action(file, "Import &CSV…", self.import_csv_dialog)
        self._action(file, "&Export…", self.export_dialog, QKeySequence("Ctrl+E"))
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, QKeySequence("Ctrl+Z"))
        self.redo_action = self._action(edit, "&Redo", self.redo, [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        view = bar.addMenu("&View")
        for n, title in enumerate(self._specs, 1):
            self._action(view, title, lambda _checked=False, t=title: self.show_workspace(t), QKeySequence(f"Ctrl+{n}"))
        view.addSeparator()
        self.online_tiles_action = self._action(view, "Online map &tiles", self._set_online_tiles)
        self.online_tiles_action.setCheckable(True)
        self.online_tiles_action.setChecked(keys.online_tiles(self.context.settings))
        self.online_tiles_action.setToolTip("Lay OpenStreetMap tiles over the offline basemap in maps shown from now on")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", lambda: ShortcutsDialog(self).exec(), QKeySequence("F1"))
        self._action(help_menu, "&About GeoSpottr", self.show_about)

    def _set_online_tiles(self, on: bool) -> None:
        keys.ONLINE_TILES.set(self.context.settings, bool(on))
        self.statusBar().showMessage("online map tiles " + ("on" if on else "off") + " for the next maps shown", 4000)

    def show_about(self) -> AboutDialog:
        """Open Help > About (window-modal); it fills in the versions when the probe job has them."""
        if self.about is None:
            self.about = AboutDialog(self.versions, self)
            self.about.finished.connect(lambda _result: setattr(self, "about", None))
        self.about.open()
        return self.about

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.context.recent_projects():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_project(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ------------------------------------------------------------------ undo / redo
    def _update_undo(self) -> None:
        history, busy = self.context.history, self.context.curator.busy
        # While a big edit runs in a worker, neither may start: the history records it only once applied.
        self.undo_action.setEnabled(history.can_undo and not busy)
        self.redo_action.setEnabled(history.can_redo and not busy)
        self.undo_action.setText(f"&Undo {history.undo_text}" if history.can_undo else "&Undo")
        self.redo_action.setText(f"&Redo {history.redo_text}" if history.can_redo else "&Redo")

    def undo(self) -> None:
        self._history_step(self.context.curator.undo)

    def redo(self) -> None:
        self._history_step(self.context.curator.redo)

    def _history_step(self, step: Any) -> None:
        """Undo / redo through the curator (a big one runs in a worker and reports when done)."""
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - GeoSpottrError or a database error: tell, keep running
            warn(self, "GeoSpottr", str(exc))
            return
        self._update_undo()
