"""Predict's "same place?" strip: after a drop of a few photos, offer to combine them as views of one place."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

#: More photos than this in one drop are a batch, not views of one place: no offer.
MAX_VIEWS = 12


class SamePlaceOffer(QFrame):
    """Hidden until `offer`; ``combine`` fires when the user accepts, "Keep separate" just hides it."""

    combine = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        self.label = QLabel()
        self.same_place = QPushButton("Same place: combine")
        self.same_place.setToolTip("Treat these photos as views of one place and show one combined ranking")
        self.same_place.clicked.connect(self.combine)
        dismiss = QPushButton("Keep separate")
        dismiss.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.same_place)
        layout.addWidget(dismiss)
        self.hide()

    def offer(self, count: int, folders: bool) -> None:
        """Ask about `count` photos just dropped (not when they came from folders or are too many)."""
        if 1 < count <= MAX_VIEWS and not folders:
            self.label.setText(f"{count} photos dropped. Are they the same place?")
            self.show()
        else:
            self.hide()
