"""The curation grid: a virtualised thumbnail view over a paged model, fed by a background thumbnail job.

Why it stays smooth at 30,000 images: the model holds only the sorted id list (`Project.image_ids`) and
fetches records a page at a time when a row is painted; the view has uniform item sizes, so Qt lays out
only arithmetic; thumbnails come from one long-lived job (`core.data.thumbnails.serve_thumbnails`) fed
newest-request-first and cached on disk, so only what is on screen is ever decoded.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from core.data.project import ImageRecord, Project
from core.data.thumbnails import ThumbnailQueue, ThumbnailRequest, cache_path, serve_thumbnails
from core.events import Event

from ...workers import JobHandle, start_job
from ..widgets.photo import rgb_qimage

THUMB_SIZE = 128
#: The thumbnail-size slider's range (px of the longer side on screen).
MIN_THUMB, MAX_THUMB = 64, 320
#: Sizes thumbnails are made and cached at; a tile shows the smallest one at least as big as itself.
THUMB_TIERS = (128, 256, 512)
#: Records fetched per query when the view paints a row the model has not loaded yet.
PAGE = 256
#: Bytes of decoded thumbnails and previews kept in memory (a 128 px one is about 50 KB).
IMAGE_CACHE_BYTES = 96 * 1024 * 1024
RECORD_CACHE = 6000
#: Thumbnail requests remembered for tiles still waiting (see `ThumbnailProvider.get`).
PENDING_KEPT = 4000
RecordRole = Qt.ItemDataRole.UserRole + 1
#: The model's stored guess for the image (`Project.store_predictions`): (city label, probability, right?) or None.
GuessRole = Qt.ItemDataRole.UserRole + 3
IdRole = Qt.ItemDataRole.UserRole + 2


class ThumbnailProvider(QObject):
    """Hands out thumbnails by image id: from memory, or queued for the background job (``ready`` fires)."""

    ready = Signal(str, int)  # image id, size

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = ThumbnailQueue()
        self._images: OrderedDict[tuple[str, int], QImage | None] = OrderedDict()
        #: Asked for, not made yet: key -> (the record's path, its request).
        self._pending: OrderedDict[tuple[str, int], tuple[str, ThumbnailRequest]] = OrderedDict()
        self._bytes = 0
        self._job: JobHandle | None = None

    def get(self, project: Project, record: ImageRecord, size: int, keep_on_disk: bool = True) -> QImage | None:
        """The thumbnail if made already; else None now and ``ready(id, size)`` later (also on failure)."""
        key = (record.id, size)
        if key in self._images:
            self._images.move_to_end(key)
            return self._images[key]
        # A tile still waiting is painted again at every scroll step and thumbnail arrival: its request
        # is kept, as resolving its two paths (symlink checks, a dozen lstat calls) on each paint was
        # most of a cold scroll frame's time on the UI thread.
        path, request = self._pending.pop(key, (None, None))
        if request is None or path != record.path or (request.cache is None) == keep_on_disk:
            cache = cache_path(project, record.id, size) if keep_on_disk else None
            request = ThumbnailRequest(record.id, project.image_path(record), size, cache)
        self._pending[key] = (record.path, request)
        while len(self._pending) > PENDING_KEPT:
            self._pending.popitem(last=False)
        self.queue.put(request)
        if self._job is None or not self._job.running:
            self._job = start_job(self, serve_thumbnails, self.queue, on_event=self._on_event)
        return None

    def failed(self, image_id: str, size: int) -> bool:
        key = (image_id, size)
        return key in self._images and self._images[key] is None

    def forget(self) -> None:
        """Drop everything (another project was opened)."""
        self.queue.clear()
        self._images.clear()
        self._pending.clear()
        self._bytes = 0

    def stop(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job.wait(5000)
            self._job = None

    def _on_event(self, event: Event) -> None:
        data = event.data
        image = None
        if data.get("rgb") is not None:
            w, h = data["width"], data["height"]
            image = rgb_qimage(data["rgb"], w, h)
        key = (data["key"], data["size"])
        self._pending.pop(key, None)
        old = self._images.pop(key, None)
        self._bytes += (image.sizeInBytes() if image is not None else 0) - (old.sizeInBytes() if old is not None else 0)
        self._images[key] = image
        while self._bytes > IMAGE_CACHE_BYTES and len(self._images) > 1:
            dropped = self._images.popitem(last=False)[1]
            self._bytes -= dropped.sizeInBytes() if dropped is not None else 0
        self.ready.emit(data["key"], data["size"])


def thumb_tier(size: int) -> int:
    """The cached thumbnail size drawn for tiles of `size` px (downscaled when drawn, never blown up)."""
    return next((t for t in THUMB_TIERS if t >= size), THUMB_TIERS[-1])


class ImageGridModel(QAbstractListModel):
    """Rows are image ids matching the current filters; records load a page at a time on demand."""

    def __init__(self, project: Project, thumbnails: ThumbnailProvider, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.thumbnails = thumbnails
        self.filters: dict[str, Any] = {}
        #: Only these ids (picked on the embedding map), within the filters; None: no such restriction.
        self.only: frozenset[str] | None = None
        self.order = "added"
        #: The size thumbnails are fetched at (a `THUMB_TIERS` size; the grid's size slider sets it).
        self.thumb_size = THUMB_SIZE
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._records: OrderedDict[str, ImageRecord] = OrderedDict()
        self._labels: dict[str, str] = {}  # city slug -> "Osijek, HR", re-read at each reload
        self._guesses: dict[str, tuple[str, float]] = {}  # image id -> the model's (city slug, p), ditto
        thumbnails.ready.connect(self._thumbnail_ready)

    # ------------------------------------------------------------------ contents
    def set_project(self, project: Project) -> None:
        self.project = project
        self.filters = {}
        self.only = None
        self.thumbnails.forget()
        self.reload()

    def set_query(self, filters: dict[str, Any], order: str) -> None:
        self.filters = {k: v for k, v in filters.items() if v is not None}
        self.order = order
        self.reload()

    def restrict(self, ids: Iterable[str] | None) -> None:
        """Show only `ids` (still filtered and sorted as set), or every image again with None."""
        self.only = frozenset(ids) if ids is not None else None
        self.reload()

    def reload(self) -> None:
        """Re-run the query; keeps the rows (and so the selection) when the id list did not change."""
        ids = self.project.image_ids(order=self.order, **self.filters)
        if self.only is not None:
            ids = [i for i in ids if i in self.only]
        self._labels = {c.slug: c.label for c in self.project.cities()}
        self._guesses = self.project.predictions()
        self._records.clear()
        if ids == self._ids:
            if ids:
                self.dataChanged.emit(self.index(0), self.index(len(ids) - 1))
            return
        self.beginResetModel()
        self._ids = ids
        self._rows = {image_id: row for row, image_id in enumerate(ids)}
        self.endResetModel()

    def refresh(self, image_ids: list[str]) -> None:
        """Repaint rows whose labels changed (records are re-read when next painted)."""
        rows = [self._rows[i] for i in image_ids if i in self._rows]
        for i in image_ids:
            self._records.pop(i, None)
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))

    def image_id(self, row: int) -> str:
        return self._ids[row]

    def row_of(self, image_id: str) -> int | None:
        return self._rows.get(image_id)

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def record(self, row: int) -> ImageRecord | None:
        image_id = self._ids[row]
        record = self._records.get(image_id)
        if record is None:
            start = row - row % PAGE
            page = self.project.images_by_id(self._ids[start:start + PAGE])
            self._records.update(page)
            while len(self._records) > RECORD_CACHE:
                self._records.popitem(last=False)
            record = page.get(image_id)
        return record

    # ------------------------------------------------------------------ Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == IdRole:
            return self._ids[index.row()]
        record = self.record(index.row())
        if record is None:  # deleted since the last reload
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.city_label(record)
        if role == RecordRole:
            return record
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.get(self.project, record, self.thumb_size)
        if role == GuessRole:
            return self.guess(record)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = badge_tooltip(record, self.city_label(record))
            guess = self.guess(record)
            return tip + (f" · model: {guess[0]} {guess[1]:.0%}" if guess else "")
        return None

    def guess(self, record: ImageRecord) -> tuple[str, float, bool] | None:
        """The model's stored guess for `record`: (city label, probability, right?), or None."""
        found = self._guesses.get(record.id)
        if found is None:
            return None
        slug, p = found
        return self._labels.get(slug, slug), p, slug == record.city_slug

    def city_label(self, record: ImageRecord) -> str:
        """The image's city as a user reads it ("Osijek, HR"), or "unlabelled"."""
        if not record.city_slug:
            return "unlabelled"
        return self._labels.get(record.city_slug, record.city_slug)

    def set_thumb_size(self, size: int) -> None:
        """Fetch thumbnails at `size` (a tier) from now on, and repaint."""
        if size != self.thumb_size:
            self.thumb_size = size
            if self._ids:
                self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1), [Qt.ItemDataRole.DecorationRole])

    def _thumbnail_ready(self, image_id: str, size: int) -> None:
        row = self._rows.get(image_id)
        if row is not None and size == self.thumb_size:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


