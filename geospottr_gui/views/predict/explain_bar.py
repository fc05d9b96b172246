"""Predict's Explain strip: a toggle that lays the heat map of the guess over the photo, an opacity slider,
and a line saying what the map shows. Clicking a city in the ranking explains that city instead.

The maps are computed by `explain_job` in a worker (one at a time; the newest request wins) and kept per
(entry, city), so flipping back and forth or moving the slider never computes again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.events import PROGRESS, Event, Kind
from core.inference.heatmaps import Explanation
from core.inference.results import Prediction

from ...workers import JobHandle, start_job
from ..widgets.explain_jobs import explain_job, opacity_slider, overlay_qimage
from .entries import Entry

if TYPE_CHECKING:
    from core.inference.prediction import Predictor

#: Explanations kept (each holds a display-size photo and map, about 3 MB).
CACHE = 24


class ExplainBar(QWidget):
    """Emits `overlay` with the photo + heat map to show, or `plain` when the plain photo should be back."""

    overlay = Signal(QImage)
    plain = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.toggle = QCheckBox("Explain")
        self.toggle.setToolTip("Lay a heat map over the photo: where the evidence for the city is "
                               "(click a city in the ranking to see its evidence)")
        self.toggle.toggled.connect(self._toggled)
        self.opacity = opacity_slider(self._redraw)
        self.opacity.setEnabled(False)
        self.note = QLabel("")
        self.note.setTextFormat(Qt.TextFormat.PlainText)  # city names are user data
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.toggle)
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.opacity)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.note)
        self.predictor: Predictor | None = None
        self._cache: OrderedDict[tuple[int, str], Explanation] = OrderedDict()
        self._entry: Entry | None = None
        self._city: str | None = None
        self._want: tuple[Entry, str] | None = None
        self._job: JobHandle | None = None
        self._generation = 0
        self.shown: Explanation | None = None

    def set_predictor(self, predictor: Predictor | None) -> None:
        """A new model: earlier maps explain another model's guesses."""
        self.predictor = predictor
        self._cache.clear()
        self._generation += 1  # a map still being computed for the old model is dropped when it arrives

    def show_for(self, entry: Entry | None, city: str | None = None) -> None:
        """The entry on show, and the city to explain: `city`, else the one last asked for on this entry,
        else its top guess. Remembered while Explain is off, so turning it on explains what is on show."""
        if city is None and entry is self._entry:
            city = self._city
        self._entry, self._city = entry, city
        self.shown = None
        if entry is None or not self.toggle.isChecked():
            self._want = None
            return
        if not isinstance(entry.result, Prediction):
            self._want = None
            self.note.setText("The heat map follows once the photo is predicted.")
            return
        if entry.group:
            self._want = None
            self.note.setText("Heat maps are for single photos; this entry combines several views.")
            return
        city = city or entry.result.top.slug
        self._want = (entry, city)
        if (entry.key, city) in self._cache:
            self._present(self._cache[(entry.key, city)])
        else:
            self.note.setText("Explaining…")
            self._start()

    def _start(self) -> None:
        if self._job is not None or self._want is None or self.predictor is None:
            return
        entry, city = self._want
        key, generation = (entry.key, city), self._generation
        self._job = start_job(self, explain_job, self.predictor, [(entry.sources[0], city)],
                              on_event=lambda e: generation == self._generation and self._arrived(key, e),
                              needs_torch=True)
        self._job.done.connect(self._job_done)

    def _arrived(self, key: tuple[int, str], event: Event) -> None:
        if event.kind == PROGRESS and event.message:  # a slow occlusion map: how long it still takes
            self.note.setText(event.message)
        if event.kind != Kind.RESULT:
            return
        if "error" in event.data:
            if self._want is not None and (self._want[0].key, self._want[1]) == key:
                self.note.setText(f"No heat map: {event.data['error']}")
            return
        self._cache[key] = event.data["explanation"]
        while len(self._cache) > CACHE:
            self._cache.popitem(last=False)
        if self._want is not None and (self._want[0].key, self._want[1]) == key:
            self._present(self._cache[key])

    def _job_done(self) -> None:
        self._job = None
        if self._want is not None and (self._want[0].key, self._want[1]) not in self._cache:
            self._start()  # the user moved on while this one was computed

    def _present(self, explanation: Explanation) -> None:
        self.shown = explanation
        self.note.setText(explanation.title)
        self._redraw()

    def _redraw(self) -> None:
        if self.shown is not None and self.toggle.isChecked():
            self.overlay.emit(overlay_qimage(self.shown, self.opacity.value() / 100))

    def _toggled(self, on: bool) -> None:
        self.opacity.setEnabled(on)
        if on:
            self.show_for(self._entry, self._city)
        else:
            self._want, self.shown = None, None
            self.note.setText("")
            self.plain.emit()
