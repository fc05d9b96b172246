"""The Train workspace's settings form, filled with the trainer's own defaults once the probe job ends."""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

DEVICES = ("auto", "cuda", "mps", "cpu")
WEIGHTS = (("ImageNet (pretrained)", "imagenet"), ("None (random init)", "none"), ("File…", "file"))
#: `TrainConfig.head` and `.class_balance` values (core.training.probe.HEADS, balance.CLASS_BALANCES) in words.
HEAD_CHOICES = (("auto (by project size)", "auto"), ("probe", "probe"), ("fine-tune", "finetune"))
BALANCE_CHOICES = (("weighted loss", "weighted"), ("balanced sampler", "sampler"), ("none", "none"))
#: `TrainConfig.time_budget` choices in seconds (`core.training.budget` picks the recipe that fits).
TIME_BUDGETS = (("no limit", None), ("15 min", 900.0), ("30 min", 1800.0), ("1 hour", 3600.0), ("2 hours", 7200.0),
                ("8 hours", 28800.0))
#: `TrainConfig.refit` (`geospottr train --no-refit` turns it off) in the form's words.
REFIT_TIP = ("Linear probes: once C is chosen and val is measured, fit the saved probe again on train + val, so "
             "every labelled photo trains the model you keep (better on small projects). The val accuracy, "
             "F1 and curves shown then come from the selection fit on train only, a slight underestimate of "
             "the saved model, since no photo is left to measure it. Off: the saved probe is exactly the one "
             "val measured. Fine-tuning always keeps val for early stopping and ignores this.")


def _choices(pairs: Sequence[tuple[str, Any]]) -> QComboBox:
    """A combo box of (label, value) choices; `currentData()` is the value the trainer takes."""
    combo = QComboBox()
    for label, value in pairs:
        combo.addItem(label, value)
    return combo


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
        self.head = _choices(HEAD_CHOICES)
        self.head.setToolTip("Models with a linear-probe variant (efficientnet-lite0, resnet50-linear): fit "
                             "logistic regressions on frozen features in seconds (probe), or train the last "
                             "blocks (fine-tune). Auto probes while the median city has under 250 training "
                             "photos, where cross-validation found the probe better.")
        self.class_balance = _choices(BALANCE_CHOICES)
        self.class_balance.setToolTip("Macro F1 counts every city equally: weigh each photo by how rare its city "
                                      "is (weighted loss), draw batches with those weights (balanced sampler), "
                                      "or neither")
        self.time_budget = _choices(TIME_BUDGETS)
        self.time_budget.setToolTip("Train the most accurate recipe predicted to finish in this time on this "
                                    "device (fine-tune, fused probe, fewer backbones, single probe), from costs "
                                    "measured on a few of the project's photos; the run log says what it picked "
                                    "and why. Replaces Model and Head.")
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
        self.refit = QCheckBox("refit on train + val")
        self.refit.setChecked(True)
        self.refit.setToolTip(REFIT_TIP)
        self.cache_features = QCheckBox("cache frozen-stage features")
        self.cache_features.setToolTip("Compute the frozen layers once and train only the rest: much faster "
                                       "epochs, no augmentation (only models with frozen stages)")
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.weights = _choices(WEIGHTS)
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
        form.addRow("Time budget", self.time_budget)
        form.addRow("Class balance", self.class_balance)
        form.addRow("Final fit", self.refit)
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
        self.refit.setChecked(bool(d.refit))
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
               "class_balance": self.class_balance.currentData(), "time_budget": self.time_budget.currentData(),
               "refit": self.refit.isChecked()}
        cfg["augment"] = self.augment.isChecked()
        return cfg

    def resume_overrides(self) -> dict[str, Any]:
        """What a resumed run may change (`trainer.RESUME_OVERRIDES`): the rest stays as it started."""
        cfg = self.config()
        return {k: cfg[k] for k in ("epochs", "device", "num_workers")}
