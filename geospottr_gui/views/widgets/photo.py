"""Showing a photo in a label that keeps its aspect ratio as the label resizes, and PIL -> QImage."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel


def rgb_qimage(data: bytes, width: int, height: int) -> QImage:
    """A QImage that owns a copy of packed 8-bit RGB `data` (safe after `data` is gone)."""
    return QImage(data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def preview_qimage(source, max_side: int) -> QImage:
    """A photo decoded the safe way (`core.imaging`) and shrunk to at most `max_side` pixels.

    Raises `core.imaging.ImageError` with a readable reason for a file that cannot be shown.
    """
    from core.imaging import load_image

    img = load_image(source, draft=(max_side, max_side))
    img.thumbnail((max_side, max_side))
    return rgb_qimage(img.tobytes("raw", "RGB"), img.width, img.height)


class PhotoLabel(QLabel):
    """A label showing either a photo, scaled to fit with its aspect ratio on every resize, or a text.

    `fill` < 1 leaves a margin (e.g. inside a dashed drop frame).
    """

    def __init__(self, text: str = "", fill: float = 1.0) -> None:
        super().__init__(text)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._fill = fill
        self._pixmap: QPixmap | None = None

    def show_image(self, image: QImage | None, text: str = "") -> None:
        """Show `image`; a missing or null one shows `text` instead."""
        if image is None or image.isNull():
            self.show_text(text)
        else:
            self._pixmap = QPixmap.fromImage(image)
            self._rescale()

    def show_text(self, text: str) -> None:
        self._pixmap = None
        self.setPixmap(QPixmap())
        self.setText(text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is not None:
            self.setPixmap(self._pixmap.scaled(self.size() * self._fill, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))
