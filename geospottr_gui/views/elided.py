"""A one-line label that never widens its pane: long text is elided ("…") and whole in the tooltip.

Splitters and tabs keep their sizes only while their contents' minimum widths stay put. A plain QLabel's
minimum width is its text's width, so a status line that grows ("48 images" -> "48 images · 3 selected",
a long file name) pushes the panes around; this label asks for `min_chars` characters at most.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ..plaintext import plain_tooltip


class ElidedLabel(QLabel):
    """Plain text, one line, elided on the right to the width it is given; `full_text()` is the whole."""

    def __init__(self, text: str = "", min_chars: int = 8, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._full = ""
        self._min_chars = min_chars
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        self._full = str(text)
        self.setToolTip(plain_tooltip(self._full))
        self._elide()

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        width = self.fontMetrics().horizontalAdvance("x" * self._min_chars)
        return QSize(min(width, self.sizeHint().width()), super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self._full) + margins.left() + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(room, 0))
        super().setText(shown if shown or not self._full else "…")
