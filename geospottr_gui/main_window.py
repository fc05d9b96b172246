"""The main window: workspace navigation, menus, status bar, drag-and-drop import, saved window state.

Workspaces are listed in `WORKSPACES` as (title, module, class); each class takes an `AppContext`.
Modules are imported when the window is built, never torch: views import core ML modules lazily
inside the jobs they start (``start_job(..., needs_torch=True)``, see `native_libs`), and the versions
and compute device are probed by a job after the window shows, so the first window appears fast.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from core.data.exporting import FORMATS, export
from core.data.importing import import_source
from core.data.project import Project
from core.events import PROGRESS, Control, Event, EventCallback

from . import settings as keys
from .context import AppContext
from .jobs_indicator import JobsIndicator, end_text
from .model_service import IDLE_CHECK_MS
from .plaintext import plain_tooltip, warn
from .views.widgets.dialogs import AboutDialog, ShortcutsDialog
from .workers import JobHandle, job_board, start_job, stop_all_jobs

log = logging.getLogger(__name__)

WORKSPACES: list[tuple[str, str, str]] = [
    ("Dataset", "geospottr_gui.views.dataset.dataset_view", "DatasetView"),
    ("Train", "geospottr_gui.views.train.train_view", "TrainView"),
    ("Evaluate", "geospottr_gui.views.evaluate.evaluate_view", "EvaluateView"),
    ("Predict", "geospottr_gui.views.predict.predict_view", "PredictView"),
    ("Challenge", "geospottr_gui.views.challenge.challenge_view", "ChallengeView"),
]
#: Wait this long after the window shows before probing the compute device (a child process that imports torch).
DEVICE_PROBE_DELAY_MS = 1200


def probe_versions(model_path: str | None, *, on_event: EventCallback, control: Control) -> dict[str, str]:
    """Job: versions, compute device and the chosen model bundle, measured in a child process
    (`core.versions.probe_in_child`) so torch never loads into the app just to name the device."""
    from core.versions import probe_in_child

    return probe_in_child(model_path)


def open_project_job(path: str, create: bool, *, on_event: EventCallback, control: Control) -> Project:
    """Job: open (or create) a project; opening sweeps temp files and may migrate, so not on the UI thread."""
    return Project.init(path) if create else Project.open(path)


#: The first window's size, where the screen has room for it.
FIRST_SIZE = (1280, 820)
#: What the window system adds around the size `resize` sets: the title bar and borders.
FRAME_MARGIN = 40


def fitted_size(width: int, height: int, available_width: int, available_height: int) -> tuple[int, int]:
    """(width, height) shrunk, where needed, so the framed window fits the screen's available area."""
    return min(width, available_width), min(height, available_height - FRAME_MARGIN)


def importable_paths(paths: list[Path]) -> list[Path]:
    """What a drop may import: folders and CSV files."""
    return [p for p in paths if p.is_dir() or (p.is_file() and p.suffix.lower() == ".csv")]


