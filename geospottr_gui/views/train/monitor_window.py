"""Monitor windows: one top-level window per training run, watching it live whoever trains it.

A monitor reads only the run folder (`core.training.follow`): metrics.jsonl for the curves and
status.json for the state, so it shows a run of this app, of ``geospottr train`` in a terminal, of
``torchrun``, or of another machine writing to a shared folder alike. Its buttons write the run's
control.json (`core.training.runcontrol`), which the trainer's process acts on between iterations.
Closing a monitor only stops watching.

Following is a worker job (`core.training.follow.follow_run`) for the window's lifetime: it sleeps
between looks, and reads the first look at a long run (100k iterations) off the UI thread, handing over
its iterations as arrays; later looks bring a few records each. The UI thread only appends.

Windows are kept in a registry (`open_monitor`): one per run folder, raised when asked for again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.errors import GeoSpottrError
from core.events import Event
from core.training import runcontrol, runs
from core.training.follow import RunState, follow_run
from core.training.series import RunSeries

from ...workers import start_job, stop_jobs
from .run_panel import RunDisplay, status_text

#: Window size when first opened: two fit beside each other on a 1920 px screen.
DEFAULT_SIZE = (940, 640)


class MonitorWindow(QWidget):
    """Live plots, info strip and controls of one run. `on_resume(run_id)` continues a stopped run
    (the app's Train workspace does that); without one, "Resume run" is not offered."""

    def __init__(self, run_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.run_dir = Path(run_dir)
        self.run_id = self.run_dir.name
        self.state: RunState | None = None
        self._stopping = False
        self.on_resume: Callable[[str], None] | None = None
        self.setWindowTitle(f"{self.run_id} — GeoSpottr monitor")

        try:  # a small regular file, opened non-blocking (`runs.read_run_json`): a FIFO is refused, not waited on
            config = runs.read_run_json(self.run_dir / runs.CONFIG, "run config")
            about = f"{config.str('arch', '?')}, {config.int('epochs', 0)} epochs"
        except GeoSpottrError as exc:
            about = str(exc)
        self.header = QLabel(f"{self.run_id}   {about}   {self.run_dir}")
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel("Reading the run…")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setStyleSheet("font-weight: bold")
        self.display = RunDisplay()
        self.info, self.plots, self.controls = self.display.info, self.display.plots, self.display.controls
        self.plots.current.label = self.run_id
        for button, command in zip(self.controls.buttons, ("pause", "resume", "stop", "save")):
            button.clicked.connect(lambda _=False, c=command: self.send(c))
        self.resume_run_button = QPushButton("Resume run")
        self.resume_run_button.setToolTip("Continue this stopped run from its last checkpoint in the Train workspace")
        self.resume_run_button.clicked.connect(lambda: self.on_resume and self.on_resume(self.run_id))
        self.resume_run_button.setVisible(False)
        self.message = self.display.message

        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        for button in (*self.controls.buttons, self.resume_run_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addLayout(buttons)
        layout.addWidget(self.info)
        layout.addWidget(self.plots, 1)
        layout.addWidget(self.message)
        self.resize(*DEFAULT_SIZE)

        # The job is a child of this window; closing the window stops it (`stop_jobs`).
        start_job(self, follow_run, str(self.run_dir), until_ended=False, on_event=self._on_event,
                  on_failed=self._on_failed)

    # ---- commands -----------------------------------------------------------------------------------------

    def send(self, command: str) -> None:
        """Write `command` to the run's control.json; the trainer confirms through status.json."""
        try:
            runcontrol.send_command(self.run_dir, command)
        except (GeoSpottrError, OSError) as exc:
            self.message.setText(f"Could not send {command}: {exc}")
            return
        if command == "stop":
            self._stopping = True
            self.show_state()
        self.message.setText({"pause": "Pausing after the iteration in flight…", "resume": "Resuming…",
                              "stop": "Stopping after the iteration in flight; the trainer saves last.pt…",
                              "save": "A checkpoint will be written after the iteration in flight."}[command])

    # ---- events -------------------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        update = event.data["update"]
        history = update.iterations is not None  # read from the file's start: the curves start over
        if update.reset or history:
            series = RunSeries(label=self.run_id)
            if history:
                series.extend_iterations(update.iterations)
            self.plots.set_current(series)
            self.info.reset()
        for record in update.records:
            resumed = runs.ResumePoint.of(record)
            if resumed is not None and not history:  # a history comes without the redone points already
                self.plots.drop_redone(resumed)
            replayed = runs.record_event(record)
            if replayed is not None:
                try:
                    self.display.show(replayed, plot_iterations=not history)
                except (TypeError, ValueError):  # a damaged record (a required field missing): skip it
                    continue
        if update.state is not None:
            if update.state.status != "running":
                self._stopping = False
            if self.state is not None and update.state.paused != self.state.paused:
                self.message.setText("Paused: the trainer waits before its next iteration." if update.state.paused
                                     else "Training…")
            self.state = update.state
            self.show_state()

    def show_state(self) -> None:
        state = self.state
        if state is None:
            return
        self.display.show_state(state, self._stopping)
        self.status.setText(status_text(state))
        self.resume_run_button.setVisible(self.on_resume is not None and state.status in ("stopped", "failed"))

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"Cannot follow this run: {message}")

    # ---- lifecycle ----------------------------------------------------------------------------------------

    def closeEvent(self, event: Any) -> None:
        """Stop watching (the run itself goes on)."""
        stop_jobs(self)
        _WINDOWS.pop(str(self.run_dir.resolve()), None)
        super().closeEvent(event)


#: Open monitor windows by resolved run folder.
_WINDOWS: dict[str, MonitorWindow] = {}


def open_monitor(run_dir: Path | str, on_resume: Callable[[str], None] | None = None) -> MonitorWindow:
    """Show the monitor of `run_dir` (a new window, or the open one raised). `on_resume(run_id)` handles
    its "Resume run" button (the newest caller's handler wins)."""
    key = str(Path(run_dir).resolve())
    window = _WINDOWS.get(key)
    if window is None:
        window = _WINDOWS[key] = MonitorWindow(Path(run_dir))
    if on_resume is not None:
        window.on_resume = on_resume
        window.show_state()
    window.show()
    window.raise_()
    window.activateWindow()
    return window


def open_monitors() -> list[MonitorWindow]:
    return list(_WINDOWS.values())


def close_monitors() -> None:
    """Close every monitor (the main window quits): no run is affected."""
    for window in list(_WINDOWS.values()):
        window.close()
