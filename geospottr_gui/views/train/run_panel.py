"""What shows one training run live, shared by the Train workspace and every monitor window: the info
strip (epoch, iteration, speed, ETAs, best, device, memory), the run controls, the plots and the message
line, and the ONE place where a run event or a run's status becomes display (`RunDisplay.show`,
`RunDisplay.show_state`). Both views feed it: the Train workspace from its worker's events and the run
folder's status.json (so a pause sent from a monitor or a terminal shows here too), a monitor from the
run folder alone.
"""

from __future__ import annotations

import math
import os
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QWidget

from core.events import DONE, ERROR, LOG, PROGRESS, WARNING, Event, Kind
from core.training.follow import RunState
from core.training.metrics import Checkpoint, EpochMetrics, Iteration, RunStarted

from ..widgets.plots import TrainingPlots


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def memory_text(device: str) -> str:
    """Memory in use on the training device (GPU allocator) or by this process (CPU), read cheaply.

    torch is looked up in `sys.modules` only: this runs on the UI thread and must never import it.
    """
    torch = sys.modules.get("torch")
    try:
        if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
            used, total = torch.cuda.memory_allocated(), torch.cuda.get_device_properties(0).total_memory
            return f"GPU {used / 2**30:.2f} / {total / 2**30:.1f} GiB"
        if torch is not None and device.startswith("mps") and hasattr(torch, "mps"):
            return f"MPS {torch.mps.current_allocated_memory() / 2**30:.2f} GiB"
    except RuntimeError:
        pass
    try:
        with open("/proc/self/statm") as fh:  # Linux: resident pages of this process
            return f"RAM {int(fh.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**30:.2f} GiB"
    except (OSError, ValueError, AttributeError):
        pass
    try:
        import resource  # macOS: peak resident size, in bytes

        return f"RAM peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**30:.2f} GiB"
    except ImportError:  # Windows
        return "—"


class InfoStrip(QWidget):
    """Epoch i/n, iteration, images/s, ETA (epoch and run), best val accuracy, device and memory."""

    KEYS = ("epoch", "iteration", "speed", "eta_epoch", "eta_run", "best", "device", "memory")
    TITLES = ("Epoch", "Iteration", "Images/s", "ETA epoch", "ETA run", "Best val acc", "Device", "Memory")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        self.values: dict[str, QLabel] = {}
        for col, (key, title) in enumerate(zip(self.KEYS, self.TITLES)):
            head = QLabel(title)
            head.setStyleSheet("color: #666; font-size: 9pt")
            value = QLabel("—")
            value.setStyleSheet("font-weight: bold")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(head, 0, col)
            grid.addWidget(value, 1, col)
            self.values[key] = value
        self.reset()

    def reset(self) -> None:
        for label in self.values.values():
            label.setText("—")
        self.epochs = 0
        self._sec_per_it: float | None = None
        self._last_time: float | None = None
        self._done = self._total = 0
        self.paused = False

    def set(self, key: str, text: str) -> None:
        self.values[key].setText(text)

    def text(self) -> str:
        return "  ".join(f"{t}: {self.values[k].text()}" for k, t in zip(self.KEYS, self.TITLES))

    def on_iteration(self, event: Event, d: Iteration) -> None:
        if self._last_time is not None:
            dt = max(event.time - self._last_time, 0.0)
            self._sec_per_it = dt if self._sec_per_it is None else 0.9 * self._sec_per_it + 0.1 * dt
        self._last_time = event.time
        steps = d.steps
        if steps and self._total:
            self.epochs = max(self.epochs, math.ceil(self._total / steps))
        self.set("epoch", f"{d.epoch}/{self.epochs or '?'}")
        self.set("iteration", f"{d.iteration:,}" + (f" ({d.step}/{steps})" if steps else ""))
        if self.paused:  # the iteration that was in flight when Pause was pressed: no rate to show
            self._last_time = None
            return
        self.set("speed", f"{d.images_per_s:.1f}")
        if self._sec_per_it is not None:
            if steps:
                self.set("eta_epoch", fmt_duration((steps - d.step) * self._sec_per_it))
            if self._total:
                self.set("eta_run", fmt_duration((self._total - self._done) * self._sec_per_it))

    def on_progress(self, event: Event) -> None:
        self._done, self._total = event.done or 0, event.total or 0

    def set_paused(self, paused: bool) -> None:
        """Paused: speed and times say so (a stale figure would mislead); the pause itself is not timed."""
        self.paused = paused
        if paused:
            for key in ("speed", "eta_epoch", "eta_run"):
                self.set(key, "paused")
        self._last_time = None

    def on_epoch(self, d: EpochMetrics) -> None:
        self.epochs = int(d.epochs or self.epochs)
        self.set("epoch", f"{d.epoch}/{self.epochs or '?'}")
        if d.best_val_acc is not None:
            self.set("best", f"{d.best_val_acc:.1%}")
        if d.eta_s is not None and not self.paused:  # paused: the time left does not count down
            self.set("eta_run", fmt_duration(d.eta_s))
        self._last_time = None  # validation time is not an iteration