_STATUS_COLOURS = {"accepted": QColor(46, 160, 67), "rejected": QColor(218, 54, 51)}
#: The split badge in a tile's top-left corner.
SPLIT_BADGES = {"train": "T", "val": "V", "test": "Te"}
#: The status badge in a tile's top-right corner (pending images have none).
STATUS_BADGES = {"accepted": "✓", "rejected": "✕"}
#: What the badges mean, under the grid (each tile's tooltip says it for that image).
BADGE_LEGEND = "Badges: ✓ accepted · ✕ rejected (faded) · none: pending · T / V / Te: train / val / test split"


def badge_tooltip(record: ImageRecord, city: str) -> str:
    """One image's tooltip: its city (as `city` reads), and its badges spelled out."""
    split = f"{record.split} split ({SPLIT_BADGES[record.split]})" if record.split in SPLIT_BADGES else "no split"
    status = f"{record.status} ({STATUS_BADGES[record.status]})" if record.status in STATUS_BADGES else record.status
    return f"{city} · {status} · {split} · {record.source}"


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a thumbnail with its city below, a status badge, and the split letter; rejected ones faded."""

    def __init__(self, size: int = THUMB_SIZE, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(self.size + 12, self.size + 30)

    @staticmethod
    def fit(image: QImage, box: QRect) -> QRect:
        """Where `image` is drawn in `box`: scaled down to fit (never up), aspect kept, centred."""
        scale = min(1.0, box.width() / max(1, image.width()), box.height() / max(1, image.height()))
        target = QRect(0, 0, round(image.width() * scale), round(image.height() * scale))
        target.moveCenter(box.center())
        return target

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        rect: QRect = option.rect.adjusted(2, 2, -2, -2)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight).darker(150), 2))
            painter.drawRect(rect.adjusted(1, 1, -1, -1))
        record: ImageRecord | None = index.data(RecordRole)
        image: QImage | None = index.data(Qt.ItemDataRole.DecorationRole)
        box = QRect(rect.x() + (rect.width() - self.size) // 2, rect.y() + 4, self.size, self.size)
        if image is not None:
            painter.setOpacity(0.35 if record is not None and record.status == "rejected" else 1.0)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.fit(image, box), image)
            painter.setOpacity(1.0)
        else:
            painter.fillRect(box.adjusted(10, 10, -10, -10), palette.color(QPalette.ColorRole.AlternateBase))
        if record is not None:
            self._badges(painter, box, record)
            self._guess_badge(painter, box, index.data(GuessRole))
            text_rect = QRect(rect.x() + 2, box.bottom() + 2, rect.width() - 4, rect.bottom() - box.bottom() - 2)
            painter.setPen(palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter,
                             painter.fontMetrics().elidedText(str(index.data(Qt.ItemDataRole.DisplayRole)),
                                                              Qt.TextElideMode.ElideRight, text_rect.width()))
        painter.restore()

    def _badges(self, painter: QPainter, box: QRect, record: ImageRecord) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = _STATUS_COLOURS.get(record.status)
        if colour is not None:
            badge = QRect(box.right() - 20, box.top() + 4, 16, 16)
            painter.setBrush(colour)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(badge)
            painter.setPen(QPen(Qt.GlobalColor.white, 2))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, STATUS_BADGES[record.status])
        letter = SPLIT_BADGES.get(record.split or "")
        if letter:
            tag = QRect(box.left() + 4, box.top() + 4, max(16, painter.fontMetrics().horizontalAdvance(letter) + 6), 16)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(tag, 3, 3)
            painter.setPen(Qt.GlobalColor.white)
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, letter)


    @staticmethod
    def _guess_badge(painter: QPainter, box: QRect, guess: tuple[str, float, bool] | None) -> None:
        """The model's guess across the thumbnail's foot: green when it matches the label, red when not."""
        if guess is None:
            return
        city, p, right = guess
        text = f"{city.split(',')[0]} {p:.0%}"
        metrics = painter.fontMetrics()
        text = metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, box.width() - 8)
        tag = QRect(box.left() + 2, box.bottom() - 17, min(box.width() - 4, metrics.horizontalAdvance(text) + 8), 16)
        painter.setBrush(QColor(46, 160, 67, 220) if right else QColor(207, 34, 46, 220))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(tag, 3, 3)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)


class ImageGridView(QListView):
    """Icon grid with multi-select (shift / ctrl / rubber band) and the curation keys as signals.

    Keys: A accept, R or Delete reject, P pending, 1-9 relabel to the n-th city, L pick a city, Space (or a
    double-click) the full-size viewer. Arrow keys, Home / End and Page Up / Down move as in any list.
    Undo / Redo live in the window's Edit menu.
    """

    accept_requested = Signal()
    reject_requested = Signal()
    pending_requested = Signal()
    relabel_requested = Signal(int)  # 0-based city number
    pick_city_requested = Signal()
    view_requested = Signal()  # Space or a double-click on an image: open the full-size viewer

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setDragEnabled(False)
        self.delegate = ThumbnailDelegate(THUMB_SIZE, self)
        self.setItemDelegate(self.delegate)
        self.setGridSize(QSize(THUMB_SIZE + 14, THUMB_SIZE + 32))
        self.verticalScrollBar().setSingleStep(40)
        self.doubleClicked.connect(lambda _index: self.view_requested.emit())

    # ------------------------------------------------------------------ tile size
    @property
    def thumb_size(self) -> int:
        return self.delegate.size

    def set_thumb_size(self, size: int) -> None:
        """Tiles of `size` px (the slider); the columns are recomputed to fill the width."""
        size = max(MIN_THUMB, min(MAX_THUMB, size))
        self.delegate.size = size
        model = self.model()
        if isinstance(model, ImageGridModel):
            model.set_thumb_size(thumb_tier(size))
        self._fit_columns()

    def columns(self) -> int:
        """How many tiles fit side by side in the visible width."""
        return max(1, (self.viewport().width() - 2) // (self.thumb_size + 14))

    def _fit_columns(self) -> None:
        """Share the whole visible width among as many columns as fit: no empty band at the right."""
        width = self.viewport().width() - 2  # Qt wraps a row that would touch the viewport's edge
        cell = QSize(max(self.thumb_size + 14, width // self.columns()), self.thumb_size + 32)
        if cell != self.gridSize():
            self.setGridSize(cell)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        plain = not (event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                          | Qt.KeyboardModifier.MetaModifier))
        if plain and key == Qt.Key.Key_A:
            self.accept_requested.emit()
        elif plain and key in (Qt.Key.Key_R, Qt.Key.Key_Delete):
            self.reject_requested.emit()
        elif plain and key == Qt.Key.Key_P:
            self.pending_requested.emit()
        elif plain and key == Qt.Key.Key_L:
            self.pick_city_requested.emit()
        elif plain and key == Qt.Key.Key_Space and self.currentIndex().isValid():
            self.view_requested.emit()
        elif plain and Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            self.relabel_requested.emit(key - Qt.Key.Key_1)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def selected_ids(self) -> list[str]:
        # From the selection's ranges, not `selectedIndexes()`: "select all" over 30,000 images is one
        # range, where building 30,000 index objects would hold the UI thread ~100 ms on every call.
        rows = sorted({row for r in self.selectionModel().selection() for row in range(r.top(), r.bottom() + 1)})
        model = self.model()
        return [model.image_id(r) for r in rows]  # type: ignore[attr-defined]
