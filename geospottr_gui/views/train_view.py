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

import math
import os
import sys
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.errors import GeoSpottrError
from core.events import DONE, ERROR, LOG, PROGRESS, WARNING, Control, Event, Kind
from core.project import Project
from core.training.metrics import Checkpoint, EpochMetrics, Iteration, RunStarted
from core.training.series import RunSeries

from ..context import AppContext
from ..workers import JobHandle, start_job, stop_jobs
from .layouts import column
from .plots import TrainingPlots
from .runs_list import RunsList, load_series

DEVICES = ("auto", "cuda", "mps", "cpu")
WEIGHTS = (("ImageNet (pretrained)", "imagenet"), ("None (random init)", "none"), ("File…", "file"))
#: `TrainConfig.head` and `.class_balance` values (core.training.probe.HEADS, balance.CLASS_BALANCES) in words.
HEAD_CHOICES = (("auto (by project size)", "auto"), ("probe", "probe"), ("fine-tune", "finetune"))
BALANCE_CHOICES = (("weighted loss", "weighted"), ("balanced sampler", "sampler"), ("none", "none"))


# ---- worker jobs (torch lives here only) ------------------------------------------------------------------

def probe_job(*, on_event: Any, control: Control) -> dict[str, Any]:  # noqa: ARG001
    """What the form offers: registered models, available devices and the trainer's default settings."""
    from core import devices
    from core.models import registry
    from core.training.probe import PROBE_OF
    from core.training.trainer import TrainConfig

    models = []
    for name in registry.names():
        spec = registry.spec(name)
        models.append({"name": name, "description": spec.description, "image_size": spec.default_image_size,
                       "pretrained_note": spec.pretrained_note})
    return {"models": models, "defaults": TrainConfig(), "devices": devices.available(),
            "cuda_name": devices.cuda_name(), "probe_of": dict(PROBE_OF)}


#: The model whose ImageNet weights ship inside GeoSpottr (offered when another model's cannot be downloaded).
OFFLINE_MODEL = "efficientnet-lite0"


def train_job(project: Project, config: dict[str, Any] | None, resume: str | None,
              overrides: dict[str, Any] | None, *, on_event: Any, control: Control) -> Any:
    """Run `core.training.trainer.train` and give cached GPU memory back when it ends, however it ends.

    Weights that cannot be downloaded fail with advice in this window's terms (the core's names CLI
    flags), after a ``weights`` warning event that lets the view offer the offline model in one click.
    """
    from core.models.backbones import WeightsUnavailable
    from core.training.trainer import TrainConfig, train

    try:
        cfg = TrainConfig.from_dict(config) if config is not None else None
        return train(project, cfg, on_event, control, resume=resume, overrides=overrides)
    except WeightsUnavailable as exc:
        on_event(Event(WARNING, "ImageNet weights unavailable", scope="weights", data={"backbone": exc.arch}))
        raise GeoSpottrError(
            f"the ImageNet weights for {exc.arch} could not be downloaded (no internet?). Choose "
            f"Pretrained weights \"File…\" for a copy on this computer, \"None (random init)\", or the model "
            f"{OFFLINE_MODEL}, whose weights ship with GeoSpottr.") from None
    finally:
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


# ---- small helpers ----------------------------------------------------------------------------------------

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


# ---- the form ---------------------------------------------------------------------------------------------