class RunControls:
    """Pause / Resume / Stop / Save checkpoint now, enabled for a run state (idle / starting / running /
    paused / stopping). Shared by the Train workspace and the monitor windows; the owner lays out and
    connects the buttons."""

    def __init__(self) -> None:
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the iteration in flight and save last.pt (resumable)")
        self.save_button = QPushButton("Save checkpoint now")
        self.save_button.setToolTip("Write last.pt after the iteration in flight (resume from it later)")
        self.buttons = (self.pause_button, self.resume_button, self.stop_button, self.save_button)
        self.set_state("idle")

    def set_state(self, state: str) -> None:
        self.pause_button.setEnabled(state == "running")
        self.resume_button.setEnabled(state == "paused")
        self.stop_button.setEnabled(state in ("running", "paused", "starting"))
        self.save_button.setEnabled(state in ("running", "paused"))


def ui_state(state: RunState, stopping: bool) -> str:
    """The `RunControls` state for a run state (a stop asked for shows as stopping until it lands)."""
    if state.status == "running":
        return "stopping" if stopping else "paused" if state.paused else "running"
    return "starting" if state.status == "starting" else "idle"


def status_text(state: RunState) -> str:
    """One line for a run's state: "Paused   42%", "Finished", "Failed: out of memory"."""
    text = {"starting": "Starting", "running": "Paused" if state.paused else "Running",
            "finished": "Finished", "stopped": "Stopped", "failed": "Failed"}.get(state.status, state.status)
    if state.status == "running" and state.total:
        text += f"   {state.iteration / state.total:.0%}"
    if state.ended and state.reason:
        text += f": {state.reason}"
    return text


class RunDisplay:
    """The info strip, controls, plots and message line of one run (see the module docstring); the owner
    lays them out and connects the controls."""

    def __init__(self) -> None:
        self.info = InfoStrip()
        self.controls = RunControls()
        self.plots = TrainingPlots()
        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)

    def start_over(self, label: str = "current") -> None:
        """A new run (or another run read back): empty curves on fresh axes, an empty strip."""
        self.plots.clear()
        self.plots.current.label = label
        self.info.reset()

    def show(self, event: Event, plot_iterations: bool = True) -> None:
        """One training event into the plots, the strip or the message line. `plot_iterations`: False when
        the iterations came as columns already (a history read in bulk) and this one is only for the strip."""
        kind = event.kind
        when = event.time if event.time > 0 else None  # a record without its time: 0
        if kind == Kind.ITERATION:
            point = Iteration.from_data(event.data)
            if plot_iterations:
                self.plots.add_iteration(point, when)
            else:
                self.plots.note_iteration(point)
            self.info.on_iteration(event, point)
        elif kind == Kind.EPOCH:
            epoch = EpochMetrics.from_data(event.data)
            self.plots.add_epoch(epoch, when)
            self.info.on_epoch(epoch)
        elif kind == Kind.RESUME and when is not None:
            self.plots.note_resume(when)
        elif kind == PROGRESS and event.scope == "training":
            self.info.on_progress(event)
        elif kind == Kind.CHECKPOINT:
            saved = Checkpoint.from_data(event.data)
            self.message.setText(f"Saved {saved.which} checkpoint (epoch {saved.epoch}, iteration {saved.iteration}).")
        elif kind == Kind.RUN_STARTED:
            self.info.set("device", RunStarted.from_data(event.data).device or "—")
            self.message.setText(event.message)
        elif kind in (LOG, WARNING, ERROR, DONE) and event.message:
            self.message.setText(event.message)

    def show_state(self, state: RunState, stopping: bool = False) -> str:
        """The run's state from its status.json into the controls and the strip; returns the controls'
        state (idle / starting / running / paused / stopping)."""
        ui = ui_state(state, stopping)
        self.controls.set_state(ui)
        self.info.set_paused(ui == "paused")
        if state.ended:  # no speed or time left for a run that is over
            for key in ("speed", "eta_epoch", "eta_run"):
                self.info.set(key, "—")
        return ui
