"""The one layout helper the views share: a bare panel of widgets stacked top to bottom."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget


def column(*items: QWidget | tuple[QWidget, int]) -> QWidget:
    """A plain widget stacking `items` with no margins (it sits inside a splitter or tab that has them);
    give ``(widget, stretch)`` for a part that should take the spare height."""
    panel = QWidget()
    layout = QVBoxLayout(panel)
    layout.setContentsMargins(0, 0, 0, 0)
    for item in items:
        widget, stretch = item if isinstance(item, tuple) else (item, 0)
        layout.addWidget(widget, stretch)
    return panel
