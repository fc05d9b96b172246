"""The main window: workspace navigation on the left, the current workspace on the right.

Workspaces are listed in `WORKSPACES` as (title, module, class); each class takes an `AppContext`.
Modules are imported when the window is built, never torch: views import core ML modules lazily
inside the jobs they start, so the first window appears fast.
"""

from __future__ import annotations

import importlib

from PySide6.QtWidgets import QHBoxLayout, QListWidget, QMainWindow, QStackedWidget, QWidget

from .context import AppContext

WORKSPACES: list[tuple[str, str, str]] = [
    ("Dataset", "geospottr_gui.views.dataset_view", "DatasetView"),
    ("Train", "geospottr_gui.views.train_view", "TrainView"),
    ("Evaluate", "geospottr_gui.views.evaluate_view", "EvaluateView"),
    ("Predict", "geospottr_gui.views.predict_view", "PredictView"),
    ("Challenge", "geospottr_gui.views.challenge_view", "ChallengeView"),
]


class MainWindow(QMainWindow):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.setWindowTitle("GeoSpottr")
        self.nav = QListWidget()
        self.nav.setFixedWidth(140)
        self.stack = QStackedWidget()
        self.workspaces: dict[str, QWidget] = {}
        for title, module, cls in WORKSPACES:
            try:
                view_cls = getattr(importlib.import_module(module), cls)
            except ModuleNotFoundError:
                continue  # a workspace still under construction in this checkout
            view = view_cls(context)
            self.workspaces[title] = view
            self.nav.addItem(title)
            self.stack.addWidget(view)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.nav.setCurrentRow(0)
        self.resize(1280, 820)
