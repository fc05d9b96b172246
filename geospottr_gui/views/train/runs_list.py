"""The project's training runs: status, progress, best accuracy; tick runs to overlay their curves.

Runs are read from disk (``core.training.runs``: config.json, status.json, metrics.jsonl), so after a
restart, or after a run was killed with the app, they are all here; a stopped run can be resumed from its
``last.pt``. A run's metrics.jsonl can hold 100k lines, so curves are parsed in a worker (`start_job`),
never on the UI thread, and cached until the file changes. Listing the runs reads every run's files
too, so it runs in a worker as well (`refresh` returns at once; ``refreshed`` fires when the table is
filled): a slow disk or a damaged run folder never freezes the window. The folder is watched for new or
removed runs; the list is not polled (reading every metrics file each few seconds would cost more than it
shows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.data.project import Project
from core.errors import GeoSpottrError
from core.events import Control, Kind
from core.training.runlabels import epochs_text, run_status_text, status_text, val_acc_text
from core.training.runs import RunInfo, short_run_name
from core.training.series import RunSeries

from ...plaintext import plain_tooltip
from ...workers import JobHandle, start_job, stop_jobs

COLUMNS = ["Run", "Status", "Epochs", "Best val"]
#: How often running rows re-read their status.json (the trainer's heartbeat is every few seconds).
LIVE_REFRESH_MS = 2000


def list_runs_job(project: Project, *, on_event: Any, control: Control) -> list[RunInfo]:
    """The project's runs, newest first (a worker job: it reads every run's config, status and metrics)."""
    from core.training.runs import list_runs

    return list(reversed(list_runs(project)))


def read_states_job(paths: list[str], *, on_event: Any, control: Control) -> dict[str, Any]:
    """Each run folder's `RunState` from its status.json, or the one-line reason it cannot be read."""
    from core.errors import GeoSpottrError
    from core.training.follow import RunState
    from core.training.runs import STATUS, read_run_json

    out: dict[str, Any] = {}
    for path in paths:
        try:
            out[path] = RunState.from_status(read_run_json(Path(path) / STATUS, "run status"))
        except GeoSpottrError as exc:
            out[path] = str(exc)
    return out


def load_series(run_dir: str, label: str, *, on_event: Any, control: Control) -> RunSeries:
    """Parse a run's metrics.jsonl into plot series (a worker job: big files take a while). Its resume records
    too: an overlaid resumed run's wall time then leaves out the wait before the resume, as the live one does."""
    from core.training.runs import read_metrics

    return RunSeries.from_records(read_metrics(run_dir, (Kind.ITERATION, Kind.EPOCH, Kind.RESUME)), label=label)


