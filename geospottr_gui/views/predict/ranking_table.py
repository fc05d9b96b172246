"""Predict's ranking: rank, city and a probability bar per candidate."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QProgressBar, QTableWidget, QTableWidgetItem

from core.inference.results import CityScore


class RankingTable(QTableWidget):
    """Rank, city and a probability bar per candidate."""

    def __init__(self) -> None:
        super().__init__(0, 3)
        self.setHorizontalHeaderLabels(["#", "City", "Probability"])
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def show_ranking(self, ranking: Sequence[CityScore]) -> None:
        self.setRowCount(len(ranking))
        for row, c in enumerate(ranking):
            self.setItem(row, 0, QTableWidgetItem(str(row + 1)))
            city = QTableWidgetItem(c.label)
            if row == 0:
                font = city.font()
                font.setBold(True)
                city.setFont(font)
            self.setItem(row, 1, city)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(c.probability * 1000))
            bar.setFormat(f"{c.probability:.1%}")
            bar.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.setCellWidget(row, 2, bar)
