"""Predict's drop zone: accepts dropped files, folders and images; a click browses. Shows the current photo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QMouseEvent
from PySide6.QtWidgets import QFrame, QSizePolicy

from ...plaintext import plain_tooltip
from ..widgets.photo import PhotoLabel


class DropZone(PhotoLabel):
    """Accepts dropped files/folders and images; a click browses. Shows the current photo."""

    files_dropped = Signal(list)      # list[Path]
    image_dropped = Signal(QImage)
    browse_requested = Signal()

    HINT = "Drop photos or a folder here\npaste an image (Ctrl+V) or click to browse"

    def __init__(self) -> None:
        super().__init__(self.HINT, fill=0.98)
        self.setAcceptDrops(True)
        self.setMinimumSize(260, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("DropZone { border: 2px dashed #8a8a8a; border-radius: 8px; color: #555; }")

    def show_image(self, image: QImage | None, caption: str = "") -> None:
        """The photo being looked at (its name as tooltip), or the drop hint when there is none."""
        self.setToolTip(plain_tooltip(caption))
        super().show_image(image, self.HINT)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.browse_requested.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if paths:
            self.files_dropped.emit(paths)
        elif mime.hasImage():
            self.image_dropped.emit(QImage(mime.imageData()))
        event.acceptProposedAction()
