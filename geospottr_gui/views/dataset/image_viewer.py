"""The full-size viewer of the curation grid: Space or a double-click opens it on the current image.

It follows the grid's current image rather than keeping its own list: Left / Right (and Page Up / Down)
move the grid's current image, so the curation keys (A, R, P, L, 1-9), which the viewer hands to the
grid, act on the image shown, and a judged image moves on to the next one in both. Zoom with the wheel
or + / -, 0 to fit again; drag to pan. Space or Escape closes. The picture is decoded off
the UI thread by the grid's thumbnail job, at `VIEWER_SIZE` at most (Street View frames are 640 px).
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QImage, QKeyEvent, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QDialog, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QLabel, QVBoxLayout, QWidget

from core.data.project import ImageRecord

from .image_grid import ImageGridModel, ImageGridView, ThumbnailProvider, badge_tooltip

#: Longest side the viewer asks for (bigger photos are shown downscaled; zoom still magnifies).
VIEWER_SIZE = 2048
ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.05, 16.0
#: Keys that move between images: the zoomable view (which has the focus) must not scroll with them.
NEXT_KEYS = (Qt.Key.Key_Right, Qt.Key.Key_PageDown, Qt.Key.Key_Down)
PREVIOUS_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_PageUp, Qt.Key.Key_Up)


class ZoomView(QGraphicsView):
    """A picture that fits the view until zoomed (wheel, + / -; 0 fits again), dragged to pan."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(Qt.GlobalColor.black)
        self.fitted = True

    def set_image(self, image: QImage | None) -> None:
        self.item.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        self.scene().setSceneRect(self.item.boundingRect())
        self.fit()

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        self.fitted = True
        self.resetTransform()
        if not self.item.pixmap().isNull():
            self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom_by(self, factor: float) -> None:
        factor = max(MIN_ZOOM / self.zoom, min(MAX_ZOOM / self.zoom, factor))
        self.fitted = False
        self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom_by(ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP)
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # QGraphicsView scrolls with the arrows and Page keys; in the viewer they step between images, so
        # they go up to the dialog (a zoomed picture pans by dragging).
        if event.key() in NEXT_KEYS + PREVIOUS_KEYS:
            event.ignore()
        else:
            super().keyPressEvent(event)


class ImageViewer(QDialog):
    """See the module docstring. Open with ``ImageViewer(grid, thumbnails, parent).show()``."""

    def __init__(self, grid: ImageGridView, thumbnails: ThumbnailProvider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Image")
        self.grid = grid
        self.thumbnails = thumbnails
        self.record: ImageRecord | None = None
        self.view = ZoomView()
        self.caption = QLabel()
        self.caption.setTextFormat(Qt.TextFormat.PlainText)  # city names are user data
        self.caption.setWordWrap(True)
        hint = QLabel("← → previous / next · wheel or + − zoom, 0 fit · A accept, R reject, L relabel · "
                      "Space or Esc closes")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #666")
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        layout.addWidget(hint)
        self.resize(960, 760)
        thumbnails.ready.connect(self._ready)
        grid.selectionModel().currentChanged.connect(self._current_changed)
        grid.model().dataChanged.connect(self._data_changed)
        self._show(grid.currentIndex())

    @property
    def model(self) -> ImageGridModel:
        return self.grid.model()  # type: ignore[return-value]

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show(current)

    def _data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: list[int] = ()) -> None:
        """A curation edit changed the image shown: its caption follows (thumbnail arrivals are ignored)."""
        row = self.grid.currentIndex().row()
        if list(roles) != [Qt.ItemDataRole.DecorationRole] and top.row() <= row <= bottom.row():
            self._show(self.grid.currentIndex(), reload=False)

    def _show(self, index: QModelIndex, reload: bool = True) -> None:
        record = self.model.record(index.row()) if index.isValid() else None
        if record is None:
            self.record = None
            self.view.set_image(None)
            self.caption.setText("No image")
            return
        row = index.row() + 1
        self.caption.setText(f"{row:,} of {self.model.rowCount():,} · {badge_tooltip(record, self.model.city_label(record))} · {record.id}")
        if reload or self.record is None or record.id != self.record.id:
            self.record = record
            image = self.thumbnails.get(self.model.project, record, VIEWER_SIZE, keep_on_disk=False)
            self.view.set_image(image)
            if image is None:
                self.caption.setText(self.caption.text() + " · loading…")
        self.record = record

    def _ready(self, image_id: str, size: int) -> None:
        if self.record is not None and image_id == self.record.id and size == VIEWER_SIZE:
            image = self.thumbnails.get(self.model.project, self.record, VIEWER_SIZE, keep_on_disk=False)
            self.view.set_image(image)
            self._show(self.grid.currentIndex(), reload=False)
            if image is None:
                self.caption.setText(self.caption.text() + " · this image cannot be read")

    def step(self, delta: int) -> None:
        """Show the image `delta` places on in the grid (the grid's current image moves along)."""
        row = self.grid.currentIndex().row() + delta
        if 0 <= row < self.model.rowCount():
            index = self.model.index(row)
            self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.grid.scrollTo(index)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Space, Qt.Key.Key_Escape):
            self.close()
        elif key in NEXT_KEYS:
            self.step(1)
        elif key in PREVIOUS_KEYS:
            self.step(-1)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.view.zoom_by(ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.view.zoom_by(1 / ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.view.fit()
        else:
            self.grid.keyPressEvent(event)  # the curation keys act on the image shown
            return
        event.accept()
