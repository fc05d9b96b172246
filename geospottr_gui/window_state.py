"""The main window's life at both ends: its saved geometry, layout and workspace restored (and fitted to
the screen) when it opens, and on close the question to stop running jobs, the state saved and every job
stopped. Its own module so the window module keeps to navigation and the status bar; `MainWindow` mixes it in."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QListWidget, QMessageBox

from . import settings as keys
from .context import AppContext
from .qt_mixins import MainWindowMixin
from .workers import JobHandle, job_board, stop_all_jobs

#: The first window's size, where the screen has room for it.
FIRST_SIZE = (1280, 820)
#: What the window system adds around the size `resize` sets: the title bar and borders.
FRAME_MARGIN = 40


def fitted_size(width: int, height: int, available_width: int, available_height: int) -> tuple[int, int]:
    """(width, height) shrunk, where needed, so the framed window fits the screen's available area."""
    return min(width, available_width), min(height, available_height - FRAME_MARGIN)


class WindowState(MainWindowMixin):
    """Open and close of `MainWindow` (mixed into that QMainWindow, which provides these attributes)."""

    context: AppContext
    nav: QListWidget
    closed: Signal
    exits_process: bool
    _pending_row: int | None

    def _restore_state(self) -> None:
        settings = self.context.settings
        geometry = keys.WINDOW_GEOMETRY.get(settings)
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(*FIRST_SIZE)
        self._fit_screen(placed=not geometry.isEmpty())
        state = keys.WINDOW_STATE.get(settings)
        if not state.isEmpty():
            self.restoreState(state)
        row = min(max(0, keys.WINDOW_WORKSPACE.get(settings)), max(0, self.nav.count() - 1))
        self.nav.setCurrentRow(0)
        if row:  # built after the first paint, so a slow workspace does not delay the window
            self._pending_row = row
            QTimer.singleShot(50, self, self._restore_workspace)

    def _fit_screen(self, placed: bool) -> None:
        """Keep the window inside its screen's available area (without panels and docks), its title bar
        included: the first window's 1280x820, or a size saved on a bigger monitor, would put the status
        bar below the edge of an 800-px screen. A `placed` window (a restored position) is also moved
        back inside; a new one is left where the window manager puts it."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        width, height = fitted_size(self.width(), self.height(), area.width(), area.height())
        self.resize(width, height)
        if placed:
            self.move(max(area.left(), min(self.x(), area.right() + 1 - width)),
                      max(area.top(), min(self.y(), area.bottom() + 1 - height - FRAME_MARGIN)))

    def _restore_workspace(self) -> None:
        if self._pending_row is not None:
            self.nav.setCurrentRow(self._pending_row)
            self._pending_row = None

    def closeEvent(self, event: QCloseEvent) -> None:
        """Quit: a running training, evaluation, download or scan is stopped only if the user agrees; a job
        that keeps work (training, download, import) is waited for, so a run keeps its checkpoint, any other
        is cancelled and not waited for. The window goes at once."""
        running = [h for h in job_board().handles if h.running]
        if running and not self._confirm_stop(running):
            event.ignore()
            return
        settings = self.context.settings
        keys.WINDOW_GEOMETRY.set(settings, self.saveGeometry())
        keys.WINDOW_STATE.set(settings, self.saveState())
        keys.WINDOW_WORKSPACE.set(settings, self.nav.currentRow())
        monitors = sys.modules.get("geospottr_gui.views.train.monitor_window")  # loaded once one was opened
        if monitors is not None:
            monitors.close_monitors()  # they would stop following with the jobs below; their runs go on
        self.hide()
        for handle in running:
            handle.cancel()
        stop_all_jobs(keeping_work=True)  # a checkpoint, a photo in flight: worth the wait (import included)
        # The rest (thumbnails, a device probe still importing torch) only matter to this process: the
        # app exits without waiting for them (`app.exit_now`); a window closed in a test waits.
        stop_all_jobs(wait_ms=0 if self.exits_process else 30000)
        self.context.models.release()  # the window's models go with it
        super().closeEvent(event)
        self.closed.emit()

    def _confirm_stop(self, running: list[JobHandle]) -> bool:
        names = ", ".join(sorted({h.title or "" for h in running}))
        answer = QMessageBox.question(
            self, "Quit GeoSpottr", f"{names} still running. Stop and quit?\n\n"
            "A training run keeps its last checkpoint (resume it from the Train workspace); a download keeps "
            "every image saved so far.")
        return answer == QMessageBox.StandardButton.Yes
