"""User strings shown as plain text in Qt, never as markup.

Qt guesses rich text from content (``Qt::mightBeRichText``) in tooltips, labels and message boxes, so a
city cell ``<a href=...>Your project is damaged: click here</a>`` or a file named ``<b>x</b>.jpg`` would be
rendered, links and all. Every text that holds user data, file names or server answers goes through
these helpers (or a widget set to ``Qt.PlainText``).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def plain_tooltip(text: str) -> str:
    """A tooltip that shows `text` literally (escaped inside an explicit rich-text wrapper, which is the
    only way to stop Qt's guess for tooltips)."""
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>" if text else ""


def markup_safe(text: str) -> str:
    """`text` for a widget that always renders markup, whatever the text (pyqtgraph's legend labels are
    HTML): escaped, so a run or city named ``<a href=...>`` shows as typed."""
    return html.escape(text)


def warn(parent: QWidget | None, title: str, text: str) -> None:
    """A warning box showing `text` as plain text: no markup, no clickable links."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()
