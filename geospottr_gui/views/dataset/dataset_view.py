"""The Dataset workspace: cities and downloads on the left; the curation grid (and the map) on the right.

Every curation action goes through the project's `CurationHistory` (context.history), so it is saved at
once and Edit > Undo / Redo covers it; the grid repaints only the rows an edit touched. Actions run
through `context.curator`: a key press on a few images applies at once, a bulk edit of thousands runs
in a worker while a progress bar (with Cancel) shows under the grid and the curation buttons wait.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.data.curation import Change, Edit
from core.data.project import IMAGE_ORDERS, SPLITS, STATUSES
from core.errors import GeoSpottrError
from core.events import Event

from ...context import AppContext
from ...plaintext import plain_tooltip, warn
from ...settings import GET_STARTED_DISMISSED
from ...workers import start_job
from ..widgets.dialogs import CityPickerDialog
from ..widgets.elided import ElidedLabel
from ..widgets.empty_state import EmptyState
from ..widgets.layouts import follow_progress, job_progress
from .cities_panel import CitiesPanel
from .download_panel import DownloadPanel
from .image_detail import ImageDetail
from .image_grid import BADGE_LEGEND, MAX_THUMB, MIN_THUMB, ImageGridModel, ImageGridView, ThumbnailProvider
from .image_viewer import ImageViewer

ALL = "All"
#: The Cities / Download tabs' narrowest width (their panels scroll below it); see `DatasetView`.
LEFT_MIN_WIDTH = 312  # the Download form (296 px) and a vertical scroll bar
_ORDER_LABELS = {"added": "Oldest first", "newest": "Newest first", "city": "City", "status": "Status",
                 "split": "Split", "source": "Source", "confidence": "Model least sure"}
#: The Model filter's fixed choices (then "says <city>" per city): `Project.image_ids(model=...)`.
_MODEL_CHOICES = (("Right", "right"), ("Wrong", "wrong"), ("Not predicted", "unpredicted"))


def predict_dataset_job(models, project, model_path: str, *, on_event, control):
    """Worker job: the project's model guesses every kept image (`core.inference.dataset_predictions`)."""
    from core.inference.dataset_predictions import predict_dataset
    from core.inference.project_model import name_model

    name = name_model(model_path).label
    done = predict_dataset(project, models.get(model_path), name, ("pending", "accepted"),
                           on_event=on_event, control=control)
    return done.summary(name)


def _scrolled(panel: QWidget) -> QScrollArea:
    """`panel` in a frameless scroll area that lets it grow to fill the tab."""
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


class GetStartedPanel(QFrame):
    """First-run guide: the four steps from an empty project to a prediction, each a button."""

    step_requested = Signal(str)  # "cities", "download", "train", "predict"
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("getStarted")
        layout = QHBoxLayout(self)
        title = QLabel("<b>Get started</b>")
        layout.addWidget(title)
        steps = (("cities", "1. Add cities"), ("download", "2. Get images"), ("train", "3. Train"),
                 ("predict", "4. Predict"))
        for n, (step, label) in enumerate(steps):
            if n:
                layout.addWidget(QLabel("→"))
            button = QPushButton(label)
            button.clicked.connect(lambda _checked=False, s=step: self.step_requested.emit(s))
            layout.addWidget(button)
        hint = QLabel("Or drop a folder of photos (one sub-folder per city) or a CSV on this window.")
        hint.setWordWrap(True)  # so the guide never sets the window's minimum width
        layout.addWidget(hint, 1)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Hide this guide")
        close.clicked.connect(self.dismissed.emit)
        layout.addWidget(close)


