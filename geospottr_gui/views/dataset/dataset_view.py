"""The Dataset workspace: cities and downloads on the left; the curation grid (and the map) on the right.

This module places the panels and owns the first-run guide's steps; the Images tab is `curation_panel`,
the guide `get_started`, and the lazily built Map and Looks tabs `dataset_map` and `embedding_view`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from core.maps import warm_up

from ...context import AppContext
from ...settings import GET_STARTED_DISMISSED
from ...workers import start_job
from .cities_panel import CitiesPanel
from .curation_panel import CurationPanel
from .download_panel import DownloadPanel
from .get_started import GetStartedPanel

#: The Cities / Download tabs' narrowest width (their panels scroll below it); see `DatasetView`.
LEFT_MIN_WIDTH = 312  # the Download form (296 px) and a vertical scroll bar


def _scrolled(panel: QWidget) -> QScrollArea:
    """`panel` in a frameless scroll area that lets it grow to fill the tab."""
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


#: After this long the workspace loads the map page's libraries (`core.maps.warm_up`).
WARM_UP_DELAY_MS = 3000


class DatasetView(QWidget):
    """Workspace: [Cities | Download] tabs beside [Images | Map] tabs, under a first-run guide."""

    navigate = Signal(str)  # a workspace title the get-started guide asks for ("Train", "Predict")

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.get_started = GetStartedPanel()
        self.cities = CitiesPanel(context)
        self.download = DownloadPanel(context)
        self.curation = CurationPanel(context)
        self.left = QTabWidget()
        # Scrolled, so the Download form (the tallest and widest panel) never sets the window's minimum size.
        self.left.addTab(_scrolled(self.cities), "Cities")
        self.left.addTab(_scrolled(self.download), "Download")
        self.left.setMinimumWidth(LEFT_MIN_WIDTH)
        self.right = QTabWidget()
        self.right.addTab(self.curation, "Images")
        # In the tab bar's spare room: the filter rows and the bottom row then fit at 1024 px.
        self.right.setCornerWidget(self.curation.tools, Qt.Corner.TopRightCorner)
        self.map: QWidget | None = None
        # Built when first shown: the map brings in QtWebEngine, too slow for the first window.
        self._map_slot = QWidget()
        QVBoxLayout(self._map_slot).setContentsMargins(0, 0, 0, 0)
        self.right.addTab(self._map_slot, "Map")
        self.looks: QWidget | None = None  # the embedding map, built when first shown (it plots with pyqtgraph)
        self._looks_slot = QWidget()
        QVBoxLayout(self._looks_slot).setContentsMargins(0, 0, 0, 0)
        self.right.addTab(self._looks_slot, "Looks")
        self.right.setTabToolTip(2, "Every image placed near the images that look like it; drag over dots to pick them")
        self.right.currentChanged.connect(self._tab_changed)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([490, 790])  # the Cities and Download panels whole at 1280 px
        layout = QVBoxLayout(self)
        layout.addWidget(self.get_started)
        layout.addWidget(self.splitter, 1)

        self.cities.city_activated.connect(self.show_city)
        self.get_started.step_requested.connect(self._step)
        self.get_started.dismissed.connect(self._dismiss_guide)
        self._guide_timer = QTimer(self)
        self._guide_timer.setSingleShot(True)
        self._guide_timer.setInterval(300)
        self._guide_timer.timeout.connect(self._update_guide)
        context.images_changed.connect(self._guide_timer.start)
        context.project_changed.connect(lambda _p: self._update_guide())
        self._update_guide()
        # What the Map tab's first page needs, loaded in a worker before the tab is opened; not at once:
        # the worker's imports hold the interpreter lock, and the grid's first fill comes first.
        self._warm_timer = QTimer(self)
        self._warm_timer.setSingleShot(True)
        self._warm_timer.setInterval(WARM_UP_DELAY_MS)
        self._warm_timer.timeout.connect(lambda: start_job(self, warm_up))
        self._warm_timer.start()

    def _tab_changed(self, index: int) -> None:
        if self.map is None and self.right.widget(index) is self._map_slot:
            from .dataset_map import DatasetMapView  # imports QtWebEngine

            self.map = DatasetMapView(self.context, self.curation.thumbnails)
            self._map_slot.layout().addWidget(self.map)
            self.map.image_clicked.connect(self.reveal_image)
        if self.looks is None and self.right.widget(index) is self._looks_slot:
            from .embedding_view import EmbeddingView

            self.looks = EmbeddingView(self.context)
            self._looks_slot.layout().addWidget(self.looks)
            self.looks.image_activated.connect(self.reveal_image)
            self.looks.selected.connect(self.show_picked)

    def show_guesses(self, city: str, guessed: str) -> None:
        """The grid on the images labelled `city` that the model says are `guessed` (a confusion cell)."""
        self.right.setCurrentWidget(self.curation)
        self.curation.show_guesses(city, guessed)

    def show_picked(self, image_ids: list[str]) -> None:
        """The images picked on the embedding map, alone in the grid."""
        self.right.setCurrentWidget(self.curation)
        self.curation.show_only(image_ids)

    def show_panel(self, panel: QWidget) -> None:
        """Bring the left tab holding `panel` (`cities` or `download`) to the front."""
        for index in range(self.left.count()):
            area = self.left.widget(index)
            if isinstance(area, QScrollArea) and area.widget() is panel:
                self.left.setCurrentIndex(index)

    def reveal_image(self, image_id: str) -> None:
        """Show one image in the grid (clearing filters that hide it) and select it."""
        self.right.setCurrentWidget(self.curation)
        self.curation.reveal(image_id)

    def show_city(self, slug: str) -> None:
        self.curation.show_city(slug)

    # ------------------------------------------------------------------ first-run guide
    def _update_guide(self) -> None:
        if GET_STARTED_DISMISSED.get(self.context.settings):
            self.get_started.hide()
            return
        self.get_started.setVisible(not any(self.context.project.city_counts().values()))

    def _dismiss_guide(self) -> None:
        GET_STARTED_DISMISSED.set(self.context.settings, True)
        self.get_started.hide()

    def _step(self, step: str) -> None:
        if step == "cities":
            self.show_panel(self.cities)
            self.cities.search.setFocus()
        elif step == "download":
            self.show_panel(self.download)
        else:
            self.navigate.emit(step.capitalize())
