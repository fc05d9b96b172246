"""Find text a user cannot read in full: font metrics against the room each widget really has.

`clipped_texts(root)` walks every visible button, check box, label, combo box, tab and item-view header
(and the first rows of item views) under `root` and reports each text that needs more width than the
widget gives it, where "gives" is the widget's own text area (style sub-element rects) intersected with
every ancestor up to the window: a button pushed half out of a too-narrow panel is as unreadable as a
too-narrow one. Text a widget elides on purpose ends in "…" and fits by construction.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QStyleOptionComboBox,
    QTabBar,
    QToolButton,
    QWidget,
)

#: Pixels of slack before a text counts as clipped (anti-aliasing and rounding of advances).
SLACK = 1
#: Item-view rows checked per view (the rest look the same).
ROWS = 30


def _visible_width(widget: QWidget, rect: QRect) -> int:
    """Width of `rect` (widget coordinates) left after clipping by every ancestor up to the window.

    Only the horizontal extent is clipped: text scrolled out of sight vertically is still whole. A scroll
    area's viewport clips too: a panel wider than its tab hides its right edge behind a scroll bar.
    """
    window = widget.window()
    left, right = rect.left(), rect.right()
    child: QWidget = widget
    parent = widget.parentWidget()
    while parent is not None:
        offset = child.mapTo(parent, rect.topLeft()).x() - rect.left()
        left, right = max(left + offset, 0), min(right + offset, parent.width() - 1)
        if right < left or parent is window:
            break
        rect = QRect(left, rect.top(), right - left + 1, rect.height())
        child, parent = parent, parent.parentWidget()
    return max(0, right - left + 1)


def _shown(widget: QWidget) -> bool:
    return widget.isVisible() and widget.width() > 0 and widget.height() > 0


def _name(widget: QWidget) -> str:
    names = []
    w: QWidget | None = widget
    while w is not None and len(names) < 3:
        names.append(w.objectName() or type(w).__name__)
        w = w.parentWidget()
    return "/".join(reversed(names))


def _text_width(metrics: QFontMetrics, text: str) -> int:
    return max((metrics.horizontalAdvance(line) for line in text.split("\n")), default=0)


def _button(button: QAbstractButton) -> tuple[str, int, int] | None:
    text = button.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
    if not text:
        return None
    metrics = button.fontMetrics()
    need = _text_width(metrics, text)
    if not button.icon().isNull():
        need += button.iconSize().width() + 4
    style = button.style()
    if isinstance(button, QPushButton):
        option = QStyleOptionButton()
        button.initStyleOption(option)
        room = style.subElementRect(QStyle.SubElement.SE_PushButtonContents, option, button)
    elif isinstance(button, (QCheckBox, QRadioButton)):
        option = QStyleOptionButton()
        button.initStyleOption(option)
        element = (QStyle.SubElement.SE_CheckBoxContents if isinstance(button, QCheckBox)
                   else QStyle.SubElement.SE_RadioButtonContents)
        room = style.subElementRect(element, option, button)
    elif isinstance(button, QToolButton) and button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly:
        return None
    else:
        room = button.rect().adjusted(3, 0, -3, 0)
    return text, need, _visible_width(button, room)


def _label(label: QLabel) -> tuple[str, int, int] | None:
    text = label.text()
    if not text or label.pixmap() is not None and not label.pixmap().isNull():
        return None
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(text))
    if rich:
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setDocumentMargin(0)
        doc.setHtml(text)
        plain = doc.toPlainText()
        need = int(doc.idealWidth()) if not label.wordWrap() else 0
    else:
        plain = text
        need = _text_width(label.fontMetrics(), text) if not label.wordWrap() else 0
    if label.wordWrap():  # wrapping text is clipped only by a word longer than the line
        words = plain.split()
        need = max((label.fontMetrics().horizontalAdvance(w) for w in words), default=0)
    room = label.contentsRect().adjusted(label.margin(), 0, -label.margin(), 0)
    if label.indent() > 0:
        room.adjust(label.indent(), 0, 0, 0)
    return plain, need, _visible_width(label, room)


def _combo(combo: QComboBox) -> tuple[str, int, int] | None:
    text = combo.currentText()
    if not text or combo.isEditable() or getattr(combo, "elides", False):  # an elided combo fits by construction
        return None
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    room = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                        QStyle.SubControl.SC_ComboBoxEditField, combo)
    need = combo.fontMetrics().horizontalAdvance(text)
    if not combo.itemIcon(combo.currentIndex()).isNull():
        need += combo.iconSize().width() + 4
    return text, need, _visible_width(combo, room)


def _header(header: QHeaderView) -> list[tuple[str, int, int]]:
    out = []
    model = header.model()
    if model is None or header.orientation() != Qt.Orientation.Horizontal:
        return out
    margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    for section in range(header.count()):
        if header.isSectionHidden(section):
            continue
        text = model.headerData(section, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        if not text:
            continue
        need = header.fontMetrics().horizontalAdvance(str(text)) + 2 * margin
        if header.isSortIndicatorShown() and header.sortIndicatorSection() == section:
            need += header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize, None, header) + margin
        x = header.sectionViewportPosition(section)
        room = QRect(x, 0, header.sectionSize(section), header.height())
        out.append((str(text), need, _visible_width(header.viewport(), room)))
    return out


def _cells(view: QAbstractItemView) -> list[tuple[str, int, int]]:
    """Display texts of the first rows of a table / tree that their column cannot show."""
    out = []
    model = view.model()
    header = getattr(view, "horizontalHeader", None) or getattr(view, "header", None)
    if model is None or header is None or not callable(header):
        return out
    header = header()
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    metrics = view.fontMetrics()
    for row in range(min(ROWS, model.rowCount())):
        for column in range(model.columnCount()):
            if header.isSectionHidden(column) or view.indexWidget(model.index(row, column)) is not None:
                continue
            index = model.index(row, column)
            text = index.data(Qt.ItemDataRole.DisplayRole)
            if text is None or text == "":
                continue
            rect = view.visualRect(index)
            if rect.isEmpty() or not (0 <= rect.center().y() < view.viewport().height()):
                continue  # scrolled out of sight vertically: whole once scrolled to
            need = metrics.horizontalAdvance(str(text)) + 2 * margin
            if index.data(Qt.ItemDataRole.DecorationRole) is not None:
                need += view.iconSize().width() + 4 if view.iconSize().width() > 0 else 20
            out.append((str(text), need, min(rect.width(), _visible_width(view.viewport(), rect))))
    return out


def _tabs(tabs: QTabBar) -> list[tuple[str, int, int]]:
    out = []
    for i in range(tabs.count()):
        text = tabs.tabText(i).replace("&", "")
        if not text or not tabs.isTabVisible(i):
            continue
        need = tabs.fontMetrics().horizontalAdvance(text) + 8
        out.append((text, need, _visible_width(tabs, tabs.tabRect(i))))
    return out


def clipped_texts(root: QWidget) -> list[str]:
    """One line per text under `root` (root included) that needs more width than it has."""
    problems = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not _shown(widget) or not widget.isVisibleTo(root.window()):
            continue
        found: list[tuple[str, int, int]] = []
        if isinstance(widget, QAbstractButton):
            found.append(_button(widget))
        elif isinstance(widget, QLabel):
            found.append(_label(widget))
        elif isinstance(widget, QComboBox):
            found.append(_combo(widget))
        elif isinstance(widget, QHeaderView):
            found.extend(_header(widget))
        elif isinstance(widget, QTabBar):
            found.extend(_tabs(widget))
        if isinstance(widget, QAbstractItemView) and not isinstance(widget, QHeaderView) \
                and hasattr(widget, "horizontalHeader") or type(widget).__name__ in ("QTreeWidget", "QTreeView"):
            found.extend(_cells(widget))
        for item in found:
            if item is None:
                continue
            text, need, room = item
            if text.endswith("…") or text.endswith("..."):
                continue
            if need > room + SLACK:
                problems.append(f"{_name(widget)}: {text[:60]!r} needs {need} px, has {room}")
    return problems