class CurationPanel(QWidget):
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
        self.predict_button = QPushButton("Predict all")
        self.predict_button.setToolTip("The project's model guesses every kept image: filter by Model, sort by "
                                       "how sure it is, and see each guess on its thumbnail")
        self.predict_button.clicked.connect(self.predict_all)
        self._predict_job = None
        self.predict_progress, self.predict_cancel = job_progress(
            140, lambda: self._predict_job is not None and self._predict_job.cancel(), "Stop predicting (guesses so far are kept)")
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
        for w in (QLabel("Size"), self.size_slider, self.predict_progress, self.predict_cancel, self.predict_button,
                  self.problems_button):
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

        self.grid.accept_requested.connect(self.accept)
        self.grid.reject_requested.connect(self.reject)
        self.grid.pending_requested.connect(lambda: self._edit(lambda ids: self.context.history.reset_change(ids)))
        self.grid.relabel_requested.connect(self.relabel_to_number)
        self.grid.pick_city_requested.connect(self.pick_city)
        self.grid.view_requested.connect(self.open_viewer)
        self.accept_button.clicked.connect(self.accept)
        self.reject_button.clicked.connect(self.reject)
        self.relabel_button.clicked.connect(self.pick_city)
        self.problems_button.clicked.connect(self.find_problems)
        context.curator.busy_changed.connect(self._busy_changed)
        context.curator.progress.connect(self._progress)
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

    def predict_all(self) -> None:
        """The project's model guesses every kept image, in a job with progress and Cancel."""
        path = self.context.model_path
        if not path:
            self.context.status.emit("No model yet: train one (Train) or choose one (Predict) first.")
            return
        if self._predict_job is not None:
            return
        self.predict_button.setEnabled(False)
        self.predict_progress.setRange(0, 0)
        self.predict_progress.show()
        self.predict_cancel.show()
        self._predict_job = start_job(self, predict_dataset_job, self.context.models, self.context.project, path,
                                      on_event=self._predict_progress, on_finished=self._predicted,
                                      on_failed=self.context.status.emit, title="Predicting the dataset",
                                      workspace="Dataset")
        self._predict_job.done.connect(self._predict_done)

    def _predict_progress(self, event: Event) -> None:
        follow_progress(self.predict_progress, event)

    def _predicted(self, summary: str) -> None:
        self.context.status.emit(summary)
        self.reload()

    def _predict_done(self) -> None:
        self._predict_job = None
        self.predict_button.setEnabled(True)
        self.predict_progress.hide()
        self.predict_cancel.hide()

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

    # ------------------------------------------------------------------ curation
    def _targets(self) -> list[str]:
        ids = self.grid.selected_ids()
        if not ids and self.grid.currentIndex().isValid():
            ids = [self.model.image_id(self.grid.currentIndex().row())]
        return ids

    def _edit(self, make_change: Any) -> Edit | None:
        """Make the change `make_change(ids)` of the selected images through the curator: at once when
        small (returns the edit), else in a worker that reports when done (returns None)."""
        if self._busy():
            return None
        ids = self._targets()
        if not ids:
            self.context.status.emit("select images first")
            return None
        try:
            change: Change = make_change(ids)
            edit = self.context.curator.apply(change)
        except GeoSpottrError as exc:
            warn(self, "GeoSpottr", str(exc))
            return None
        if edit is not None:
            self.context.status.emit(edit.text)
            if len(ids) == 1:
                self._advance()
        return edit

    def _busy(self) -> bool:
        """True (and says so) while a bulk edit runs: no other edit may start until it is recorded."""
        curator = self.context.curator
        if curator.busy:
            self.context.status.emit(f"wait for “{curator.text}” to finish (or cancel it)")
        return curator.busy

    def _advance(self) -> None:
        """After judging one image, move to the next, as a reviewer expects."""
        row = self.grid.currentIndex().row() + 1
        if 0 < row < self.model.rowCount():
            index = self.model.index(row)
            self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.grid.scrollTo(index)

    def accept(self) -> None:
        self._edit(self.context.history.accept_change)

    def reject(self) -> None:
        self._edit(lambda ids: self.context.history.reject_change(ids, reason="rejected in review"))

    def relabel_to_number(self, number: int) -> None:
        cities = self.context.project.cities()
        if number >= len(cities):
            self.context.status.emit(f"there is no city {number + 1} (the project has {len(cities)})")
            return
        slug = cities[number].slug
        self._edit(lambda ids: self.context.history.relabel_change(ids, slug))

    def pick_city(self) -> None:
        if self._busy():
            return
        if not self._targets():
            self.context.status.emit("select images first")
            return
        dialog = CityPickerDialog(self.context.project.cities(), self)
        if dialog.exec() and dialog.selected_slug():
            slug = dialog.selected_slug()
            self._edit(lambda ids: self.context.history.relabel_change(ids, slug))

    def _curated(self, edit: Edit) -> None:
        self.model.refresh(edit.image_ids)
        self._selection_changed()

    def _busy_changed(self, busy: bool) -> None:
        """A bulk edit started or ended in a worker: show its progress; no other edit meanwhile."""
        for button in (self.accept_button, self.reject_button, self.relabel_button, self.problems_button):
            button.setEnabled(not busy)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            self.progress.setRange(0, 0)  # busy until the first progress event gives a total
            self.progress.setFormat(self.context.curator.text)

    def _progress(self, text: str, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"{text}: %p%")
        self.progress.setToolTip(plain_tooltip(text))

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