class RunsList(QWidget):
    """Table of runs. Signals: ``overlays_changed(dict run_id -> RunSeries)`` when the ticked set's curves
    are ready, ``resume_requested(run_id)``, ``model_chosen(best checkpoint path)``."""

    overlays_changed = Signal(object)
    resume_requested = Signal(str)
    model_chosen = Signal(str)
    monitor_requested = Signal(str)
    #: The table was filled from a fresh listing (`refresh` lists in a worker).
    refreshed = Signal()

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.runs: list[RunInfo] = []   # newest first
        self._series: dict[str, tuple[float, RunSeries]] = {}   # run id -> (metrics mtime, series)
        self._loading: dict[str, JobHandle] = {}
        self._exclude: str | None = None   # the run being trained now is plotted live, not as an overlay
        self._live_status: str | None = None  # what the live run is doing now ("paused"), over status.json
        self._listing: JobHandle | None = None   # the listing job in flight
        self._list_again = False                # a refresh was asked for while one was in flight
        self._pending_select: str | None = None  # select this run once the listing has it
        self._ticking: JobHandle | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # The run column takes the room left by the short ones and elides (the full id is its tooltip),
        # so the table never needs a horizontal scroll bar in the narrow settings column.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setToolTip("Tick runs to overlay their curves on the plots")
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.resume_button = QPushButton("Resume run")
        self.resume_button.setToolTip("Continue the selected stopped run from its last checkpoint (a run stopped "
                                      "before its first one starts again with the same settings)")
        self.resume_button.clicked.connect(lambda: self.resume_requested.emit(self.selected_run_id() or ""))
        self.use_button = QPushButton("Use best model")
        self.use_button.setToolTip("Evaluate / Predict / Challenge use this run's best checkpoint")
        self.use_button.clicked.connect(self._use_model)
        self.monitor_button = QPushButton("Open monitor")
        self.monitor_button.setToolTip("Watch the selected run live in a window of its own, whichever "
                                       "process trains it")
        self.monitor_button.clicked.connect(lambda: self.monitor_requested.emit(self.selected_run_id() or ""))
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        compare = QPushButton("Compare…")
        compare.setToolTip("Every run side by side (model, head, size, lr, epochs, best val, test F1, time), sortable")
        compare.clicked.connect(self.open_compare)
        self.compare_dialog: QWidget | None = None
        # Two rows: five buttons in one would squeeze their text in the Train pane at 1024 px.
        buttons = QGridLayout()
        for n, b in enumerate((self.resume_button, self.use_button, self.monitor_button, compare, refresh)):
            buttons.addWidget(b, n // 3, n % 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(lambda _: self._debounce.start())
        self._debounce = QTimer(self, singleShot=True, interval=300)
        self._debounce.timeout.connect(self.refresh)
        self._live_timer = QTimer(self, interval=LIVE_REFRESH_MS)
        self._live_timer.timeout.connect(self._tick_live)
        self.set_project(project)

    def set_project(self, project: Project) -> None:
        self.project = project
        self._series.clear()
        if self._watcher.directories():
            self._watcher.removePaths(self._watcher.directories())
        try:
            runs_dir = project.runs_dir
        except GeoSpottrError:  # runs/ leads out of the project: the listing says so
            runs_dir = None
        if runs_dir is not None and runs_dir.is_dir():
            self._watcher.addPath(str(runs_dir))
        self.refresh()

    def set_live_run(self, run_id: str | None) -> None:
        """The run now training: drawn live by the plots, so not overlaid (and not resumable twice)."""
        self._exclude = run_id
        if run_id is None:
            self._live_status = None
        self._emit_overlays()
        self._update_buttons()

    def set_live_status(self, status: str | None) -> None:
        """Show `status` ("paused") for the live run instead of what its status file says ("running")."""
        self._live_status = status
        for row, run in enumerate(self.runs):  # at once: the listing below runs in a worker
            item = self.table.item(row, 1)
            if run.run_id == self._exclude and run.status == "running" and item is not None:
                item.setText(status or "running")
        self.refresh()

    # ---- table -------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-list the runs in a worker; the table is filled when it ends (``refreshed``)."""
        if self._listing is not None and self._listing.running:
            self._list_again = True
            return
        project = self.project

        def listed(infos: list[RunInfo]) -> None:
            self._listing = None
            if project is self.project:
                self._fill(infos)
            self._after_listing()

        def failed(message: str) -> None:
            self._listing = None
            self.table.setToolTip(plain_tooltip(f"The runs could not be listed: {message}"))
            self._fill([])
            self._after_listing()

        self._list_again = False
        self._listing = start_job(self, list_runs_job, project, on_finished=listed, on_failed=failed)

    def _after_listing(self) -> None:
        if self._list_again:
            self.refresh()
        else:
            self.refreshed.emit()

    def _fill(self, infos: list[RunInfo]) -> None:
        checked = set(self.checked_run_ids())
        selected = self._pending_select or self.selected_run_id()
        self.runs = list(infos)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            acc = val_acc_text(run) if run.best_val_acc is not None else "—"
            if run.run_id == self._exclude and run.status == "running":
                status = self._live_status or "running"  # this app's own run: known here, not a heartbeat behind
            else:
                status = run_status_text(run)
            values = [short_run_name(run.run_id), status, epochs_text(run), acc]
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked if run.run_id in checked else Qt.CheckState.Unchecked)
                    item.setData(Qt.ItemDataRole.UserRole, run.run_id)
                    tip = f"{run.run_id}: {run.arch}, created {run.created}\n{run.path}"
                    item.setToolTip(plain_tooltip(f"{tip}\n{run.problem}" if run.problem else tip))
                elif col == 1 and run.problem:
                    item.setToolTip(plain_tooltip(run.problem))
                self.table.setItem(row, col, item)
            if run.run_id == selected:
                self.table.selectRow(row)
                if run.run_id == self._pending_select:
                    self._pending_select = None
        self.table.blockSignals(False)
        self._update_buttons()
        self._emit_overlays()
        # Runs of other processes (a terminal, torchrun) change without this app hearing of it.
        if any(r.status == "running" for r in self.runs):
            self._live_timer.start()
        else:
            self._live_timer.stop()

    def _tick_live(self) -> None:
        """Update the running rows from their status.json heartbeat (read in a worker: cheap, but a file
        is never read on the UI thread); a new epoch or an ended run refreshes the whole table."""
        if self._ticking is not None and self._ticking.running:
            return
        live = [r for r in self.runs if r.status == "running" and r.run_id != self._exclude]
        if not live:
            return

        def read(states: dict[str, Any]) -> None:
            self._ticking = None
            for run in live:
                state = states.get(run.path)
                if isinstance(state, str) or state is None or state.status != "running" \
                        or state.epoch != run.epochs_done:
                    self.refresh()
                    return
                row = next((i for i, r in enumerate(self.runs) if r.run_id == run.run_id), None)
                item = self.table.item(row, 1) if row is not None else None
                if item is not None:
                    item.setText(status_text(state.status, state.paused, state.iteration, state.total))

        def failed(_message: str) -> None:
            self._ticking = None

        self._ticking = start_job(self, read_states_job, [r.path for r in live], on_finished=read, on_failed=failed)

    def run(self, run_id: str) -> RunInfo | None:
        return next((r for r in self.runs if r.run_id == run_id), None)

    def selected_run_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.runs[rows[0].row()].run_id if rows and rows[0].row() < len(self.runs) else None

    def select_run(self, run_id: str) -> None:
        """Select `run_id`'s row; a run not listed yet is selected when a listing in flight brings it."""
        for row, run in enumerate(self.runs):
            if run.run_id == run_id:
                self.table.selectRow(row)
                return
        self._pending_select = run_id

    def checked_run_ids(self) -> list[str]:
        out = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def open_compare(self) -> QWidget:
        """The Compare runs window (its ticks are this list's overlay ticks)."""
        from .compare_dialog import CompareRunsDialog

        self.compare_dialog = CompareRunsDialog(self.project, lambda run_id: run_id in self.checked_run_ids(),
                                                self.set_checked, self)
        self.compare_dialog.show()
        return self.compare_dialog

    def set_checked(self, run_id: str, checked: bool = True) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item.data(Qt.ItemDataRole.UserRole) == run_id:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def _update_buttons(self) -> None:
        run = self.run(self.selected_run_id() or "")
        # A run stopped before its first checkpoint resumes too: it starts again with its settings.
        self.resume_button.setEnabled(bool(run and run.status in ("stopped", "failed") and run.run_id != self._exclude))
        self.use_button.setEnabled(bool(run and (run.best_checkpoint or run.last_checkpoint)))
        self.monitor_button.setEnabled(run is not None)

    def _use_model(self) -> None:
        run = self.run(self.selected_run_id() or "")
        if run is not None and (run.best_checkpoint or run.last_checkpoint):
            self.model_chosen.emit(run.best_checkpoint or run.last_checkpoint)

    # ---- overlays ----------------------------------------------------------------------------------------

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self._emit_overlays()

    def _metrics_mtime(self, run: RunInfo) -> float:
        path = Path(run.path) / "metrics.jsonl"
        return path.stat().st_mtime if path.is_file() else 0.0

    def _emit_overlays(self) -> None:
        """Emit the ticked runs' series once all are parsed; start parsing those not cached (or stale)."""
        wanted = [r for r in (self.run(i) for i in self.checked_run_ids()) if r and r.run_id != self._exclude]
        missing = False
        for run in wanted:
            cached = self._series.get(run.run_id)
            if cached is None or cached[0] != self._metrics_mtime(run):
                missing = True
                if run.run_id not in self._loading:
                    self._start_load(run)
        if not missing:
            self.overlays_changed.emit({r.run_id: self._series[r.run_id][1] for r in wanted})

    def _start_load(self, run: RunInfo) -> None:
        mtime = self._metrics_mtime(run)

        def loaded(series: RunSeries, run_id: str = run.run_id) -> None:
            self._series[run_id] = (mtime, series)
            self._loading.pop(run_id, None)
            self._emit_overlays()

        def failed(message: str, run_id: str = run.run_id) -> None:
            self._loading.pop(run_id, None)
            self.set_checked(run_id, False)

        self._loading[run.run_id] = start_job(self, load_series, run.path, run.run_id,
                                              on_finished=loaded, on_failed=failed)

    def shutdown(self) -> None:
        stop_jobs(self)
        self._loading.clear()
