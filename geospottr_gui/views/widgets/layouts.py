"""Layout helpers the views share: a bare panel of widgets stacked top to bottom, and a job's progress bar
with its Cancel button and how its events move that bar."""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QProgressBar, QPushButton, QVBoxLayout, QWidget

from core.events import Event


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


def job_progress(max_width: int, on_cancel: Callable[[], object], cancel_tip: str = "") -> tuple[QProgressBar, QPushButton]:
    """A progress bar and its Cancel button, both hidden: a view shows the two together while its job runs
    and hides them when it ends, so an idle toolbar keeps its room for the controls that matter."""
    progress = QProgressBar()
    progress.setMaximumWidth(max_width)
    progress.hide()
    cancel = QPushButton("Cancel")
    if cancel_tip:
        cancel.setToolTip(cancel_tip)
    cancel.hide()
    cancel.clicked.connect(on_cancel)
    return progress, cancel


def follow_progress(bar: QProgressBar, event: Event) -> None:
    """A job's event on its bar: counted when the event has a total, busy (a moving bar) when it has none."""
    if event.total:
        bar.setRange(0, event.total)
        bar.setValue(min(event.done or 0, event.total))
    else:
        bar.setRange(0, 0)
