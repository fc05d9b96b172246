"""The embedding map (a tab of the Dataset workspace): every image as a dot placed near the images that
look like it (`core.quality.embedding_map`), coloured by city, by correctness (the stored guess of "Predict
all", `core.inference.dataset_predictions`: right, wrong, unlabelled or not predicted), split or open problem.

Drag a rectangle over dots, or draw round them free-hand with "Lasso", to pick those images:
`selected(ids)` hands them to the curation grid, which then shows only them. The wheel zooms, "Reset view" fits all dots again, hovering a dot names its city and
a double-click opens that image in the grid. Embedding runs in a worker job with progress and Cancel; a
project scanned by Find problems (or mapped before) reuses the stored embeddings and lays out in seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainterPath, QPolygonF
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.events import Event
from core.inference.dataset_predictions import CORRECTNESS, correctness
from core.maps import city_colors

from ...context import AppContext
from ...plaintext import markup_safe, plain_tooltip
from ...workers import JobHandle, start_job
from ..widgets.layouts import follow_progress, job_progress

#: Label -> image statuses drawn (the same choices as the dataset map).
STATUS_FILTERS = {"Kept and pending": ("pending", "accepted"), "All": None, "Rejected": ("rejected",)}
COLOUR_BY = ("City", "Correctness", "Split", "Open problem")
SELECT_MODES = ("Rectangle", "Lasso")
CORRECTNESS_COLOURS = {"right": "#2ca02c", "wrong": "#d62728", "unlabelled": "#9467bd", "no prediction": "#c8c8c8"}
SPLIT_COLOURS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c", None: "#9a9a9a"}
PROBLEM_COLOURS = {True: "#d62728", False: "#c8c8c8"}


def build_embedding_map(project, statuses, *, on_event, control):
    """Worker job (imports torch): `core.quality.embedding_map.build_map`."""
    from core.quality.embedding_map import build_map

    return build_map(project, statuses, on_event=on_event, control=control)


def points_in_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of `xy` (n, 2) inside `polygon` (m, 2; closed implicitly), by the even-odd
    rule (a crossing-number test, vectorised over the points: about 1 ms for 27,500 points and a 200-point
    lasso). A polygon of fewer than three points encloses nothing."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(len(xy), dtype=bool)
    if len(poly) < 3 or not len(xy):
        return inside
    x, y = xy[:, 0], xy[:, 1]
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0)):
        if y1 == y2:
            continue  # a horizontal edge is never crossed by a horizontal ray
        crosses = (y1 > y) != (y2 > y)
        at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < at)
    return inside


class _SelectBox(pg.ViewBox):
    """A view box where a left drag draws a selection rectangle, or with `lasso` a free-hand outline (the
    wheel still zooms)."""

    def __init__(self, on_rect: Any, on_lasso: Any) -> None:
        super().__init__()
        self._on_rect, self._on_lasso = on_rect, on_lasso
        self.lasso = False
        self._outline: list[QPointF] = []
        pen, brush = pg.mkPen("#1f6feb", width=1, style=Qt.PenStyle.DashLine), pg.mkBrush(31, 111, 235, 40)
        self._band = QGraphicsRectItem()
        self._path = QGraphicsPathItem()
        for item in (self._band, self._path):
            item.setPen(pen)
            item.setBrush(brush)
            item.setZValue(1e9)
            item.hide()
            self.addItem(item, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if self.lasso:
            if ev.isStart() or not self._outline:
                self._outline = [self.mapSceneToView(ev.buttonDownScenePos())]
            self._outline.append(self.mapSceneToView(ev.scenePos()))
            path = QPainterPath()
            path.addPolygon(QPolygonF(self._outline))
            path.closeSubpath()
            self._path.setPath(path)
            self._path.setVisible(not ev.isFinish())
            if ev.isFinish():
                outline, self._outline = self._outline, []
                self._on_lasso([(p.x(), p.y()) for p in outline])
            return
        rect = QRectF(self.mapSceneToView(ev.buttonDownScenePos()), self.mapSceneToView(ev.scenePos())).normalized()
        self._band.setRect(rect)
        self._band.setVisible(not ev.isFinish())
        if ev.isFinish():
            self._on_rect(rect)


class EmbeddingView(QWidget):
    """See the module docstring."""

    selected = Signal(list)       # image ids picked with a rectangle
    image_activated = Signal(str)  # a dot double-clicked
    built = Signal(int)           # dots drawn

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.map: Any = None  # the last `EmbeddingMap`
        self._job: JobHandle | None = None
        self.status_filter = QComboBox()
        self.status_filter.addItems(list(STATUS_FILTERS))
        self.colour_by = QComboBox()
        self.colour_by.addItems(list(COLOUR_BY))
        self.colour_by.currentIndexChanged.connect(lambda _i: self._draw())
        self.select_mode = QComboBox()
        self.select_mode.addItems(list(SELECT_MODES))
        self.select_mode.setToolTip("Rectangle: drag a box over dots · Lasso: draw round them free-hand")
        self.select_mode.currentTextChanged.connect(lambda mode: setattr(self.box, "lasso", mode == "Lasso"))
        self.draw_button = QPushButton("Draw map")
        self.draw_button.setToolTip("Embed the images (EfficientNet-Lite0; stored for next time) and lay them out")
        self.draw_button.clicked.connect(self.refresh)
        reset = QPushButton("Reset view")
        reset.clicked.connect(lambda: self.plot.enableAutoRange())
        self.progress, self.cancel_button = job_progress(160, self.cancel)
        self.summary = QLabel("Draw the map to see every image placed near the ones that look like it.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        bar = QHBoxLayout()
        for w in (QLabel("Show"), self.status_filter, QLabel("Colour"), self.colour_by, QLabel("Select"),
                  self.select_mode, self.draw_button, reset,
                  self.progress, self.cancel_button):
            bar.addWidget(w)
        bar.addStretch(1)
        self.box = _SelectBox(self._select_rect, self._select_lasso)
        self.plot = pg.PlotWidget(viewBox=self.box, background="w")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.legend = self.plot.addLegend(offset=(8, 8), labelTextSize="8pt")
        self.dots = pg.ScatterPlotItem(size=7, pen=pg.mkPen("w", width=0.5), hoverable=True, tip=self._tip)
        self.dots.sigClicked.connect(self._clicked)
        self.plot.addItem(self.dots)
        self.hint = QLabel("Drag over dots (or lasso round them) to show those images in the grid · wheel zooms · "
                           "double-click opens one")
        self.hint.setStyleSheet("color: #666")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hint)
        context.project_changed.connect(lambda _p: self.clear())

    # ------------------------------------------------------------------ job
    def refresh(self) -> None:
        """Embed and lay out the images of the chosen statuses (a worker job)."""
        if self._job is not None:
            return
        self.draw_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.summary.setText("Preparing the images…")
        self._job = start_job(self, build_embedding_map, self.context.project,
                              STATUS_FILTERS[self.status_filter.currentText()], on_event=self._on_event,
                              on_finished=self.show_map, on_failed=self._failed, on_cancelled=self._cancelled,
                              needs_torch=True, title="Embedding map", workspace="Dataset")
        self._job.done.connect(self._job_done)

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _on_event(self, event: Event) -> None:
        follow_progress(self.progress, event)
        self.summary.setText(event.message)

    def _failed(self, message: str) -> None:
        self.summary.setText(f"Map not drawn: {message}")

    def _cancelled(self) -> None:
        self.summary.setText("Stopped. The images embedded so far are kept for next time.")

    def _job_done(self) -> None:
        self._job = None
        self.draw_button.setEnabled(True)
        self.progress.hide()
        self.cancel_button.hide()

    # ------------------------------------------------------------------ drawing
    def clear(self) -> None:
        self.map = None
        self.dots.clear()
        self.legend.clear()
        self.summary.setText("Draw the map to see every image placed near the ones that look like it.")

    def show_map(self, result: Any) -> None:
        """Draw an `EmbeddingMap` (the job's result)."""
        self.map = result
        skipped = f" ({result.skipped} could not be read)" if result.skipped else ""
        self.summary.setText(f"{len(result.ids):,} images{skipped}. Near dots look alike.")
        self._draw()
        self.plot.enableAutoRange()
        self.built.emit(len(result.ids))

    def _groups(self) -> list[tuple[str, str, np.ndarray]]:
        """(legend text, colour, row mask) per colour group of the current map."""
        ids, mode = self.map.ids, self.colour_by.currentText()
        project = self.context.project
        if mode == "City":
            cities = project.cities()
            colours = dict(zip((c.slug for c in cities), city_colors(len(cities))))
            names = {c.slug: c.label for c in cities}
            keys = list(self.map.cities)
            groups = [(names[s], colours[s], s) for s in colours] + [("unlabelled", "#9a9a9a", None)]
        elif mode == "Correctness":
            keys = correctness(self.map.cities, ids, project.predictions())
            groups = [(key, CORRECTNESS_COLOURS[key], key) for key in CORRECTNESS]
        elif mode == "Split":
            records = project.images_by_id(ids)
            keys = [records[i].split if i in records else None for i in ids]
            groups = [(s or "no split", c, s) for s, c in SPLIT_COLOURS.items()]
        else:
            from core.quality.findings import open_findings

            flagged = {f.image_id for f in open_findings(project)}
            keys = [i in flagged for i in ids]
            groups = [("open problem", PROBLEM_COLOURS[True], True), ("no problem", PROBLEM_COLOURS[False], False)]
        key_array = np.array(keys, dtype=object)
        return [(text, colour, key_array == key) for text, colour, key in groups if np.any(key_array == key)]

    def _draw(self) -> None:
        if self.map is None:
            return
        self.dots.clear()
        self.legend.clear()
        xy = self.map.xy
        spots = []
        for text, colour, mask in self._groups():
            brush = pg.mkBrush(colour)
            spots += [{"pos": (float(x), float(y)), "brush": brush, "data": i}
                      for (x, y), i in zip(xy[mask], np.asarray(self.map.ids, dtype=object)[mask])]
            self.legend.addItem(pg.ScatterPlotItem(size=8, brush=brush, pen=None), markup_safe(f"{text} ({int(mask.sum()):,})"))
        self.dots.addPoints(spots)

    def _tip(self, x: float, y: float, data: Any) -> str:
        row = self.map.ids.index(data) if self.map is not None and data in self.map.ids else None
        if row is None:
            return ""
        slug = self.map.cities[row]
        city = next((c.label for c in self.context.project.cities() if c.slug == slug), "unlabelled")
        return plain_tooltip(f"{city}\n{data}")

    # ------------------------------------------------------------------ picking
    def select_rect(self, rect: QRectF) -> list[str]:
        """The ids of the dots inside `rect` (view coordinates)."""
        if self.map is None or not len(self.map.ids):
            return []
        xy = self.map.xy
        inside = ((xy[:, 0] >= rect.left()) & (xy[:, 0] <= rect.right())
                  & (xy[:, 1] >= rect.top()) & (xy[:, 1] <= rect.bottom()))
        return [self.map.ids[i] for i in np.flatnonzero(inside)]

    def _select_rect(self, rect: QRectF) -> None:
        ids = self.select_rect(rect)
        if ids:
            self.selected.emit(ids)

    def select_polygon(self, polygon: Any) -> list[str]:
        """The ids of the dots inside `polygon` ((x, y) view coordinates, a lasso's outline)."""
        if self.map is None or not len(self.map.ids):
            return []
        return [self.map.ids[i] for i in np.flatnonzero(points_in_polygon(self.map.xy, np.asarray(polygon)))]

    def _select_lasso(self, polygon: list[tuple[float, float]]) -> None:
        ids = self.select_polygon(polygon)
        if ids:
            self.selected.emit(ids)

    def _clicked(self, _item: Any, points: Any, event: Any) -> None:
        if event is not None and event.double() and len(points):
            self.image_activated.emit(points[0].data())

    def view_point(self, x: float, y: float) -> QPointF:
        """Scene coordinates of a map position (for tests that drag like a user)."""
        return self.box.mapViewToScene(QPointF(x, y))
