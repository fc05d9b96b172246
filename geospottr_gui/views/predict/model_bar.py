"""Predict's top bar: the model in use and its chooser, top-k, predict-folder, export, batch progress and cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSpinBox, QWidget

from ..widgets.elided import ElidedLabel
from ..widgets.layouts import job_progress

NO_MODEL_LABEL = "No model: choose a model (.pt bundle or .onnx export), or train one"


class ModelBar(QWidget):
    """Buttons only announce; `PredictView` decides. `show_batch` shows progress and Cancel for a batch."""

    choose_model = Signal()
    choose_folder = Signal()
    export = Signal()
    cancel = Signal()

    def __init__(self, top_k: int) -> None:
        super().__init__()
        # Run names, file names and error text: elided (whole in the tooltip) so none widens the window.
        self.model_label = ElidedLabel(NO_MODEL_LABEL, min_chars=24)
        choose = QPushButton("Choose model…")
        choose.clicked.connect(self.choose_model)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 50)
        self.top_k.setValue(top_k)
        self.top_k.setPrefix("top ")
        folder = QPushButton("Predict folder…")
        folder.clicked.connect(self.choose_folder)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.export)
        self.progress, self.cancel_button = job_progress(180, self.cancel)
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.model_label, 1)
        bar.addWidget(choose)
        for w in (self.top_k, folder, self.export_button, self.progress, self.cancel_button):
            bar.addWidget(w)

    def show_batch(self, total: int) -> None:
        """A prediction job of `total` entries started: progress and Cancel for more than one."""
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.setVisible(total > 1)
        self.cancel_button.setVisible(total > 1)

    def hide_batch(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