class MainWindow(QMainWindow):
    """`workspaces` defaults to `WORKSPACES`; tests of one workspace pass just theirs.

    ``closed()`` fires once the window has closed (state saved, the user's jobs stopped): the app ends
    the process there (`app.exit_now`).
    """

    closed = Signal()

    def __init__(self, context: AppContext, workspaces: list[tuple[str, str, str]] | None = None) -> None:
        super().__init__()
        self.context = context
        #: `core.versions.runtime_versions` (with the chosen model's bundle), once probed by a job.
        self.versions: dict[str, str] | None = None
        self.about: AboutDialog | None = None
        self._probe_started = False
        self._pending_row: int | None = None
        self.import_job: JobHandle | None = None
        #: Set by the app: the process ends right after this window closes, so background jobs that do
        #: not keep the user's work (a device probe) are not waited for.
        self.exits_process = False
        self.setAcceptDrops(True)
        self.nav = QListWidget()
        self.nav.setFixedWidth(100)  # the titles whole, the rest for the workspace at 1024 px
        self.nav.setStyleSheet("QListWidget { font-size: 11pt; } QListWidget::item { padding: 8px 6px; }")
        self.stack = QStackedWidget()
        #: Workspaces built so far, by title. Each is built the first time it is shown: the Predict and
        #: Challenge views start QtWebEngine, which alone would take seconds off the first window.
        self.workspaces: dict[str, QWidget] = {}
        self._specs: dict[str, tuple[str, str]] = {}
        for title, module, cls in WORKSPACES if workspaces is None else workspaces:
            if importlib.util.find_spec(module) is None:  # a packaging mistake: fail now, not on first click
                raise ModuleNotFoundError(f"the {title} workspace's module {module} is missing from this install")
            self._specs[title] = (module, cls)
            self.nav.addItem(title)
            placeholder = QLabel("Loading…")
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.stack.addWidget(placeholder)
        self.nav.currentRowChanged.connect(self._row_changed)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        if self._specs:
            self.workspace(next(iter(self._specs)))

        self._build_menus()
        self._build_status_bar()
        context.status.connect(lambda text: self.statusBar().showMessage(text, 6000))
        context.project_changed.connect(self._project_changed)
        context.images_changed.connect(self._counts_timer.start)
        context.curated.connect(lambda _edit: self._update_undo())
        context.curator.busy_changed.connect(lambda _busy: self._update_undo())
        context.curator.failed.connect(lambda message: warn(self, "GeoSpottr", message))
        context.model_changed.connect(lambda _path: self._probe_started and self._probe_versions())
        context.image_requested.connect(self.show_image)
        context.guesses_requested.connect(self.show_guesses)
        self._project_changed(context.project)
        self._restore_state()
        QTimer.singleShot(DEVICE_PROBE_DELAY_MS, self, self._probe_device)

    def predict_paths(self, paths: list[Path]) -> None:
        """Show the Predict workspace with `paths` queued ("Open with GeoSpottr", command-line images)."""
        self.show_workspace("Predict")
        self.workspace("Predict").add_paths(paths)

    def show_image(self, image_id: str) -> None:
        """Open the Dataset grid on one image, selected and focused, ready to relabel or reject."""
        self.show_workspace("Dataset")
        view = self.workspace("Dataset")
        if hasattr(view, "reveal_image"):
            view.reveal_image(image_id)

    def show_guesses(self, city: str, guessed: str) -> None:
        """Open the Dataset grid on the images of `city` the model took for `guessed` (a confusion cell)."""
        self.show_workspace("Dataset")
        view = self.workspace("Dataset")
        if hasattr(view, "show_guesses"):
            view.show_guesses(city, guessed)

    def open_arguments(self, args: list[str]) -> None:
        """A later ``geospottr-gui ARGS`` handed over (single instance): open its project, queue its photos
        in Predict, and come to the front."""
        from core.data.project import DB_NAME

        from .arguments import split_arguments

        project, photos = split_arguments(args)
        if project and Path(project) != self.context.project.root:
            self.open_project(project, create=not (Path(project) / DB_NAME).exists())
        if photos:
            self.predict_paths(photos)
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.show()
        self.raise_()
        self.activateWindow()

    def workspace(self, title: str) -> QWidget:
        """The workspace called `title`, built now if it was not yet."""
        view = self.workspaces.get(title)
        if view is None:
            module, cls = self._specs[title]
            view = self.workspaces[title] = self._make_workspace(title, module, cls)
            index = list(self._specs).index(title)
            placeholder = self.stack.widget(index)
            self.stack.insertWidget(index, view)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            if hasattr(view, "navigate"):
                view.navigate.connect(self.show_workspace)
        return view

    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(self._specs):
            self.workspace(list(self._specs)[row])
            self.stack.setCurrentIndex(row)

    def _make_workspace(self, title: str, module: str, cls: str) -> QWidget:
        """A workspace widget, or an error panel if it fails to load (one broken view must not stop the app)."""
        try:
            return getattr(importlib.import_module(module), cls)(self.context)
        except Exception as exc:
            log.exception("workspace %s failed to load", title)
            label = QLabel(f"The {html.escape(title)} workspace could not be loaded:<br>{html.escape(str(exc))}")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label

    # ------------------------------------------------------------------ menus
    def _action(self, menu: Any, text: str, slot: Any, shortcut: Any = None) -> QAction:
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

    def show_workspace(self, title: str) -> None:
        titles = list(self._specs)
        if title in titles:
            self._pending_row = None  # an explicit choice wins over the workspace restored from last time
            self.nav.setCurrentRow(titles.index(title))

    # ------------------------------------------------------------------ status bar
    def _build_status_bar(self) -> None:
        self.project_label = QLabel()
        self.counts_label = QLabel()
        # Shown once the device is known: the probe imports torch, which takes 15-25 s on a fresh machine,
        # and a "probing…" placeholder that long looked like the app was busy. Nothing waits for it.
        self.device_label = QLabel()
        self.device_label.hide()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.hide()
        self.progress_cancel = QPushButton("Cancel")
        self.progress_cancel.hide()
        self.progress_cancel.clicked.connect(lambda: self.import_job and self.import_job.cancel())
        # Training, evaluation, download and scan jobs, from whichever workspace is shown (the import
        # above has its own bar and Cancel button).
        self.jobs = JobsIndicator(job_board())
        self.jobs.open_workspace.connect(self.show_workspace)
        job_board().ended.connect(self._job_ended)
        status = self.statusBar()
        for widget in (self.jobs, self.progress, self.progress_cancel, self.project_label, self.counts_label,
                       self.device_label):
            status.addPermanentWidget(widget)
        # The models' idle release runs on this window's timer (see model_service: the service has none).
        self._idle_timer = QTimer(self)
        self._idle_timer.setInterval(IDLE_CHECK_MS)
        self._idle_timer.timeout.connect(lambda: self.context.models.release_idle())
        self._idle_timer.start()
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(300)
        self._counts_timer.timeout.connect(self._update_counts)

    def _job_ended(self, handle: JobHandle) -> None:
        """Say that a long job ended, wherever the user is (and flash the taskbar entry if elsewhere)."""
        self.statusBar().showMessage(end_text(handle), 15000)
        if not self.isActiveWindow():
            QApplication.alert(self)

    def _update_counts(self) -> None:
        stats = self.context.project.stats()
        rejected = sum(c["rejected"] for c in stats["cities"].values())
        text = f"{stats['images']:,} images"
        if rejected:
            text += f" ({rejected:,} rejected)"
        self.counts_label.setText(f"{text} · {len(stats['cities'])} cities")

    def _probe_device(self) -> None:
        if self.isVisible():  # not closed before the probe was due
            self._probe_versions()

    def _probe_versions(self) -> None:
        """(Re)probe versions in a job: at startup, and when another model is chosen (About shows it)."""
        self._probe_started = True
        start_job(self, probe_versions, self.context.model_path, on_finished=self._device_known,
                  on_failed=lambda message: self._show_device("unknown"))

    def _device_known(self, versions: dict[str, str]) -> None:
        self.versions = versions
        self._show_device(versions.get("Device", "unknown"))
        if self.about is not None:
            self.about.set_versions(versions)

    def _show_device(self, device: str) -> None:
        self.device_label.setText(f"device: {device}")
        self.device_label.show()

    def _project_changed(self, project: Project) -> None:
        self.project_label.setText(f"project: {project.root.name}")
        self.project_label.setToolTip(plain_tooltip(str(project.root)))
        self.setWindowTitle(f"GeoSpottr — {project.root.name}")
        self._update_counts()
        self._update_undo()

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

    # ------------------------------------------------------------------ projects
    def new_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "New project: choose an empty folder")
        if path:
            self.open_project(path, create=True)

    def open_project_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a GeoSpottr project folder")
        if path:
            self.open_project(path)

    def open_project(self, path: str, create: bool = False) -> JobHandle:
        self.statusBar().showMessage(f"opening {path}…")
        return start_job(self, open_project_job, path, create, on_finished=self.context.set_project,
                         on_failed=lambda message: warn(self, "Open project", message))

    # ------------------------------------------------------------------ import / export
    def import_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a folder (one sub-folder per city)")
        if path:
            self.import_paths([Path(path)])

    def import_csv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a CSV", "", "CSV files (*.csv)")
        if path:
            self.import_paths([Path(path)])

    def import_paths(self, paths: list[Path]) -> JobHandle | None:
        """Import folders / CSVs one after the other in one job (new city names are added from the catalog)."""
        if self.import_job is not None and self.import_job.running:
            self.statusBar().showMessage("an import is already running", 4000)
            return None
        project = self.context.project

        def run(*, on_event: EventCallback, control: Control) -> list[str]:
            return [import_source(project, p, add_cities=True, on_event=on_event, control=control).summary()
                    for p in paths]

        self.progress.setValue(0)
        self.progress.show()
        self.progress_cancel.show()
        self.import_job = start_job(self, run, on_event=self._import_event, on_finished=self._imported,
                                    on_failed=self._import_failed, on_cancelled=lambda: self._import_ended("import cancelled"))
        return self.import_job

    def _import_event(self, event: Event) -> None:
        if event.kind == PROGRESS and event.total:
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done or 0)

    def _imported(self, summaries: list[str]) -> None:
        self._import_ended("import: " + "; ".join(summaries))

    def _import_failed(self, message: str) -> None:
        self._import_ended("import failed")
        warn(self, "Import", message)

    def _import_ended(self, message: str) -> None:
        self.progress.hide()
        self.progress_cancel.hide()
        self.statusBar().showMessage(message, 10000)
        self.context.images_changed.emit()

    def export_dialog(self) -> None:
        fmt, ok = QInputDialog.getItem(self, "Export", "Format", list(FORMATS), 0, False)
        if not ok:
            return
        if fmt == "imagefolder":
            out = QFileDialog.getExistingDirectory(self, "Export into an empty folder")
        else:
            out, _ = QFileDialog.getSaveFileName(self, "Export to", f"geospottr.{fmt}", f"{fmt} (*.{fmt})")
        if out:
            start_job(self, export, self.context.project, fmt, out,
                      on_finished=lambda n: self.statusBar().showMessage(f"exported {n:,} images to {out}", 8000),
                      on_failed=lambda message: warn(self, "Export", message))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if importable_paths(paths):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = importable_paths([Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()])
        if paths:
            event.acceptProposedAction()
            self.import_paths(paths)

    # ------------------------------------------------------------------ window state
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
        """Quit: a running training, evaluation, download or scan is stopped only if the user agrees (and
        is waited for, so a run keeps its checkpoint); the window goes at once."""
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
        for handle in running:
            handle.wait()
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
