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
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from core.data.project import Project
from core.events import Control, EventCallback

from .context import AppContext
from .jobs_indicator import JobsIndicator, end_text
from .model_service import IDLE_CHECK_MS
from .plaintext import plain_tooltip, warn
from .views.widgets.dialogs import AboutDialog
from .window_files import WindowFiles, importable_paths
from .window_menus import WindowMenus
from .window_state import FIRST_SIZE, FRAME_MARGIN, WindowState, fitted_size
from .workers import JobHandle, job_board, start_job

# Named here as before the window was split into mixins (tests and the app import them from this module).
__all__ = ["FIRST_SIZE", "FRAME_MARGIN", "WORKSPACES", "MainWindow", "fitted_size", "importable_paths"]

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


class MainWindow(WindowMenus, WindowFiles, WindowState, QMainWindow):
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
        self.file_job: JobHandle | None = None
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
        self.progress_cancel.clicked.connect(lambda: self.file_job and self.file_job.cancel())
        # Training, evaluation, download and scan jobs, from whichever workspace is shown (an import or
        # export, the file job above, has its own bar and Cancel button).
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
