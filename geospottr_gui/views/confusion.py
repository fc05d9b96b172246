"""Confusion-matrix heatmap: rows are true cities, columns predicted ones, colour = row share.

A `QAbstractTableModel` over the count matrix drives a plain `QTableView`, so headers (city names),
scrolling and keyboard navigation come from Qt; colour follows the share of the true city's images (a
row-normalised view, readable when cities have very different support). Hovering shows the counts;
clicking a cell emits ``cell_clicked(true_index, predicted_index)`` so the view can list those images.
"""

from __future__ import annotations

import html
from typing import Any, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

Index = QModelIndex | QPersistentModelIndex


def rich_tooltip(text: str) -> str:
    """A tooltip that shows `text` literally: Qt guesses rich text from a tooltip's content, so a city or
    file name holding ``<`` or ``&`` could otherwise be rendered as markup."""
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"


def heat_color(share: float) -> QColor:
    """White (0) to dark blue (1): a single-hue ramp that prints and reads for colour-blind users."""
    share = min(max(share, 0.0), 1.0)
    return QColor(int(255 - 222 * share), int(255 - 184 * share), int(255 - 75 * share))


class ConfusionModel(QAbstractTableModel):
    """Counts ``matrix[true][predicted]`` with the class names as both headers."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._matrix: list[list[int]] = []
        self._row_totals: list[int] = []

    def set_matrix(self, names: Sequence[str], matrix: Sequence[Sequence[int]]) -> None:
        if len(matrix) != len(names) or any(len(row) != len(names) for row in matrix):
            raise ValueError(f"confusion matrix must be {len(names)}x{len(names)}")
        self.beginResetModel()
        self._names = list(names)
        self._matrix = [[int(v) for v in row] for row in matrix]
        self._row_totals = [sum(row) for row in self._matrix]
        self.endResetModel()

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def count(self, true: int, predicted: int) -> int:
        return self._matrix[true][predicted]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._names)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._names)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        n = self._matrix[r][c]
        total = self._row_totals[r]
        share = n / total if total else 0.0
        if role == Qt.ItemDataRole.DisplayRole:
            return str(n) if n else ""
        if role == Qt.ItemDataRole.BackgroundRole:
            return heat_color(share)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor("white") if share > 0.55 else QColor("black")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return rich_tooltip(f"true {self._names[r]} → predicted {self._names[c]}\n"
                                f"{n} of {total} images ({share:.0%})")
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self._names):
            return self._names[section]
        if role == Qt.ItemDataRole.ToolTipRole and 0 <= section < len(self._names):
            what = "true" if orientation == Qt.Orientation.Vertical else "predicted"
            return rich_tooltip(f"{what}: {self._names[section]}")
        return None


class ConfusionView(QTableView):
    """The heatmap table; ``cell_clicked(true, predicted)`` on a click or Enter on a cell."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heat = ConfusionModel(self)
        self.setModel(self.heat)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setMouseTracking(True)  # tooltips follow the pointer cell by cell
        self.setCornerButtonEnabled(False)
        # Cells stay big enough to click and to read a 3-digit count; long names widen their column.
        self.horizontalHeader().setMinimumSectionSize(56)
        self.verticalHeader().setMinimumSectionSize(34)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setToolTip("predicted city")
        self.verticalHeader().setToolTip("true city")
        self.clicked.connect(self._emit)
        self.activated.connect(self._emit)

    def set_matrix(self, names: Sequence[str], matrix: Sequence[Sequence[int]]) -> None:
        self.heat.set_matrix(names, matrix)

    def _emit(self, index: QModelIndex) -> None:
        if index.isValid():
            self.cell_clicked.emit(index.row(), index.column())