class DatasetView(QWidget):
    """Workspace: [Cities | Download] tabs beside [Images | Map] tabs, under a first-run guide."""

    navigate = Signal(str)  # a workspace title the get-started guide asks for ("Train", "Predict")

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.get_started = GetStartedPanel()
        self.cities = CitiesPanel(context)
        self.download = DownloadPanel(context)
        self.curation = CurationPanel(context)
        self.left = QTabWidget()
        # Scrolled, so the Download form (the tallest and widest panel) never sets the window's minimum size.
        self.left.addTab(_scrolled(self.cities), "Cities")
        self.left.addTab(_scrolled(self.download), "Download")
        self.left.setMinimumWidth(LEFT_MIN_WIDTH)
        self.right = QTabWidget()
        self.right.addTab(self.curation, "Images")
        # In the tab bar's spare room: the filter rows and the bottom row then fit at 1024 px.
        self.right.setCornerWidget(self.curation.tools, Qt.Corner.TopRightCorner)
        self.map: QWidget | None = None
        # Built when first shown: the map brings in QtWebEngine, too slow for the first window.
        self._map_slot = QWidget()
        QVBoxLayout(self._map_slot).setContentsMargins(0, 0, 0, 0)
        self.right.addTab(self._map_slot, "Map")
        self.looks: QWidget | None = None  # the embedding map, built when first shown (it plots with pyqtgraph)
        self._looks_slot = QWidget()
        QVBoxLayout(self._looks_slot).setContentsMargins(0, 0, 0, 0)
        self.right.addTab(self._looks_slot, "Looks")
        self.right.setTabToolTip(2, "Every image placed near the images that look like it; drag over dots to pick them")
        self.right.currentChanged.connect(self._tab_changed)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([490, 790])  # the Cities and Download panels whole at 1280 px
        layout = QVBoxLayout(self)
        layout.addWidget(self.get_started)
        layout.addWidget(self.splitter, 1)

        self.cities.city_activated.connect(self.show_city)
        self.get_started.step_requested.connect(self._step)
        self.get_started.dismissed.connect(self._dismiss_guide)
        self._guide_timer = QTimer(self)
        self._guide_timer.setSingleShot(True)
        self._guide_timer.setInterval(300)
        self._guide_timer.timeout.connect(self._update_guide)
        context.images_changed.connect(self._guide_timer.start)
        context.project_changed.connect(lambda _p: self._update_guide())
        self._update_guide()

    def _tab_changed(self, index: int) -> None:
        if self.map is None and self.right.widget(index) is self._map_slot:
            from .dataset_map import DatasetMapView  # imports QtWebEngine

            self.map = DatasetMapView(self.context, self.curation.thumbnails)
            self._map_slot.layout().addWidget(self.map)
            self.map.image_clicked.connect(self.reveal_image)
        if self.looks is None and self.right.widget(index) is self._looks_slot:
            from .embedding_view import EmbeddingView

            self.looks = EmbeddingView(self.context)
            self._looks_slot.layout().addWidget(self.looks)
            self.looks.image_activated.connect(self.reveal_image)
            self.looks.selected.connect(self.show_picked)

    def show_guesses(self, city: str, guessed: str) -> None:
        """The grid on the images labelled `city` that the model says are `guessed` (a confusion cell)."""
        self.right.setCurrentWidget(self.curation)
        self.curation.show_guesses(city, guessed)

    def show_picked(self, image_ids: list[str]) -> None:
        """The images picked on the embedding map, alone in the grid."""
        self.right.setCurrentWidget(self.curation)
        self.curation.show_only(image_ids)

    def show_panel(self, panel: QWidget) -> None:
        """Bring the left tab holding `panel` (`cities` or `download`) to the front."""
        for index in range(self.left.count()):
            area = self.left.widget(index)
            if isinstance(area, QScrollArea) and area.widget() is panel:
                self.left.setCurrentIndex(index)

    def reveal_image(self, image_id: str) -> None:
        """Show one image in the grid (clearing filters that hide it) and select it."""
        self.right.setCurrentWidget(self.curation)
        self.curation.reveal(image_id)

    def show_city(self, slug: str) -> None:
        self.curation.show_city(slug)

    # ------------------------------------------------------------------ first-run guide
    def _update_guide(self) -> None:
        if GET_STARTED_DISMISSED.get(self.context.settings):
            self.get_started.hide()
            return
        self.get_started.setVisible(not any(self.context.project.city_counts().values()))

    def _dismiss_guide(self) -> None:
        GET_STARTED_DISMISSED.set(self.context.settings, True)
        self.get_started.hide()

    def _step(self, step: str) -> None:
        if step == "cities":
            self.show_panel(self.cities)
            self.cities.search.setFocus()
        elif step == "download":
            self.show_panel(self.download)
        else:
            self.navigate.emit(step.capitalize())