class TrainForm(QGroupBox):
    """Training settings. Filled with the trainer's own defaults once `set_choices` gets the probe."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Settings", parent)
        self.model = QComboBox()
        self.model.addItem("loading models…")
        self.model.setEnabled(False)
        self.model_note = QLabel()
        self.model_note.setWordWrap(True)
        self.model_note.setTextFormat(Qt.TextFormat.PlainText)
        self.model_note.setStyleSheet("color: #555")
        self.model.currentIndexChanged.connect(self._on_model)
        self.head = QComboBox()
        for label, value in HEAD_CHOICES:
            self.head.addItem(label, value)
        self.head.setToolTip("Models with a linear-probe variant (efficientnet-lite0, resnet50-linear): fit "
                             "logistic regressions on frozen features in seconds (probe), or train the last "
                             "blocks (fine-tune). Auto probes while the median city has under 250 training "
                             "photos, where cross-validation found the probe better.")
        self.class_balance = QComboBox()
        for label, value in BALANCE_CHOICES:
            self.class_balance.addItem(label, value)
        self.class_balance.setToolTip("Macro F1 counts every city equally: weigh each photo by how rare its city "
                                      "is (weighted loss), draw batches with those weights (balanced sampler), "
                                      "or neither")
        self._probe_of: dict[str, str] = {}
        self.epochs = QSpinBox(minimum=1, maximum=10_000, value=10)
        self.batch_size = QSpinBox(minimum=1, maximum=4096, value=32)
        self.lr = QDoubleSpinBox(decimals=5, minimum=0.0, maximum=10.0, singleStep=0.001)
        self.lr.setSpecialValueText("auto")  # 0 -> the optimizer's default
        self.lr.setToolTip("Peak learning rate (auto: 0.01 for SGD, 0.001 for AdamW)")
        self.optimizer = QComboBox()
        self.optimizer.addItems(["sgd", "adamw"])
        self.momentum = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=0.999, singleStep=0.01, value=0.9)
        self.optimizer.currentTextChanged.connect(lambda o: self.momentum.setEnabled(o == "sgd"))
        self.weight_decay = QDoubleSpinBox(decimals=6, minimum=0.0, maximum=1.0, singleStep=0.0001, value=1e-4)
        self.image_size = QSpinBox(minimum=0, maximum=1024, singleStep=16, value=0)
        self.image_size.setSpecialValueText("model default")
        self.crop_bottom = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.5, singleStep=0.01, value=0.0)
        self.crop_bottom.setSpecialValueText("off")  # 0: the whole photo
        self.crop_bottom.setToolTip(
            "Cut this fraction off the bottom of every photo, in training and (recorded in the model) at every "
            "later prediction. Street View photos show the capture car and the Google watermark there: a model "
            "can learn those instead of the place. Evaluate's shortcut check recommends a value when it finds "
            "the evidence concentrated at the bottom (e.g. 0.12).")
        self.augment = QCheckBox("street-scene augmentation")
        self.augment.setChecked(True)
        self.cache_features = QCheckBox("cache frozen-stage features")
        self.cache_features.setToolTip("Compute the frozen layers once and train only the rest: much faster "
                                       "epochs, no augmentation (only models with frozen stages)")
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.weights = QComboBox()
        for label, value in WEIGHTS:
            self.weights.addItem(label, value)
        self.weights_file = QLineEdit()
        self.weights_file.setPlaceholderText("weights file (.pt / .pth)")
        browse = QPushButton("…")
        browse.setFixedWidth(28)
        browse.clicked.connect(self._browse_weights)
        self._weights_row = QWidget()
        row = QHBoxLayout(self._weights_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.weights_file, 1)
        row.addWidget(browse)
        self.weights.currentIndexChanged.connect(
            lambda _: self._weights_row.setVisible(self.weights.currentData() == "file"))
        self._weights_row.setVisible(False)
        self.num_workers = QSpinBox(minimum=0, maximum=64, value=2)
        self.num_workers.setToolTip("Image-decoding worker processes (0: decode in the training thread)")

        form = QFormLayout(self)
        form.addRow("Model", self.model)
        form.addRow("", self.model_note)
        form.addRow("Head", self.head)
        form.addRow("Class balance", self.class_balance)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Momentum", self.momentum)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("Image size", self.image_size)
        form.addRow("Crop bottom", self.crop_bottom)
        form.addRow("Augmentation", self.augment)
        form.addRow("Cached features", self.cache_features)
        form.addRow("Device", self.device)
        form.addRow("Pretrained weights", self.weights)
        form.addRow("", self._weights_row)
        form.addRow("Loader workers", self.num_workers)
        self._models: list[dict[str, Any]] = []

    def set_choices(self, probe: dict[str, Any]) -> None:
        """Models with their descriptions, available devices, and the trainer's defaults."""
        self._models = probe["models"]
        self._probe_of = probe.get("probe_of", {})
        self.model.blockSignals(True)
        self.model.clear()
        for m in self._models:
            self.model.addItem(m["name"], m["name"])
            self.model.setItemData(self.model.count() - 1, m["description"], Qt.ItemDataRole.ToolTipRole)
        self.model.blockSignals(False)
        self.model.setEnabled(True)
        d = probe["defaults"]
        self.model.setCurrentIndex(max(0, self.model.findData(d.arch)))
        self._on_model()
        self.head.setCurrentIndex(max(0, self.head.findData(d.head)))
        self.class_balance.setCurrentIndex(max(0, self.class_balance.findData(d.class_balance)))
        self.epochs.setValue(d.epochs)
        self.batch_size.setValue(d.batch_size)
        self.lr.setValue(d.lr or 0.0)
        self.optimizer.setCurrentText(d.optimizer)
        self.momentum.setValue(d.momentum)
        self.weight_decay.setValue(d.weight_decay)
        self.image_size.setValue(d.image_size or 0)
        self.crop_bottom.setValue(d.crop_bottom)
        self.cache_features.setChecked(d.cache_features)
        self.num_workers.setValue(d.num_workers)
        self.weights.setCurrentIndex(max(0, self.weights.findData(d.weights if d.weights in ("imagenet", "none")
                                                                  else "file")))
        self.augment.setChecked(bool(d.augment))
        for i, name in enumerate(DEVICES):
            ok = probe["devices"].get(name, False)
            item = self.device.model().item(i)
            item.setEnabled(ok)
            label = name if name != "cuda" or not probe.get("cuda_name") else f"cuda ({probe['cuda_name']})"
            item.setText(label if ok else f"{name} (not available)")
        self.device.setCurrentIndex(DEVICES.index(d.device) if d.device in DEVICES else 0)

    def _on_model(self) -> None:
        m = next((m for m in self._models if m["name"] == self.model.currentData()), None)
        if m is None:
            return
        probe = self._probe_of.get(m["name"])
        self.head.setEnabled(probe is not None)
        self.head.setItemText(self.head.findData("probe"), f"probe ({probe})" if probe else "probe")
        note = m["description"]
        if m.get("pretrained_note"):
            note += f" — ImageNet: {m['pretrained_note']}"
        self.model_note.setText(f"{note} (default image size {m['image_size']})")

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pretrained weights", "", "Weights (*.pt *.pth);;All files (*)")
        if path:
            self.weights_file.setText(path)

    def config(self) -> dict[str, Any]:
        """The settings as `TrainConfig` keyword values."""
        weights = self.weights.currentData()
        if weights == "file":
            weights = self.weights_file.text().strip() or "none"
        cfg = {"arch": self.model.currentData(), "epochs": self.epochs.value(),
               "batch_size": self.batch_size.value(), "lr": self.lr.value() or None,
               "optimizer": self.optimizer.currentText(), "momentum": self.momentum.value(),
               "weight_decay": self.weight_decay.value(), "image_size": self.image_size.value() or None,
               "cache_features": self.cache_features.isChecked(), "device": DEVICES[self.device.currentIndex()],
               "weights": weights, "num_workers": self.num_workers.value(),
               "crop_bottom": self.crop_bottom.value(), "head": self.head.currentData(),
               "class_balance": self.class_balance.currentData()}
        cfg["augment"] = self.augment.isChecked()
        return cfg

    def resume_overrides(self) -> dict[str, Any]:
        """What a resumed run may change (`trainer.RESUME_OVERRIDES`): the rest stays as it started."""
        cfg = self.config()
        return {k: cfg[k] for k in ("epochs", "device", "num_workers")}


