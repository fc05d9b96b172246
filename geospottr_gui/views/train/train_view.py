"""Train workspace: settings form, Start / Pause / Resume / Stop / Save now, live plots and the runs list.

Training runs in a worker *thread* (`workers.start_job`), not a child process. Why:

* Stop and pause already act within one iteration: the trainer calls ``control.checkpoint()`` before
  every step, and a stop saves ``last.pt`` before returning, so a process kill is never needed for a
  prompt, clean cancel.
* Events reach the plots directly as Qt signals; a process would need a pipe, pickling and a reader
  thread for the same stream, and would re-import torch (seconds; more on macOS/Windows where children
  are spawned, not forked), and open its own SQLite connection.
* The CUDA argument for a process (the driver context is only fully released when the process exits)
  matters little here: after a run the job drops every reference to the model and calls
  ``torch.cuda.empty_cache()``, which returns the cached blocks; the small context that stays is
  reused by the next run or by Evaluate / Predict in the same app.
A run killed with the app (crash, power loss) leaves ``last.pt`` from its last epoch or "Save checkpoint
now", and appears in the runs list as stopped, resumable from there.

torch is imported only in worker jobs: the first `probe_job` (run when the workspace is first shown) loads
the trainer and the model registry off the UI thread and reports the models, devices and config defaults.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.data.project import Project
from core.events import ERROR, PROGRESS, WARNING, Event, Kind
from core.training.budget import GUARD_MIN_PHOTOS, GUARD_S
from core.training.metrics import RunStarted
from core.training.series import RunSeries

from ...context import AppContext
from ...workers import JobHandle, job_board, start_job, stop_jobs
from ..widgets.layouts import column
from .jobs import OFFLINE_MODEL, estimate_job, probe_job, train_job
from .run_panel import RunDisplay, fmt_duration, memory_text
from .runs_list import RunsList, load_series
from .train_form import TrainForm


class TrainView(QWidget):
    """The Train workspace. Signals: ``ready`` (form filled), ``state_changed(str)``
    (idle / starting / running / paused / stopping), ``run_finished(TrainResult | None)``."""

    ready = Signal()
    state_changed = Signal(str)
    run_finished = Signal(object)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.state = "idle"
        self.run_id: str | None = None
        self.device = ""
        self._probe: JobHandle | None = None
        self._job: JobHandle | None = None
        self._prep: JobHandle | None = None
        self._is_ready = False
        self._resume_state = "running"   # what Resume returns to: "starting" when paused during feature caching
        self._offline_backbone: str | None = None   # set when the run failed for want of downloadable weights

        self.form = TrainForm()
        self.start_button = QPushButton("Start")
        self.start_button.setEnabled(False)
        self.display = RunDisplay()
        self.controls, self.info, self.plots = self.display.controls, self.display.info, self.display.plots
        self._follower: JobHandle | None = None
        self.pause_button, self.resume_button, self.stop_button, self.save_button = self.controls.buttons
        self.pop_out_button = QPushButton("Pop out")
        self.pop_out_button.setToolTip("Watch this run in a window of its own (closing it never stops the run)")
        self.pop_out_button.clicked.connect(lambda: self.open_monitor(self.run_id or ""))
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)
        self.save_button.clicked.connect(self.save_now)
        buttons = QGridLayout()
        buttons.addWidget(self.start_button, 0, 0)
        buttons.addWidget(self.pause_button, 0, 1)
        buttons.addWidget(self.resume_button, 0, 2)
        buttons.addWidget(self.stop_button, 1, 0)
        buttons.addWidget(self.save_button, 1, 1)
        buttons.addWidget(self.pop_out_button, 1, 2)

        self.runs = RunsList(context.project)
        self.runs.overlays_changed.connect(lambda runs: self.plots.set_overlays(runs))
        self.runs.resume_requested.connect(self.resume_run)
        self.runs.model_chosen.connect(self._choose_model)
        self.runs.monitor_requested.connect(self.open_monitor)
        runs_box = QGroupBox("Runs (tick to overlay)")
        QVBoxLayout(runs_box).addWidget(self.runs)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        # Scrolled, so the tall form never makes the window taller than a 700-px screen.
        form_area = QScrollArea()
        form_area.setWidget(self.form)
        form_area.setWidgetResizable(True)
        form_area.setFrameShape(QFrame.Shape.NoFrame)
        form_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_layout.addWidget(form_area, 3)
        left_layout.addLayout(buttons)
        left_layout.addWidget(runs_box, 1)
        left.setMinimumWidth(380)

        # Preparation before the first iteration (feature caching): its own bar with a time estimate.
        self.prep_progress = QProgressBar()
        self.prep_progress.hide()
        self._prep_started: tuple[float, int] | None = None   # (event time, done) of the first prep event
        self.message = self.display.message
        self.message.setText("Loading the trainer…")
        self.switch_button = QPushButton(f"Use {OFFLINE_MODEL} and start")
        self.switch_button.setToolTip(f"{OFFLINE_MODEL}'s ImageNet weights ship with GeoSpottr: no download")
        self.switch_button.clicked.connect(self.switch_to_offline_model)
        self.switch_button.hide()
        right = column(self.info, self.prep_progress, (self.plots, 1), self.message, self.switch_button)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 880])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self._memory_timer = QTimer(self, interval=1000)
        self._memory_timer.timeout.connect(lambda: self.info.set("memory", memory_text(self.device)))
        context.project_changed.connect(self._on_project)
        app = QCoreApplication.instance()
        if app is not None:
            # Quitting mid-run stops it cleanly (last.pt saved, resumable) instead of killing the thread.
            app.aboutToQuit.connect(self.shutdown)
        self._set_state("idle")

    # ---- lifecycle ----------------------------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:
        if self._probe is None:
            # First look at the workspace: import torch and the trainer in a worker, then fill the form.
            self._probe = start_job(self, probe_job, on_finished=self._on_probe, on_failed=self._on_probe_failed,
                                    needs_torch=True)
        super().showEvent(event)

    def _on_probe(self, probe: dict[str, Any]) -> None:
        self.form.set_choices(probe)
        self._is_ready = True
        self.message.setText("Ready. Runs are saved in the project's runs/ folder.")
        self._set_state(self.state)
        self.ready.emit()

    def _on_probe_failed(self, message: str) -> None:
        self.message.setText(f"The trainer cannot load: {message}")

    def is_ready(self) -> bool:
        return self._is_ready

    def _on_project(self, project: Project) -> None:
        if self.state != "idle":
            self.stop()
            if self._job is not None:
                self._job.wait()
        self.runs.set_project(project)
        self.display.start_over()

    def shutdown(self) -> None:
        """Stop training and background loads and wait for their threads (before the window closes)."""
        stop_jobs(self)
        self.runs.shutdown()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ---- state --------------------------------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        self.state = state
        busy = state != "idle"
        self.start_button.setEnabled(self._is_ready and not busy)
        self.form.setEnabled(not busy)
        self.controls.set_state(state)
        # Pausable while it works, feature caching ("starting" with a job) included.
        training = self._job is not None and self._job.running
        self.pause_button.setEnabled(training and state in ("running", "starting"))
        self.pop_out_button.setEnabled(self.run_id is not None)
        self.runs.resume_button.setVisible(not busy)
        self.info.set_paused(state == "paused")
        self.runs.set_live_status("paused" if state == "paused" else None)
        job_board().changed.emit()  # the status bar's job line says "paused" too
        if busy:
            self._memory_timer.start()
        else:
            self._memory_timer.stop()
        self.state_changed.emit(state)

    # ---- commands -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start a new run with the form's settings."""
        if not self._is_ready or self.state != "idle":
            return
        self.display.start_over()
        config = self.form.config()
        labelled = sum(c["train"] + c["val"] for c in self.context.project.stats()["cities"].values())
        if config["time_budget"] is not None or labelled < GUARD_MIN_PHOTOS:
            self._launch(config, None, None)
            return
        # A large project without a time budget: ask before a run predicted to take hours (estimate_job).
        self._set_state("starting")
        self.message.setText("Estimating the training time…")
        self._prep = start_job(self, estimate_job, self.context.project, config,
                               on_finished=lambda warning: self._ask_time(config, warning), on_failed=self._on_failed,
                               needs_torch=True)

    def _ask_time(self, config: dict[str, Any], warning: str | None) -> None:
        """Launch `config`, after asking whether to take the 1-hour budget when `warning` says it runs long."""
        self._set_state("idle")
        if warning:
            answer = QMessageBox.question(
                self, "Training time", f"{warning[0].upper()}{warning[1:]}.\n\nTrain with a 1-hour time budget "
                "instead? (No: train as set.)", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
                | QMessageBox.StandardButton.Cancel)
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Yes:
                config = {**config, "time_budget": GUARD_S}
        self._launch(config, None, None)

    def resume_run(self, run_id: str) -> None:
        """Continue a stopped run from its last.pt; its curves so far are read back first."""
        if not self._is_ready or self.state != "idle" or not run_id:
            return
        run = self.runs.run(run_id)
        if run is None:
            return
        self._set_state("starting")
        self.message.setText(f"Reading run {run_id}…")
        self._prep = start_job(self, load_series, run.path, run_id,
                               on_finished=lambda series: self._resume_loaded(run_id, series),
                               on_failed=self._on_failed)

    def open_monitor(self, run_id: str) -> None:
        """A monitor window on run `run_id` (runs list "Open monitor", "Pop out"); its "Resume run" comes
        back here."""
        from .monitor_window import open_monitor

        if run_id and (self.context.project.runs_dir / run_id).is_dir():
            open_monitor(self.context.project.runs_dir / run_id, self.resume_from_monitor)

    def resume_from_monitor(self, run_id: str) -> None:
        """Resume a run a monitor shows as stopped, here (once the trainer is loaded, if it is not yet)."""
        window = self.window()
        window.show()
        window.raise_()
        if hasattr(window, "show_workspace"):
            window.show_workspace("Train")
        if self.state != "idle":
            self.message.setText(f"Run {self.run_id} is still training: stop it before resuming {run_id}.")
        elif self._is_ready:
            self.resume_run(run_id)
        else:
            self.ready.connect(lambda: self.resume_run(run_id), Qt.ConnectionType.SingleShotConnection)

    def _resume_loaded(self, run_id: str, series: RunSeries) -> None:
        self.plots.set_current(series)
        self._set_state("idle")
        self._launch(None, run_id, self.form.resume_overrides())

    def _launch(self, config: dict[str, Any] | None, resume: str | None, overrides: dict[str, Any] | None) -> None:
        from core.training.trainer import TrainControl  # already imported by the probe: no UI stall

        self._offline_backbone = None
        self.switch_button.hide()
        self.info.reset()
        self.run_id = resume
        self.runs.set_live_run(resume)
        self.message.setText(f"Resuming run {resume}…" if resume else "Starting…")
        self._job = start_job(self, train_job, self.context.project, config, resume, overrides,
                              title="Training", workspace="Train", keeps_work=True,
                              control=TrainControl(), on_event=self._on_event, on_finished=self._on_finished,
                              on_failed=self._on_failed, on_cancelled=self._on_cancelled, needs_torch=True)
        self._set_state("starting")

    def pause(self) -> None:
        if self._job is not None and self._job.running and self.state in ("running", "starting"):
            self._resume_state = self.state
            self._job.pause()
            self._set_state("paused")
            self._prep_started = None  # the caching rate restarts after the pause
            self.message.setText("Paused (the iteration in flight finishes first).")

    def resume(self) -> None:
        if self._job is not None and self.state == "paused":
            self._job.resume()
            self._set_state(self._resume_state)
            self.message.setText("Training…" if self._resume_state == "running" else "Resuming…")

    def stop(self) -> None:
        if self._job is not None and self._job.running:
            self._job.cancel()
            self._set_state("stopping")
            self.message.setText("Stopping after the iteration in flight; saving last.pt…")
        elif self._prep is not None and self._prep.running:
            self._prep.cancel()

    def save_now(self) -> None:
        if self._job is not None and self.state in ("running", "paused"):
            self._job.control.request_checkpoint()
            self.message.setText("A checkpoint will be written after the iteration in flight.")

    # ---- events -------------------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """The worker's events: `RunDisplay.show` (as in every monitor), then what only this view does."""
        kind = event.kind
        self.display.show(event)
        if kind == Kind.ITERATION:
            self.prep_progress.hide()
            if self.state == "starting":
                self._set_state("running")
                self.message.setText("Training…")
        elif kind == PROGRESS and event.scope != "training":
            self._on_prep_progress(event)
        elif kind == WARNING and event.scope == "weights":
            self._offline_backbone = str(event.data.get("backbone", ""))
        elif kind == Kind.EPOCH:
            self.runs.refresh()
        elif kind == Kind.RUN_STARTED:
            self._on_run_started(RunStarted.from_data(event.data))
        if kind in (WARNING, ERROR) and event.message:
            self.context.status.emit(event.message)

    def _on_status(self, event: Event) -> None:
        """The run folder changed (followed while this view trains): reconcile this view with the run's state.

        A pause or resume sent from a monitor window or a terminal reaches the trainer through control.json;
        its relay applies it to this job's `Control` and acknowledges it in status.json, which wakes this
        follower. The `Control` is what status.json reports, read without a file's latency, so a pause and
        resume quicker than one look at the file still leave this view right."""
        if self._job is None or not self._job.running or event.data["update"].state is None:
            return
        paused = self._job.control.paused
        if paused and self.state in ("running", "starting"):
            self._resume_state = self.state
            self._set_state("paused")
            self.message.setText("Paused from a monitor window or the command line: Resume continues.")
        elif not paused and self.state == "paused":
            self._set_state(self._resume_state)
            self.message.setText("Resumed from a monitor window or the command line." if self._resume_state == "running"
                                 else "Resuming…")

    def _on_prep_progress(self, event: Event) -> None:
        """Feature caching (or another step before the first iteration): a bar with counts and time left."""
        done, total = event.done or 0, event.total or 0
        if self._prep_started is None or done < self._prep_started[1]:
            self._prep_started = (event.time, done)   # a new step (train, then val) or after a pause
        start_time, start_done = self._prep_started
        left = ""
        if total and done > start_done and event.time > start_time:
            rate = (done - start_done) / (event.time - start_time)
            left = f" · {fmt_duration((total - done) / rate)} left"
        what = event.message or event.scope
        self.prep_progress.setFormat(f"{what}: {done:,} / {total:,} images{left}" if total else what)
        self.prep_progress.setRange(0, max(total, 1))
        self.prep_progress.setValue(min(done, total) if total else 0)
        self.prep_progress.show()
        if self.state != "paused":
            self.message.setText(f"{what}… (Pause and Stop work meanwhile)")

    def switch_to_offline_model(self) -> None:
        """One click after a weights download failed: the model whose weights ship with GeoSpottr, started."""
        form = self.form
        form.model.setCurrentIndex(max(0, form.model.findData(OFFLINE_MODEL)))
        form.weights.setCurrentIndex(max(0, form.weights.findData("imagenet")))
        self.switch_button.hide()
        self.start()

    def _on_run_started(self, started: RunStarted) -> None:
        from core.training.follow import follow_run

        self.run_id = started.run_id
        self.device = started.device
        self.info.set("memory", memory_text(self.device))
        self.plots.current.label = self.run_id
        # The run's status.json is the one truth of its state for every view: follow it while it trains.
        self._follower = start_job(self, follow_run, str(self.context.project.runs_dir / self.run_id),
                                   until_ended=True, on_event=self._on_status)
        self.runs.refresh()
        self.runs.set_live_run(self.run_id)
        self.runs.select_run(self.run_id)

    def _ended(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            self._follower = None
        self.prep_progress.hide()
        self._prep_started = None
        self._set_state("idle")
        self.plots.flush()
        self.runs.set_live_run(None)
        self.runs.refresh()

    def _on_finished(self, result: Any) -> None:
        self._ended()
        best = f", best val acc {result.best_val_acc:.1%}" if result.best_val_acc is not None else ""
        self.message.setText(f"Run {result.run_id} {result.status}: {result.stop_reason}{best}.")
        if result.status == "finished":
            self.context.refresh_model()  # the new run becomes the model only if it validated best
        self.context.status.emit(f"Training run {result.run_id} {result.status}")
        self.run_finished.emit(result)

    def _on_failed(self, message: str) -> None:
        self._ended()
        self.message.setText(f"Training failed: {message}")
        offer = self._offline_backbone is not None and self.form.model.findData(OFFLINE_MODEL) >= 0
        self.switch_button.setVisible(offer)
        self.context.status.emit(f"Training failed: {message}")
        self.run_finished.emit(None)

    def _on_cancelled(self) -> None:
        self._ended()
        self.message.setText("Stopped before the first iteration (no checkpoint yet).")
        self.run_finished.emit(None)

    def _choose_model(self, path: str) -> None:
        self.context.set_model(path)
        self.context.status.emit(f"Model selected: {self.context.model_label()}")
        self.message.setText(f"Evaluate, Predict and Challenge now use {self.context.model_label()}.")
