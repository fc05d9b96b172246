"""The detail pane: the selected image large, with its metadata and attribution (every value escaped)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.data.project import ImageRecord, Project

from ...plaintext import plain_tooltip
from ..widgets.photo import PhotoLabel
from .image_grid import ThumbnailProvider

PREVIEW_SIZE = 640


#: Longer values (panorama ids, attribution URLs) have no place to wrap: their middle gives way to "…" and
#: the whole value is in the pane's tooltip, so a narrow pane never cuts them off at the edge.
LONG_VALUE = 36


def _middle_elided(text: str) -> str:
    if len(text) <= LONG_VALUE:
        return text
    keep = (LONG_VALUE - 1) // 2
    return f"{text[:keep]}…{text[-keep:]}"


def source_text(record: ImageRecord) -> str:
    return record.source + (f" · {record.source_id}" if record.source_id else "")


def metadata_html(record: ImageRecord, city_name: str | None) -> str:
    """A two-column table of what a curator needs to judge one image; every value is escaped."""
    def coord(value: float | None) -> str:
        return "—" if value is None else f"{value:.5f}"

    rows = [
        ("City", city_name or "unlabelled"),
        ("Status", record.status + (f" ({record.reason})" if record.reason else "")),
        ("Split", record.split or "none"),
        ("Source", _middle_elided(source_text(record))),
        ("Location", f"{coord(record.lat)}, {coord(record.lon)}"),
        ("Heading / pitch / fov", " / ".join("—" if v is None else f"{v:g}" for v in (record.heading, record.pitch, record.fov))),
        ("Captured", record.captured_at or "—"),
        ("Size", f"{record.width} × {record.height}"),
        ("Licence", record.licence or "—"),
        ("Attribution", _middle_elided(record.attribution or "—")),
        ("Id", record.id),
    ]
    body = "".join(f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


class ImageDetail(QWidget):
    """Shows one record; the large preview is made off the UI thread by the shared thumbnail job."""

    def __init__(self, thumbnails: ThumbnailProvider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.project: Project | None = None
        self.record: ImageRecord | None = None
        self.image = PhotoLabel("Select an image")
        self.image.setMinimumSize(160, 120)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.meta = QLabel()
        self.meta.setTextFormat(Qt.TextFormat.RichText)
        self.meta.setWordWrap(True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # What is shown must not resize the pane (selecting 1, 3, 1 images moved the splitter).
        self.meta.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.meta.setMinimumWidth(0)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 3)
        layout.addWidget(self.meta, 2)
        thumbnails.ready.connect(self._ready)

    def show_record(self, project: Project, record: ImageRecord | None, selected: int = 1) -> None:
        self.project, self.record = project, record
        if record is None:
            self.image.show_text(f"{selected:,} images selected" if selected > 1 else "Select an image")
            self.meta.setText("")
            self.meta.setToolTip("")
            return
        city = project.city_by_id(record.city_id).label if record.city_id is not None else None
        self.meta.setText(metadata_html(record, city))
        whole = [f"Source: {source_text(record)}"] + ([f"Attribution: {record.attribution}"] if record.attribution else [])
        self.meta.setToolTip(plain_tooltip("\n".join(whole)))
        self.image.show_image(self.thumbnails.get(project, record, PREVIEW_SIZE, keep_on_disk=False), "loading…")

    def _ready(self, image_id: str, size: int) -> None:
        if self.record is not None and self.project is not None and image_id == self.record.id and size == PREVIEW_SIZE:
            image = self.thumbnails.get(self.project, self.record, PREVIEW_SIZE, keep_on_disk=False)
            self.image.show_image(image, "this image cannot be read")