# ---- the info strip ---------------------------------------------------------------------------------------

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
        if d.eta_s is not None:
            self.set("eta_run", fmt_duration(d.eta_s))
        self._last_time = None  # validation time is not an iteration


# ---- run controls -----------------------------------------------------------------------------------------

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


# ---- the workspace ----------------------------------------------------------------------------------------

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
        self.controls = RunControls()
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

        self.info = InfoStrip()
        # Preparation before the first iteration (feature caching): its own bar with a time estimate.
        self.prep_progress = QProgressBar()
        self.prep_progress.hide()
        self._prep_started: tuple[float, int] | None = None   # (event time, done) of the first prep event
        self.plots = TrainingPlots()
        self.message = QLabel("Loading the trainer…")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
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

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
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
        self.plots.clear()
        self.info.reset()

    def shutdown(self) -> None:
        """Stop training and background loads and wait for their threads (before the window closes)."""
        stop_jobs(self)
        self.runs.shutdown()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
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
        self.plots.clear()
        self._launch(self.form.config(), None, None)

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
                              title="Training", workspace="Train",
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
        kind = event.kind
        if kind == Kind.ITERATION:
            point = Iteration.from_data(event.data)
            self.plots.add_iteration(point)
            self.info.on_iteration(event, point)
            self.prep_progress.hide()
            if self.state == "starting":
                self._set_state("running")
                self.message.setText("Training…")
        elif kind == PROGRESS and event.scope == "training":
            self.info.on_progress(event)
        elif kind == PROGRESS:
            self._on_prep_progress(event)
        elif kind == WARNING and event.scope == "weights":
            self._offline_backbone = str(event.data.get("backbone", ""))
        elif kind == Kind.EPOCH:
            epoch = EpochMetrics.from_data(event.data)
            self.plots.add_epoch(epoch)
            self.info.on_epoch(epoch)
            self.runs.refresh()
        elif kind == Kind.CHECKPOINT:
            saved = Checkpoint.from_data(event.data)
            self.message.setText(f"Saved {saved.which} checkpoint (epoch {saved.epoch}, iteration {saved.iteration}).")
        elif kind == Kind.RUN_STARTED:
            self._on_run_started(RunStarted.from_data(event.data))
            self.message.setText(event.message)
        elif kind == LOG:
            self.message.setText(event.message)
        elif kind in (WARNING, ERROR):
            self.message.setText(event.message)
            self.context.status.emit(event.message)
        elif kind == DONE:
            self.message.setText(event.message)

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
        self.run_id = started.run_id
        self.device = started.device
        self.info.set("device", self.device)
        self.info.set("memory", memory_text(self.device))
        self.plots.current.label = self.run_id
        self.runs.refresh()
        self.runs.set_live_run(self.run_id)
        self.runs.select_run(self.run_id)

    def _ended(self) -> None:
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
