"""The Cities panel: the project's cities with have / target counts, catalog search to add more, remove,
set targets, and the seed's 22-city preset.

The GeoNames catalog takes about a second to load the first time, so every catalog call (search, preset)
runs as a job off the UI thread; the results of a search that was overtaken by newer typing are dropped.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.data import catalog
from core.data.project import Project
from core.events import Control, EventCallback

from ...context import AppContext
from ...plaintext import warn
from ...workers import start_job

SEARCH_DELAY_MS = 150
SEARCH_LIMIT = 25


def search_catalog(query: str, *, on_event: EventCallback, control: Control) -> list[catalog.CatalogCity]:
    """Job wrapper: the catalog search (its first call loads GeoNames, ~1 s)."""
    return catalog.search(query, limit=SEARCH_LIMIT)


def add_cities(project: Project, cities: list[catalog.CatalogCity] | str, target: int, *,
               on_event: EventCallback, control: Control) -> list[str]:
    """Job: add catalog cities (or the named preset) to the project; returns the slugs."""
    chosen = catalog.preset(cities) if isinstance(cities, str) else cities
    return [project.add_city(city, target_count=target).slug for city in chosen]


def remove_city(project: Project, slug: str, delete_images: bool, *, on_event: EventCallback,
                control: Control) -> int:
    """Job: remove a city (and, when asked, its image files)."""
    return project.remove_city(slug, delete_images=delete_images)


class CitiesPanel(QWidget):
    """Cities of the open project. Emits ``city_activated(slug)`` on double-click (the grid filters to it)."""

    city_activated = Signal(str)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._search_seq = 0
        self._jobs: list[Any] = []

        self.search = QLineEdit()
        self.search.setPlaceholderText("Add a city: type a name (e.g. Zagreb, Santiago,CL)")
        self.search.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.results.setMaximumHeight(150)
        self.results.hide()
        self.add_button = QPushButton("Add")
        self.add_button.setEnabled(False)
        self.preset_button = QPushButton("Add the 22 seed cities")
        self.target = QSpinBox()
        self.target.setRange(1, 1_000_000)
        self.target.setValue(catalog.DEFAULT_TARGET)
        self.target.setSuffix(" images")
        self.target.setToolTip("Target for cities you add, and for the selected cities with Set target")
        self.set_target_button = QPushButton("Set target")
        self.remove_button = QPushButton("Remove…")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["City", "Have / target", "Progress"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(2, 84)
        self.summary = QLabel()

        add_row = QHBoxLayout()
        add_row.addWidget(self.search, 1)
        add_row.addWidget(self.add_button)
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Target"))
        target_row.addWidget(self.target)
        target_row.addWidget(self.set_target_button)
        target_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(add_row)
        layout.addWidget(self.results)
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset_button)
        preset_row.addStretch(1)
        preset_row.addWidget(self.remove_button)
        layout.addLayout(preset_row)
        layout.addWidget(self.table, 1)
        layout.addLayout(target_row)
        layout.addWidget(self.summary)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self._run_search)
        self.search.textChanged.connect(lambda _text: self._timer.start())
        self.search.returnPressed.connect(self._add_selected)
        self.results.itemDoubleClicked.connect(lambda _item: self._add_selected())
        self.results.currentItemChanged.connect(lambda item, _prev: self.add_button.setEnabled(item is not None))
        self.add_button.clicked.connect(self._add_selected)
        self.preset_button.clicked.connect(lambda: self._start_add("seed"))
        self.set_target_button.clicked.connect(self._set_target)
        self.remove_button.clicked.connect(self._remove)
        self.table.itemDoubleClicked.connect(self._activated)
        # Counts follow every curation key press; refresh once the keys pause (a count is a full scan).
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(200)
        self._refresh_timer.timeout.connect(self.refresh)
        context.images_changed.connect(self._refresh_timer.start)
        context.project_changed.connect(lambda _project: self.refresh())
        self.refresh()

    # ------------------------------------------------------------------ table
    def refresh(self) -> None:
        project = self.context.project
        cities = project.cities()
        counts = project.city_counts()
        selected = set(self.selected_slugs())
        self.table.setRowCount(len(cities))
        have_all = target_all = 0
        for row, city in enumerate(cities):
            have = counts.get(city.slug, 0)
            have_all += have
            target_all += city.target_count
            name = QTableWidgetItem(f"{city.name}, {city.country}")
            name.setData(Qt.ItemDataRole.UserRole, city.slug)
            name.setToolTip(f"{city.slug} · {city.lat:.4f}, {city.lon:.4f}"
                            + (f" · radius {city.radius_km:.1f} km" if city.radius_km else " · bounding box"))
            self.table.setItem(row, 0, name)
            count = QTableWidgetItem(f"{have:,} / {city.target_count:,}")
            count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 1, count)
            bar = self.table.cellWidget(row, 2)
            if not isinstance(bar, QProgressBar):
                bar = QProgressBar()
                bar.setTextVisible(True)
                self.table.setCellWidget(row, 2, bar)
            bar.setRange(0, max(1, city.target_count))
            bar.setValue(min(have, city.target_count))
            bar.setFormat(f"{100 * have // max(1, city.target_count)}%")
            if city.slug in selected:
                self.table.selectRow(row)
        self.summary.setText(f"{len(cities)} cities · {have_all:,} of {target_all:,} images"
                             if cities else "No cities yet: search above, or add the seed's 22 cities.")
        self.preset_button.setVisible(not cities)

    def selected_slugs(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows if self.table.item(r, 0)]

    def _activated(self, item: QTableWidgetItem) -> None:
        slug = self.table.item(item.row(), 0).data(Qt.ItemDataRole.UserRole)
        self.city_activated.emit(slug)

    # ------------------------------------------------------------------ search and add
    def _run_search(self) -> None:
        text = self.search.text().strip()
        self._search_seq += 1
        if not text:
            self.results.clear()
            self.results.hide()
            return
        seq = self._search_seq
        start_job(self, search_catalog, text, on_finished=lambda found: self._show_results(seq, found),
                  on_failed=self.context.status.emit)

    def _show_results(self, seq: int, found: list[catalog.CatalogCity]) -> None:
        if seq != self._search_seq:
            return  # overtaken by newer typing
        self.results.clear()
        have = {c.slug for c in self.context.project.cities()}
        for city in found:
            label = f"{city.name}, {city.country_name}  ·  pop {city.population:,}"
            if city.slug in have:
                label += "  (in project)"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, city)
            self.results.addItem(item)
        if not found:
            self.results.addItem(QListWidgetItem("no city matches"))
        self.results.setCurrentRow(0 if found else -1)
        self.results.show()

    def _add_selected(self) -> None:
        item = self.results.currentItem()
        city = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if city is None:
            return
        self._start_add([city])
        self.search.clear()

    def _start_add(self, cities: list[catalog.CatalogCity] | str) -> None:
        self.preset_button.setEnabled(False)
        self.context.status.emit("adding cities…")
        start_job(self, add_cities, self.context.project, cities, self.target.value(),
                  on_finished=self._added, on_failed=self._failed)

    def _added(self, slugs: list[str]) -> None:
        self.preset_button.setEnabled(True)
        labels = [self._label(slug) for slug in slugs]
        self.context.status.emit(f"added {'; '.join(labels)}" if len(slugs) < 5 else f"added {len(slugs)} cities")
        self.context.images_changed.emit()

    def _failed(self, message: str) -> None:
        self.preset_button.setEnabled(True)
        warn(self, "GeoSpottr", message)

    def _label(self, slug: str) -> str:
        """"Osijek, HR": how a city is named to the user (the slug only for one that has gone)."""
        city = self.context.project.find_city(slug)
        return city.label if city else slug

    # ------------------------------------------------------------------ edit
    def _set_target(self) -> None:
        slugs = self.selected_slugs()
        if not slugs:
            self.context.status.emit("select the cities whose target to set")
            return
        for slug in slugs:
            self.context.project.update_city(slug, target_count=self.target.value())
        self.refresh()

    def _remove(self) -> None:
        slugs = self.selected_slugs()
        if len(slugs) != 1:
            self.context.status.emit("select one city to remove")
            return
        slug = slugs[0]
        count = self.context.project.city_counts(("pending", "accepted", "rejected")).get(slug, 0)
        name = self._label(slug)
        text = f"Remove {name}?"
        if count:
            text = f"Remove {name} and delete its {count:,} images from the project? This cannot be undone."
        answer = QMessageBox.question(self, "Remove city", text)
        if answer != QMessageBox.StandardButton.Yes:
            return
        start_job(self, remove_city, self.context.project, slug, bool(count),
                  on_finished=lambda n: self._removed(name, n), on_failed=self._failed)

    def _removed(self, name: str, count: int) -> None:
        self.context.status.emit(f"removed {name}" + (f" and {count:,} images" if count else ""))
        self.context.history.clear()  # its edits may point at the removed city or images
        self.context.images_changed.emit()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not getattr(self, "_warmed", False):
            self._warmed = True
            # Load the catalog in the background so the first search answers at once.
            QTimer.singleShot(800, self, self._warm_catalog)

    def _warm_catalog(self) -> None:
        if self.isVisible():
            start_job(self, search_catalog, "a")
