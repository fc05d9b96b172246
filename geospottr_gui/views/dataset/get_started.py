"""The first-run guide above the Dataset workspace: its own module because it is a self-contained widget
(four step buttons and a close button) that `DatasetView` only shows, hides and listens to."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget


class GetStartedPanel(QFrame):
    """First-run guide: the four steps from an empty project to a prediction, each a button."""

    step_requested = Signal(str)  # "cities", "download", "train", "predict"
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("getStarted")
        layout = QHBoxLayout(self)
        title = QLabel("<b>Get started</b>")
        layout.addWidget(title)
        steps = (("cities", "1. Add cities"), ("download", "2. Get images"), ("train", "3. Train"),
                 ("predict", "4. Predict"))
        for n, (step, label) in enumerate(steps):
            if n:
                layout.addWidget(QLabel("→"))
            button = QPushButton(label)
            button.clicked.connect(lambda _checked=False, s=step: self.step_requested.emit(s))
            layout.addWidget(button)
        hint = QLabel("Or drop a folder of photos (one sub-folder per city) or a CSV on this window.")
        hint.setWordWrap(True)  # so the guide never sets the window's minimum width
        layout.addWidget(hint, 1)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Hide this guide")
        close.clicked.connect(self.dismissed.emit)
        layout.addWidget(close)
