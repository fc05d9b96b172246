"""The Predict workspace: drop, paste or browse photos; see the ranked cities and where they are.

Photos queue up as entries; the model (loaded once, in the background, by `start_job`) predicts pending
entries in batches off the UI thread and each result shows as soon as it is ready. Several photos dropped
together can also be combined as views of one place (`Predictor.predict_group`). A folder is predicted
as a cancellable batch and everything can be exported as CSV, in the CLI's ``predict --csv`` layout.

The map page is rebuilt (a few ms) for the entry on show; the ranking is re-cut from the stored full
probability vector when top-k changes, so nothing is predicted twice.

The widgets live one per module in `geospottr_gui.views.predict` (model bar, drop zone, same-place offer,
queue, result panel with ranking table and map); this module puts them together and owns the model, the
jobs and the export.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from PySide6.QtCore import QBuffer, QIODevice, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QLabel, QSplitter, QVBoxLayout, QWidget

from core.events import Event, Kind
from core.fsutil import atomic_write_text
from core.inference.results import EXPORT_FIELDS, CityScore, PredictFailure, Prediction, csv_rows, rank

from ...context import AppContext
from ...model_service import choose_model_file
from ...settings import PREDICT_TOP_K
from ...workers import JobHandle, start_job, stop_jobs
from ..widgets.layouts import column
from ..widgets.photo import preview_qimage
from .drop_zone import DropZone
from .entries import JOB_ENTRIES, Entry, expand_job, load_predictor, predict_entries
from .entry_queue import EntryQueue
from .explain_bar import ExplainBar
from .model_bar import NO_MODEL_LABEL, ModelBar
from .result_panel import MAP_FAILED, ResultPanel
from .same_place_offer import SamePlaceOffer

if TYPE_CHECKING:  # the predictor lives in workers; the UI thread only holds it
    from core.inference.base import PredictorBase as Predictor

#: Shown while photos wait for a model (e.g. opened with "Open with GeoSpottr" before any model exists).
NO_MODEL_WAITING = ("Photos wait for a model: choose a model bundle (Choose model…), "
                    "or train one in the Train workspace.")


class PredictView(QWidget):
    """See the module docstring. `predictor` is None until a model has loaded."""

    prediction_shown = Signal(object)   # the Entry whose ranking and map page are now on screen

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.predictor: Predictor | None = None
        self.model_path: str | None = None
        self.current: Entry | None = None
        self._load_job: JobHandle | None = None
        self._job: JobHandle | None = None
        self._last_drop: list[Entry] = []
        self._expanding = 0               # `add_paths` jobs still walking their folders
        self._paste_count = itertools.count(1)
        self._build()
        context.model_changed.connect(self.set_model)
        context.models.released.connect(self._model_released)
        if context.model_path:  # the project's model, known before this workspace was built
            self.model_path = context.model_path  # loaded when first needed (shown, or a photo arrives)
            self.model_label.setText(f"Model: {context.model_label(self.model_path)} (loads when needed)")

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.bar = ModelBar(PREDICT_TOP_K.get(self.context.settings))
        self.bar.choose_model.connect(self._choose_model)
        self.bar.choose_folder.connect(self._choose_folder)
        self.bar.export.connect(self._choose_export)
        self.bar.cancel.connect(self.cancel)
        self.top_k = self.bar.top_k
        self.top_k.valueChanged.connect(self._top_k_changed)
        self.model_label = self.bar.model_label

        self.drop = DropZone()
        self.drop.files_dropped.connect(self.add_paths)
        self.drop.image_dropped.connect(self.add_image)
        self.drop.browse_requested.connect(self._browse)
        self.offer = SamePlaceOffer()
        self.offer.combine.connect(self.combine_last_drop)
        self.same_place = self.offer.same_place
        self.queue = EntryQueue()
        self.queue.currentRowChanged.connect(self._row_changed)
        self.explain_bar = ExplainBar()
        self.explain_bar.overlay.connect(lambda image: self.drop.show_image(image, self.current.name))
        self.explain_bar.plain.connect(lambda: self.current is not None and self._show_photo(self.current))
        left = column((self.drop, 3), self.explain_bar, self.offer, QLabel("Queue"), (self.queue, 2))

        self.result = ResultPanel(self.context.settings)
        self.caption, self.ranking, self.map = self.result.caption, self.result.ranking, self.result.map
        self.map.load_failed.connect(self.context.status)
        self.ranking.cellClicked.connect(self._explain_row)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.result)
        split.setSizes([380, 760])
        layout = QVBoxLayout(self)
        layout.addWidget(self.bar)
        layout.addWidget(split, 1)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Paste), self, activated=self.paste)

    @property
    def entries(self) -> list[Entry]:
        """Every queued entry, in queue order."""
        return self.queue.entries

    # ------------------------------------------------------------------ model
    def set_model(self, path: str) -> None:
        """Use the bundle at `path` (loads in the background; pending photos wait for it); "": no model."""
        self.model_path = str(path) or None
        self.predictor = None
        self.explain_bar.set_predictor(None)
        if self.model_path is None:
            self.model_label.setText(NO_MODEL_LABEL)
            return
        self._start_loading()

    def _start_loading(self) -> None:
        if not self.model_path or self.predictor is not None or self._load_job is not None:
            return
        self.model_label.setText(f"Loading model {self.context.model_label(self.model_path)}…")
        path = self.model_path
        self._load_job = start_job(self, load_predictor, self.context.models, path,
                                   on_finished=lambda p: self._model_loaded(path, p),
                                   on_failed=self._model_failed, on_cancelled=self._model_failed,
                                   needs_torch=True)
        self._load_job.done.connect(self._load_done)

    def _load_done(self) -> None:
        self._load_job = None
        if self.predictor is None and self.model_path and self.model_label.full_text().startswith("Loading"):
            self._start_loading()  # another model was chosen while this one loaded

    def _model_loaded(self, path: str, predictor: Predictor) -> None:
        if path != self.model_path:
            return
        self.predictor = predictor
        self.explain_bar.set_predictor(predictor)
        self.model_label.setText(f"Model: {self.context.model_label(path)} ({len(predictor.classes)} cities)")
        self.context.status.emit(f"Model loaded: {len(predictor.classes)} cities")
        self._pump()

    def _model_failed(self, message: str = "cancelled") -> None:
        self.model_label.setText(f"Model not loaded: {message}")
        self.context.status.emit(message)

    def _model_released(self) -> None:
        """The app let go of its models (idle, another project): load again when photos come."""
        self.predictor = None
        self.explain_bar.set_predictor(None)

    def _choose_model(self) -> None:
        path = choose_model_file(self, self.context.project.runs_dir if self.context.project else "")
        if path:
            self.context.set_model(path)  # every workspace (and About) follows; set_model hears it

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._start_loading()

    # ------------------------------------------------------------------ input
    def add_paths(self, paths: Sequence[Path | str]) -> JobHandle:
        """Queue files (and the images inside folders, found by a job). Several photos at once offer "same place"."""
        paths = list(paths)
        self._expanding += 1
        job = start_job(self, expand_job, paths, on_finished=lambda files: self._add_files(paths, files),
                        on_failed=self.context.status.emit)
        job.done.connect(self._expanded)
        return job

    def _expanded(self) -> None:
        self._expanding -= 1

    def _add_files(self, paths: list[Path | str], files: list[Path]) -> None:
        if not files:
            self.context.status.emit("no image files found there")
            return
        entries = [Entry(name=str(f), sources=[f]) for f in files]
        self._enqueue(entries)
        self.offer.offer(len(entries), folders=any(Path(p).is_dir() for p in paths))

    def add_image(self, image: QImage, name: str | None = None) -> None:
        """Queue an in-memory image (pasted or dropped from another app) as PNG bytes."""
        if image.isNull():
            self.context.status.emit("the clipboard holds no usable image")
            return
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        entry = Entry(name=name or f"pasted image {next(self._paste_count)}", sources=[bytes(buffer.data())],
                      preview=image)
        self.offer.hide()
        self._enqueue([entry])

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return
        if mime.hasImage():
            self.add_image(QImage(mime.imageData()))
        elif mime.hasUrls():
            self.add_paths([Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()])
        elif mime.hasText() and Path(mime.text().strip()).exists():
            self.add_paths([Path(mime.text().strip())])
        else:
            self.context.status.emit("nothing to predict on the clipboard")

    def combine_last_drop(self) -> None:
        """Add the last multi-photo drop as one group entry (one combined ranking and map)."""
        files = [e.sources[0] for e in self._last_drop]
        self.offer.hide()
        if len(files) < 2:
            return
        entry = Entry(name=f"{len(files)} photos of one place: {Path(files[0]).name} …", sources=files, group=True)
        self._enqueue([entry])

    def _browse(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Photos to predict", "",
                                                "Images (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff);;All files (*)")
        if paths:
            self.add_paths(paths)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Predict every photo in a folder")
        if folder:
            self.add_paths([folder])

    # ------------------------------------------------------------------ queue
    def _enqueue(self, entries: list[Entry]) -> None:
        first_row = self.queue.append(entries)
        self._last_drop = [e for e in entries if not e.group]
        self.queue.setCurrentRow(first_row)
        if self.predictor is None:
            if not self.model_path:
                self.context.status.emit(NO_MODEL_WAITING)
                self.result.show_text(NO_MODEL_WAITING)
            self._start_loading()
        self._pump()

    def _pump(self) -> None:
        """Start a prediction job for pending entries when the model is ready and none is running."""
        if self.predictor is None or self._job is not None:
            return
        pending = [e for e in self.entries if e.result is None][:JOB_ENTRIES]
        if not pending:
            return
        self.bar.show_batch(len(pending))
        self._job = start_job(self, predict_entries, self.predictor, pending, self.top_k.value(),
                              on_event=self._on_event, on_failed=self._job_failed,
                              on_cancelled=lambda: self._job_cancelled(pending), needs_torch=True)
        self._job.done.connect(self._job_done)

    def _on_event(self, event: Event) -> None:
        if event.kind != Kind.RESULT:
            return
        self.bar.progress.setValue(event.done or 0)
        entry = self.queue.find(event.data.get("entry", -1))
        if entry is None:
            return
        entry.result, entry.view_count = event.data["result"], event.data["view_count"]
        if event.data["failures"] is not None:
            entry.failures = event.data["failures"]
        self.queue.relabel(entry)
        if entry is self.current:
            self._show(entry)

    def _job_failed(self, message: str) -> None:
        self.context.status.emit(f"prediction failed: {message}")

    def _job_cancelled(self, pending: list[Entry]) -> None:
        for entry in pending:
            if entry.result is None:
                entry.result = PredictFailure(entry.name, "cancelled")
                self.queue.relabel(entry)
        self.context.status.emit("prediction cancelled")

    def _job_done(self) -> None:
        self._job = None
        self.bar.hide_batch()
        self.queue.relabel_all()
        if self.current is not None and self.current.done:
            self._show(self.current)
        self._pump()

    @property
    def busy(self) -> bool:
        """True while photos wait or a prediction job runs (its results are still being shown)."""
        return self._job is not None or self._expanding > 0 or any(not e.done for e in self.entries)

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def shutdown(self) -> None:
        """Stop background work before the window closes (threads must not outlive their widgets)."""
        stop_jobs(self)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ display
    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(self.entries):
            self._show(self.entries[row])

    def _show(self, entry: Entry) -> None:
        if entry is not self.current:
            self.current = entry
            self._show_photo(entry)
        if isinstance(entry.result, PredictFailure):
            self.result.show_text(f"Could not predict {entry.short_name}: {entry.failure}", MAP_FAILED)
        elif entry.result is None:
            self.result.show_text("Predicting…" if self.model_path else NO_MODEL_WAITING)
        else:
            self.result.show_ranking(entry, self._ranking(entry.result))
            self.prediction_shown.emit(entry)
        self.explain_bar.show_for(entry)

    def _explain_row(self, row: int, _column: int) -> None:
        """A city clicked in the ranking: with Explain on, show the evidence for that city."""
        if self.current is not None and isinstance(self.current.result, Prediction):
            ranking = self._ranking(self.current.result)
            if row < len(ranking):
                self.explain_bar.show_for(self.current, ranking[row].slug)

    def _ranking(self, prediction: Prediction) -> Sequence[CityScore]:
        """The top-k cut anew from the stored probabilities (top-k may have changed since it was predicted)."""
        if self.predictor is None:
            return prediction.ranking
        return rank(self.predictor.classes, prediction.probabilities, self.top_k.value())

    def _show_photo(self, entry: Entry) -> None:
        if entry.preview is not None:
            self.drop.show_image(entry.preview, entry.name)
            return
        from core.imaging import ImageError

        try:
            qimage = preview_qimage(entry.sources[0], 1024)
        except (ImageError, OSError):
            self.drop.show_image(None)
            return
        self.drop.show_image(qimage, entry.name)

    def _top_k_changed(self, value: int) -> None:
        PREDICT_TOP_K.set(self.context.settings, value)
        if self.current is not None and self.current.done:
            self._show(self.current)

    # ------------------------------------------------------------------ export
    def _choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export predictions", "predictions.csv", "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> int:
        """Write every finished entry (top-k rows each; a failure as one row with its reason). Returns rows."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        rows = 0
        for entry in (e for e in self.entries if e.done):
            result = entry.result
            if isinstance(result, Prediction):
                lines = list(csv_rows(result, self._ranking(result), result.source if entry.group else entry.name))
            else:
                lines = list(csv_rows(result, source=entry.name))
            writer.writerows(lines)
            rows += len(lines)
        atomic_write_text(Path(path), buf.getvalue())
        self.context.status.emit(f"exported {rows} rows to {path}")
        return rows
