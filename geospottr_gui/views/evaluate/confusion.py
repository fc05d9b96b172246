"""Confusion-matrix heatmap: rows are true cities, columns predicted ones, colour = row share.

A `QAbstractTableModel` over the count matrix drives a plain `QTableView`, so headers (city names),
scrolling and keyboard navigation come from Qt; colour follows the share of the true city's images (a
row-normalised view, readable when cities have very different support). Each cell shows its count;
hovering shows the counts and share; clicking a cell emits ``cell_clicked(true_index, predicted_index)``
so the view can list those images. `ConfusionPanel` frames the table as a chart: axis titles ("true
city" down the side, "predicted city" on top) and a colour scale, with the cells stretched to fill the
pane (they scroll only when many cities would make them too small to read).
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QWidget,
)

from ...plaintext import plain_tooltip

Index = QModelIndex | QPersistentModelIndex
MIN_CELL_WIDTH = 44
MIN_CELL_HEIGHT = 28


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

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._names)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
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
            return plain_tooltip(f"true {self._names[r]} → predicted {self._names[c]}\n"
                                f"{n} of {total} images ({share:.0%})")
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self._names):
            return self._names[section]
        if role == Qt.ItemDataRole.ToolTipRole and 0 <= section < len(self._names):
            what = "true" if orientation == Qt.Orientation.Vertical else "predicted"
            return plain_tooltip(f"{what}: {self._names[section]}")
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
        # Cells stretch to fill the pane but stay big enough to click and to read a 3-digit count; with many
        # cities they stop at that size and the table scrolls.
        self.horizontalHeader().setMinimumSectionSize(MIN_CELL_WIDTH)
        self.verticalHeader().setMinimumSectionSize(MIN_CELL_HEIGHT)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setToolTip("predicted city")
        self.verticalHeader().setToolTip("true city")
        self.clicked.connect(self._emit)
        self.activated.connect(self._emit)

    def set_matrix(self, names: Sequence[str], matrix: Sequence[Sequence[int]]) -> None:
        self.heat.set_matrix(names, matrix)

    def _emit(self, index: QModelIndex) -> None:
        if index.isValid():
            self.cell_clicked.emit(index.row(), index.column())


class VerticalTitle(QWidget):
    """An axis title written bottom-to-top, as on a chart's y axis."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = text
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.height() + 4, metrics.horizontalAdvance(self.text) + 8)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.translate(0, self.height())
        painter.rotate(-90)
        painter.drawText(QRect(0, 0, self.height(), self.width()), Qt.AlignmentFlag.AlignCenter, self.text)


class ColourScale(QWidget):
    """The heatmap's legend: the colour ramp from 0% to 100% of the true city's images."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(12)
        self.setMinimumWidth(80)
        self.setToolTip("Cell colour: share of the true city's images predicted as that city")

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        ramp = QLinearGradient(0, 0, self.width(), 0)
        for stop in (0.0, 0.25, 0.5, 0.75, 1.0):
            ramp.setColorAt(stop, heat_color(stop))
        painter.fillRect(self.rect(), ramp)
        painter.setPen(QColor(160, 160, 160))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))


class ConfusionPanel(QWidget):
    """`ConfusionView` with its axis titles and colour scale; ``view`` is the table itself."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ConfusionView()
        self.x_title = QLabel("predicted city")
        self.x_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.y_title = VerticalTitle("true city")
        scale = QHBoxLayout()
        scale.addWidget(QLabel("colour: share of the true city's images  0%"))
        scale.addWidget(ColourScale(), 1)
        scale.addWidget(QLabel("100%"))
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        grid.addWidget(self.x_title, 0, 1)
        grid.addWidget(self.y_title, 1, 0)
        grid.addWidget(self.view, 1, 1)
        grid.addLayout(scale, 2, 0, 1, 2)
        grid.setRowStretch(1, 1)
        grid.setColumnStretch(1, 1)
