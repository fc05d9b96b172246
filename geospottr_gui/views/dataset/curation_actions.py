"""What the curation panel's keys and buttons do to the selected images: accept, reject, back to pending,
relabel (by number or through the city picker), and the bulk edit's progress while it runs in a worker.

Every edit goes through `context.curator` (small ones at once, big ones in a worker) and so through the
project's undoable `CurationHistory`. A mixin of `CurationPanel`, kept apart from the panel's layout and
query: the panel builds the widgets named below, this decides what an edit of them means."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QProgressBar, QPushButton

from core.data.curation import Change, Edit
from core.errors import GeoSpottrError

from ...context import AppContext
from ...plaintext import plain_tooltip, warn
from ...qt_mixins import WidgetMixin
from ..widgets.dialogs import CityPickerDialog
from .image_grid import ImageGridModel, ImageGridView


class CurationActions(WidgetMixin):
    """The edits of `CurationPanel` (mixed into that QWidget, which provides these attributes)."""

    context: AppContext
    grid: ImageGridView
    model: ImageGridModel
    accept_button: QPushButton
    reject_button: QPushButton
    relabel_button: QPushButton
    problems_button: QPushButton
    progress: QProgressBar
    cancel_button: QPushButton

    def _connect_actions(self) -> None:
        """The grid's keys, the buttons and the curator's signals to the edits below."""
        self.grid.accept_requested.connect(self.accept)
        self.grid.reject_requested.connect(self.reject)
        self.grid.pending_requested.connect(lambda: self._edit(lambda ids: self.context.history.reset_change(ids)))
        self.grid.relabel_requested.connect(self.relabel_to_number)
        self.grid.pick_city_requested.connect(self.pick_city)
        self.accept_button.clicked.connect(self.accept)
        self.reject_button.clicked.connect(self.reject)
        self.relabel_button.clicked.connect(self.pick_city)
        self.context.curator.busy_changed.connect(self._busy_changed)
        self.context.curator.progress.connect(self._progress)

    def _targets(self) -> list[str]:
        ids = self.grid.selected_ids()
        if not ids and self.grid.currentIndex().isValid():
            ids = [self.model.image_id(self.grid.currentIndex().row())]
        return ids

    def _edit(self, make_change: Callable[[list[str]], Change]) -> Edit | None:
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
