"""The Dataset workspace's Images tab: the filter / sort bar, the thumbnail grid, the bulk buttons and the
detail pane. Its own module because it is the workspace's largest widget; what an edit does lives in
`curation_actions` (mixed in), the Predict all job in `predict_all`, and `DatasetView` only places it.

Every curation action goes through the project's `CurationHistory` (context.history), so it is saved at
once and Edit > Undo / Redo covers it; the grid repaints only the rows an edit touched. Actions run
through `context.curator`: a key press on a few images applies at once, a bulk edit of thousands runs
in a worker while a progress bar (with Cancel) shows under the grid and the curation buttons wait.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.data.curation import Edit
from core.data.project import IMAGE_ORDERS, SPLITS, STATUSES
from core.errors import GeoSpottrError

from ...context import AppContext
from ..widgets.elided import ElidedLabel
from ..widgets.empty_state import EmptyState
from ..widgets.layouts import job_progress
from .curation_actions import CurationActions
from .image_detail import ImageDetail
from .image_grid import BADGE_LEGEND, MAX_THUMB, MIN_THUMB, ImageGridModel, ImageGridView, ThumbnailProvider
from .image_viewer import ImageViewer
from .predict_all import PredictAll

ALL = "All"
_ORDER_LABELS = {"added": "Oldest first", "newest": "Newest first", "city": "City", "status": "Status",
                 "split": "Split", "source": "Source", "confidence": "Model least sure"}
#: The Model filter's fixed choices (then "says <city>" per city): `Project.image_ids(model=...)`.
_MODEL_CHOICES = (("Right", "right"), ("Wrong", "wrong"), ("Not predicted", "unpredicted"))


class CurationPanel(CurationActions, QWidget):
    """Filter / sort bar, the thumbnail grid, bulk buttons, and the detail pane."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.thumbnails = ThumbnailProvider(self)
        self.model = ImageGridModel(context.project, self.thumbnails, self)
        self.grid = ImageGridView()
        self.grid.setModel(self.model)
        self.detail = ImageDetail(self.thumbnails)
        self.empty = EmptyState(self.grid)

        self.city = QComboBox()
        self.status = QComboBox()
        self.split = QComboBox()
        self.source = QComboBox()
        self.model_filter = QComboBox()
        self.model_filter.setToolTip("What the model says of each image (Predict all fills it)")
        self.order = QComboBox()
        self.status.addItems([ALL, *STATUSES])
        self.split.addItems([ALL, *SPLITS, "none"])
        for key in IMAGE_ORDERS:
            self.order.addItem(_ORDER_LABELS.get(key, key), key)
        self.count = ElidedLabel()  # its text grows with the selection; the panes must not move
        # Shown while the grid holds only the images picked on the embedding map: says so, and clears it.
        self.only_button = QPushButton()
        self.only_button.setToolTip("Show every image matching the filters again")
        self.only_button.clicked.connect(lambda: self.show_only(None))
        self.only_button.hide()
        self.accept_button = QPushButton("Accept (A)")
        self.reject_button = QPushButton("Reject (R)")
        self.relabel_button = QPushButton("Relabel… (L)")
        # Tile size: the grid's columns follow the width whatever the size.
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(MIN_THUMB, MAX_THUMB)
        self.size_slider.setSingleStep(16)
        self.size_slider.setPageStep(32)
        self.size_slider.setValue(self.grid.thumb_size)
        self.size_slider.setToolTip("Thumbnail size")
        self.size_slider.setMinimumWidth(60)
        self.size_slider.valueChanged.connect(self.grid.set_thumb_size)
        self.legend = QLabel(BADGE_LEGEND)
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet("color: #666")
        self.viewer: ImageViewer | None = None
        self.problems_button = QPushButton("Find problems…")
        self.problems_button.setToolTip("Look for broken, blank, blurry and duplicate images to review")
        self.predict = PredictAll(context, self)
        self.predict.predicted.connect(self.reload)
        # Shown while a bulk edit runs in a worker (see `geospottr_gui.curator`).
        self.progress, self.cancel_button = job_progress(220, context.curator.cancel, "Stop the edit: nothing changes")
        self.progress.setTextVisible(True)

        # Three rows of two filters, so the grid and the detail pane fit beside the Cities tab at 1024 px.
        bar = QGridLayout()
        filters = (("City", self.city), ("Status", self.status), ("Split", self.split),
                   ("Source", self.source), ("Model", self.model_filter), ("Sort", self.order))
        for n, (label, combo) in enumerate(filters):
            row, col = divmod(n, 2)
            bar.addWidget(QLabel(label), row, 2 * col)
            bar.addWidget(combo, row, 2 * col + 1)
            # Long city names must not set the workspace's minimum width (the popup still shows them whole).
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)  # "Oldest first" whole
            combo.currentIndexChanged.connect(self.apply_query)
        bar.setColumnStretch(4, 1)
        actions = QHBoxLayout()
        # In the tab bar's corner with Find problems (`tools`): the rows below keep their room at 1024 px.
        self.tools = QWidget()
        corner = QHBoxLayout(self.tools)
        corner.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("Size"), self.size_slider, *self.predict.widgets(), self.problems_button):
            corner.addWidget(w)
        for button in (self.accept_button, self.reject_button, self.relabel_button):
            actions.addWidget(button)
        actions.addWidget(self.progress)
        actions.addWidget(self.cancel_button)
        actions.addStretch(1)
        actions.addWidget(self.only_button)
        actions.addWidget(self.count)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(bar)
        left_layout.addWidget(self.grid, 1)
        left_layout.addWidget(self.legend)
        left_layout.addLayout(actions)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([520, 220])  # the grid gets the room; the detail pane grows with the window
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self._connect_actions()
        self.grid.view_requested.connect(self.open_viewer)
        self.problems_button.clicked.connect(self.find_problems)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.grid.selectionModel().currentChanged.connect(lambda *_: self._selection_changed())
        self.model.modelReset.connect(self._selection_changed)
        context.curated.connect(self._curated)
        context.images_changed.connect(self._schedule_reload)
        context.project_changed.connect(self._project_changed)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(250)
        self._reload_timer.timeout.connect(self.reload)
        self._fill_filters()
        self.apply_query()

    # ------------------------------------------------------------------ query
    def _fill_filters(self) -> None:
        project = self.context.project
        # Cities show as "Osijek, HR" and filter by slug (the item's data); sources are their own names.
        says = [(f"Says {c.label}", f"says:{c.slug}") for c in project.cities()]
        for combo, values in ((self.city, [(c.label, c.slug) for c in project.cities()]),
                              (self.source, [(s, s) for s in project.source_counts()]),
                              (self.model_filter, [*_MODEL_CHOICES, *says])):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(ALL, None)
            for text, data in values:
                combo.addItem(text, data)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)

    def filters(self) -> dict[str, Any]:
        def value(combo: QComboBox) -> str | None:
            return None if combo.currentText() == ALL else combo.currentText()
        model = self.model_filter.currentData()
        said = model.split(":", 1)[1] if isinstance(model, str) and model.startswith("says:") else None
        return {"city": self.city.currentData(), "status": value(self.status), "split": value(self.split),
                "source": self.source.currentData(), "model": None if said else model, "predicted": said}

    def apply_query(self) -> None:
        try:
            self.model.set_query(self.filters(), self.order.currentData())
        except GeoSpottrError as exc:  # a city removed meanwhile
            self.context.status.emit(str(exc))
            self.city.setCurrentIndex(0)
        self._update_count()

    def show_city(self, slug: str) -> None:
        self.city.setCurrentIndex(max(0, self.city.findData(slug)))

    def show_guesses(self, city: str, guessed: str) -> None:
        """Filters set to: images of `city`, the model says `guessed`, every status and split."""
        self.clear_filters()
        for combo, data in ((self.city, city), (self.model_filter, f"says:{guessed}")):
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(data)))
            combo.blockSignals(False)
        self.apply_query()

    def show_only(self, ids: list[str] | None) -> None:
        """Only these images in the grid (picked on the embedding map), or all again with None."""
        self.model.restrict(ids)
        self.only_button.setText(f"{len(ids):,} picked on the map · show all" if ids is not None else "")
        self.only_button.setVisible(ids is not None)
        self._update_count()

    def clear_filters(self) -> None:
        """Every filter back to All, and no picked-images restriction (one query)."""
        self.model.only = None
        self.only_button.hide()
        for combo in (self.city, self.status, self.split, self.source, self.model_filter):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.apply_query()

    def reveal(self, image_id: str) -> None:
        if self.model.row_of(image_id) is None:
            self.clear_filters()
        row = self.model.row_of(image_id)
        if row is not None:
            index = self.model.index(row)
            self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.grid.scrollTo(index)
            self.grid.setFocus()

    def _schedule_reload(self) -> None:
        self._reload_timer.start()

    def reload(self) -> None:
        """Re-run the query after images arrived or changed, keeping the selection and current image."""
        selected = set(self.grid.selected_ids())
        current = self.grid.currentIndex()
        current_id = self.model.image_id(current.row()) if current.isValid() else None
        current_row = current.row() if current.isValid() else -1
        self._fill_filters()
        self.apply_query()
        self._restore(selected, current_id, current_row)

    def _restore(self, selected: set[str], current_id: str | None, current_row: int) -> None:
        rows = sorted(r for r in (self.model.row_of(i) for i in selected) if r is not None)
        selection = QItemSelection()
        start = prev = None
        for row in rows + [None]:
            if row is not None and prev is not None and row == prev + 1:
                prev = row
                continue
            if start is not None:
                selection.select(self.model.index(start), self.model.index(prev))
            start = prev = row
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.grid.selectionModel().select(selection, flags)
        row = self.model.row_of(current_id) if current_id else None
        if row is None and current_row >= 0 and self.model.rowCount():
            row = min(current_row, self.model.rowCount() - 1)
            self.grid.selectionModel().select(self.model.index(row), flags)
        if row is not None:
            self.grid.selectionModel().setCurrentIndex(self.model.index(row), QItemSelectionModel.SelectionFlag.NoUpdate)

    def _project_changed(self, project: Any) -> None:
        self.model.set_project(project)
        self._fill_filters()
        self.apply_query()

    # ------------------------------------------------------------------ viewer, problems
    def _curated(self, edit: Edit) -> None:
        self.model.refresh(edit.image_ids)
        self._selection_changed()

    def open_viewer(self) -> ImageViewer:
        """The full-size viewer on the current image (one window, reused; it follows the grid)."""
        if self.viewer is None:
            self.viewer = ImageViewer(self.grid, self.thumbnails, self)
            self.viewer.finished.connect(self._viewer_closed)
        self.viewer.show()
        self.viewer.raise_()
        self.viewer.activateWindow()
        return self.viewer

    def _viewer_closed(self) -> None:
        self.viewer.deleteLater()
        self.viewer = None
        self.grid.setFocus()

    def find_problems(self) -> None:
        from .problems_dialog import ProblemsDialog  # the scan code loads only when asked for

        ProblemsDialog(self.context, self).exec()

    # ------------------------------------------------------------------ detail
    def _selection_changed(self, *_: Any) -> None:
        ids = self.grid.selected_ids()
        current = self.grid.currentIndex()
        record = None
        if len(ids) <= 1 and current.isValid():
            record = self.model.record(current.row())
        self.detail.show_record(self.context.project, record, selected=len(ids))
        self._update_count(len(ids))

    def _update_count(self, selected: int | None = None) -> None:
        selected = len(self.grid.selected_ids()) if selected is None else selected
        text = f"{self.model.rowCount():,} images"
        if selected > 1:
            text += f" · {selected:,} selected"
        self.count.setText(text)
        if self.model.rowCount():
            self.empty.hide()
        elif any(self.filters().values()):
            self.empty.show_message("No images match these filters.", "Clear filters", self.clear_filters)
        else:
            self.empty.show_message("No images yet: add cities (Cities tab) and download their photos there, "
                                    "or import a folder (File > Import folder…).")
