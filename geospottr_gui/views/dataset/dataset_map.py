"""The dataset map (a tab of the Dataset workspace): every geotagged image as a point coloured by city,
clustered when there are many, and each city's sampling area.

API for the Dataset workspace: `refresh()` rebuilds the page (also done by itself when the project or its
images change, lazily: only while the tab is visible), and `image_clicked(image_id)` fires when a point is
clicked, so the workspace can open that image in the curation grid. The page is built off the UI thread.
Hovering a point shows its thumbnail: the page asks for it, the grid's thumbnail job makes it (off the UI
thread, cached on disk) and it goes back into the page as a small JPEG data URL.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.data.project import Project

from ...context import AppContext
from ...workers import JobHandle, start_job, stop_jobs
from ..widgets.map_view import MapView, assets_dir, online_tiles, pages_dir
from .image_grid import THUMB_SIZE, ThumbnailProvider

#: Label -> image statuses shown.
STATUS_FILTERS = {"Kept and pending": ("pending", "accepted"), "All": None, "Rejected": ("rejected",)}


def build_dataset_page(project: Project, statuses: tuple[str, ...] | None, out_path: Path, tiles: bool, *,
                       on_event, control) -> tuple[Path, int, int]:
    """Worker job: write the dataset map page; returns (page, points drawn, images without coordinates)."""
    from core.maps import ImagePoint, dataset_map

    places = project.image_places(status=statuses)
    control.checkpoint()
    points = [ImagePoint(image_id, lat, lon, slug) for image_id, lat, lon, slug in places
              if lat is not None and lon is not None and slug]
    page = dataset_map(project.cities(), points, out_path, assets_dir(), online_tiles=tiles)
    return page, len(points), len(places) - len(points)


class DatasetMapView(QWidget):
    """See the module docstring."""

    image_clicked = Signal(str)
    refreshed = Signal(int)   # points drawn

    def __init__(self, context: AppContext, thumbnails: ThumbnailProvider | None = None) -> None:
        super().__init__()
        self.context = context
        self.thumbnails = thumbnails if thumbnails is not None else ThumbnailProvider(self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self._hovered: str | None = None   # the point whose thumbnail the page waits for
        self._job: JobHandle | None = None
        self._dirty = True
        self._again = False
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)  # the empty map's hint is long: wrapped, it cannot widen the window
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
        self.map = MapView(idle="Drawing the map…")
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
        if not drawn:  # an empty map says what would fill it
            text = ("No images with a location to show" + (f" ({missing} without coordinates)" if missing else "")
                    + ": download photos of the cities (Download tab) or import a folder or CSV with coordinates")
        self.summary.setText(text + ("." if not drawn else ". Hover a point to see it, click to open it."))
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
        elif message.get("type") == "hover" and isinstance(message.get("id"), str):
            self.show_thumbnail(message["id"])

    def show_thumbnail(self, image_id: str) -> None:
        """Put the image's thumbnail in its point's tooltip: now if made already, else when it is."""
        project = self.context.project
        record = project.images_by_id([image_id]).get(image_id)
        if record is None:
            return
        self._hovered = image_id
        image = self.thumbnails.get(project, record, THUMB_SIZE)
        if image is not None:
            self._send_thumbnail(image_id, image)

    def _thumbnail_ready(self, image_id: str, size: int) -> None:
        if image_id == self._hovered and size == THUMB_SIZE:
            record = self.context.project.images_by_id([image_id]).get(image_id)
            image = self.thumbnails.get(self.context.project, record, THUMB_SIZE) if record else None
            if image is not None:
                self._send_thumbnail(image_id, image)

    def _send_thumbnail(self, image_id: str, image: QImage) -> None:
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "JPEG", 80)
        url = "data:image/jpeg;base64," + bytes(data.toBase64()).decode("ascii")
        self._hovered = None
        self.map.run_js(f"window.geospottrThumb && geospottrThumb({json.dumps(image_id)}, {json.dumps(url)})")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def shutdown(self) -> None:
        stop_jobs(self)
