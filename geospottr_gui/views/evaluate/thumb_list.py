"""Captioned thumbnails of evaluated images (a clicked confusion cell's, the most confident mistakes),
loaded off the UI thread by the core thumbnail job. Its own module because it is a self-contained widget
with its own job's lifetime; `EvaluateView` fills two of them from a report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from core.data.project import Project
from core.data.thumbnails import ThumbnailQueue, ThumbnailRequest, cache_path, serve_thumbnails
from core.events import Event

from ...plaintext import plain_tooltip
from ...workers import JobHandle, start_job
from ..widgets.photo import rgb_qimage

THUMB = 96


class ThumbList(QListWidget):
    """Images as captioned thumbnails, loaded off the UI thread by the core thumbnail job.

    Each `show_items` call starts `core.data.thumbnails.serve_thumbnails` for its requests and cancels it
    once every requested key has answered, so no thread outlives the batch it was started for.
    """

    loaded = Signal()  # all thumbnails of the current batch arrived
    image_activated = Signal(str)  # image id double-clicked (or Enter): open it in the Dataset grid

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWordWrap(True)
        self.setGridSize(QSize(THUMB + 40, THUMB + 44))
        self._job: JobHandle | None = None
        self._waiting: set[str] = set()
        self._items: dict[str, QListWidgetItem] = {}
        self.itemActivated.connect(lambda item: self.image_activated.emit(item.data(Qt.ItemDataRole.UserRole)))

    def show_items(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        """Rows of (image id, path, caption, tooltip); replaces what was shown."""
        self.stop()
        self.clear()
        self._items = {}
        queue = ThumbnailQueue()
        for image_id, path, caption, tip in rows:
            item = QListWidgetItem(caption)
            item.setToolTip(plain_tooltip(tip))
            item.setData(Qt.ItemDataRole.UserRole, image_id)
            item.setData(Qt.ItemDataRole.UserRole + 1, tip)
            item.setSizeHint(self.gridSize())
            self.addItem(item)
            self._items[image_id] = item
            queue.put(ThumbnailRequest(image_id, Path(path), THUMB, cache_path(self.project, image_id, THUMB)))
        self._waiting = set(self._items)
        if not self._waiting:
            self.loaded.emit()
            return
        self._job = start_job(self, serve_thumbnails, queue, on_event=self._on_thumb)

    def image_ids(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def _on_thumb(self, event: Event) -> None:
        key = event.data.get("key")
        item = self._items.get(key)
        if item is None or key not in self._waiting:
            return  # a late answer for an earlier batch
        self._waiting.discard(key)
        rgb = event.data.get("rgb")
        if rgb:
            w, h = event.data["width"], event.data["height"]
            image = rgb_qimage(rgb, w, h)
            item.setIcon(QIcon(QPixmap.fromImage(image)))
        else:
            tip = f"{item.data(Qt.ItemDataRole.UserRole + 1)}\ncannot read: {event.message}"
            item.setToolTip(plain_tooltip(tip))
        if not self._waiting:
            self.stop()
            self.loaded.emit()

    def stop(self) -> None:
        """Cancel the thumbnail job, if any, and wait for its thread (call before the widget goes)."""
        if self._job is not None:
            self._job.cancel()
            self._job.wait()
            self._job = None
