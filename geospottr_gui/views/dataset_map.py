"""The dataset map (a tab of the Dataset workspace): every geotagged image as a point coloured by city,
clustered when there are many, and each city's sampling area.

API for the Dataset workspace: `refresh()` rebuilds the page (also done by itself when the project or its
images change, lazily: only while the tab is visible), and `image_clicked(image_id)` fires when a point is
clicked, so the workspace can open that image in the curation grid. The page is built off the UI thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.project import Project

from ..context import AppContext
from ..workers import JobHandle, start_job, stop_jobs
from .map_view import MapView, assets_dir, online_tiles, pages_dir

#: Label -> image statuses shown.
STATUS_FILTERS = {"Kept and pending": ("pending", "accepted"), "All": None, "Rejected": ("rejected",)}


def build_dataset_page(project: Project, statuses: tuple[str, ...] | None, out_path: Path, tiles: bool, *,
                       on_event, control) -> tuple[Path, int, int]:
    """Worker job: write the dataset map page; returns (page, points drawn, images without coordinates)."""
    from core.maps import ImagePoint, dataset_map

    records = project.images(status=statuses)
    control.checkpoint()
    points = [ImagePoint(r.id, r.lat, r.lon, r.city_slug) for r in records
              if r.lat is not None and r.lon is not None and r.city_slug]
    page = dataset_map(project.cities(), points, out_path, assets_dir(), online_tiles=tiles)
    return page, len(points), len(records) - len(points)


class DatasetMapView(QWidget):
    """See the module docstring."""

    image_clicked = Signal(str)
    refreshed = Signal(int)   # points drawn

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self._job: JobHandle | None = None
        self._dirty = True
        self._again = False
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.status_filter = QComboBox()
        self.status_filter.addItems(list(STATUS_FILTERS))
        self.status_filter.currentIndexChanged.connect(lambda _: self.refresh())
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.status_filter)
        bar.addWidget(refresh)
        self.map = MapView()
        self.map.message.connect(self._on_message)
        self.map.load_failed.connect(context.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.map, 1)
        context.images_changed.connect(self._mark_dirty)
        context.project_changed.connect(self._mark_dirty)

    def refresh(self) -> None:
        """Rebuild the map from the project now (a rebuild already running is followed by one more)."""
        if self._job is not None:
            self._again = True
            return
        self._dirty = False
        statuses = STATUS_FILTERS[self.status_filter.currentText()]
        out = pages_dir() / f"dataset-{id(self)}.html"
        self.summary.setText("Drawing the map…")
        self._job = start_job(self, build_dataset_page, self.context.project, statuses, out,
                              online_tiles(self.context.settings), on_finished=self._built,
                              on_failed=self._failed)
        self._job.done.connect(self._job_done)

    def _built(self, result: tuple[Path, int, int]) -> None:
        page, drawn, missing = result
        cities = len(self.context.project.cities())
        text = f"{drawn} images in {cities} cities"
        if missing:
            text += f" ({missing} without coordinates are not shown)"
        self.summary.setText(text + ". Click a point to open the image.")
        self.map.show_page(page)
        self.refreshed.emit(drawn)

    def _failed(self, message: str) -> None:
        self.summary.setText(f"Map not drawn: {message}")
        self.context.status.emit(message)

    def _job_done(self) -> None:
        self._job = None
        if self._again:
            self._again = False
            self.refresh()

    def _mark_dirty(self, *_: object) -> None:
        self._dirty = True
        if self.isVisible():
            self.refresh()

    def _on_message(self, message: dict) -> None:
        if message.get("type") == "image" and isinstance(message.get("id"), str):
            self.image_clicked.emit(message["id"])

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def shutdown(self) -> None:
        stop_jobs(self)
