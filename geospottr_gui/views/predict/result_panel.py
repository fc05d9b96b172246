"""Predict's result: a caption, the ranking table and the map of the candidates for the entry on show."""

from __future__ import annotations

import html
from typing import Sequence

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QLabel, QSplitter

from core.inference.results import CityScore

from ..widgets.layouts import column
from ..widgets.map_view import MapView, assets_dir, online_tiles, pages_dir
from .entries import Entry
from .ranking_table import RankingTable

#: What the map says before a photo is predicted, and while one is (never the last photo's markers).
MAP_EMPTY = "Predict a photo (drop it on the left) to see its likely places here."
MAP_FAILED = "No map: this photo could not be predicted."


class ResultPanel(QSplitter):
    """Caption and ranking above, map below. Every text put into the rich-text caption is escaped."""

    def __init__(self, settings: QSettings) -> None:
        super().__init__(Qt.Orientation.Vertical)
        self.settings = settings
        self.caption = QLabel("")
        self.caption.setTextFormat(Qt.TextFormat.RichText)  # every inserted text is escaped
        self.caption.setWordWrap(True)
        self.ranking = RankingTable()
        self.map = MapView(idle="Drop or open a photo: its likeliest cities are drawn here.")
        self.addWidget(column(self.caption, self.ranking))
        self.addWidget(self.map)
        self.setSizes([220, 520])
        self._shown: Entry | None = None
        self.map.show_notice(MAP_EMPTY)

    def show_text(self, text: str, map_notice: str = "") -> None:
        """No ranking to show: a plain-text line instead (escaped here), and `map_notice` on the map."""
        self._shown = None  # a map page still scheduled for an earlier entry is not drawn
        self.ranking.setRowCount(0)
        self.caption.setText(html.escape(text))
        self.map.show_notice(map_notice or MAP_EMPTY)

    def show_ranking(self, entry: Entry, ranking: Sequence[CityScore]) -> None:
        """The ranking at once; its map page (tens of ms to build) in the next event-loop turn."""
        self._shown = entry
        self.ranking.show_ranking(ranking)
        views = f" — {entry.view_count} views combined" if entry.group else ""
        failed = f"; {len(entry.failures)} unreadable" if entry.failures else ""
        self.caption.setText(f"<b>{html.escape(ranking[0].label)}</b> ({ranking[0].probability:.1%}){views}{failed}")
        QTimer.singleShot(0, self, lambda: self._show_map(entry, ranking))  # not after the view is gone

    def _show_map(self, entry: Entry, ranking: Sequence[CityScore]) -> None:
        from core.maps import prediction_map

        if entry is not self._shown:
            return
        page = prediction_map(ranking, pages_dir() / f"predict-{id(self)}.html", assets_dir(),
                              online_tiles(self.settings))
        self.map.show_page(page)
