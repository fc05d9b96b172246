"""A label and a combo box that never widen their pane: long text is elided ("…"), whole in the tooltip.

Splitters and tabs keep their sizes only while their contents' minimum widths stay put. A plain QLabel's
minimum width is its text's width, so a status line that grows ("48 images" -> "48 images · 3 selected",
a long file name) pushes the panes around; this label asks for `min_chars` characters at most.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QStyle, QStyleOptionComboBox, QStylePainter, QWidget

from ...plaintext import plain_tooltip


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

    def minimumSizeHint(self) -> QSize:
        width = self.fontMetrics().horizontalAdvance("x" * self._min_chars)
        return QSize(min(width, self.sizeHint().width()), super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self._full) + margins.left() + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(room, 0))
        super().setText(shown if shown or not self._full else "…")


class ElidedComboBox(QComboBox):
    """A combo box that asks for `min_chars` characters of width and elides a longer current text in the
    middle (run names differ at their ends: "run 20261130-2334…lite0 (best.pt)"); the popup and the
    tooltip show it whole. Qt's own combo box clips the text instead."""

    #: For the layout audit: the text shown is elided to fit by construction.
    elides = True

    def __init__(self, min_chars: int = 24, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(min_chars)
        self.currentTextChanged.connect(lambda text: self.setToolTip(plain_tooltip(text)))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        room = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                           QStyle.SubControl.SC_ComboBoxEditField, self)
        option.currentText = self.fontMetrics().elidedText(option.currentText, Qt.TextElideMode.ElideMiddle,
                                                           room.width())
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)
