"""The Predict workspace: drop, paste or browse photos; see the ranked cities and where they are.

Photos queue up as entries; the model (loaded once, in the background, by `start_job`) predicts pending
entries in batches off the UI thread and each result shows as soon as it is ready. Several photos dropped
together can also be combined as views of one place (`Predictor.predict_group`). A folder is predicted
as a cancellable batch and everything can be exported as CSV, in the CLI's ``predict --csv`` layout.

The map page is rebuilt (a few ms) for the entry on show; the ranking is re-cut from the stored full
probability vector when top-k changes, so nothing is predicted twice.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from PySide6.QtCore import QBuffer, QIODevice, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QFrame, QHBoxLayout, QHeaderView, QLabel, QListWidget,
    QListWidgetItem, QProgressBar, QPushButton, QSizePolicy, QSpinBox, QSplitter, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from core.events import Event, Kind
from core.fsutil import atomic_write_text
from core.results import EXPORT_FIELDS, CityScore, PredictFailure, Prediction, csv_rows, expand_inputs

from ..context import AppContext
from ..settings import PREDICT_TOP_K
from ..workers import JobHandle, start_job, stop_jobs
from .layouts import column
from .map_view import MapView, assets_dir, online_tiles, pages_dir
from .photo import PhotoLabel, preview_qimage

if TYPE_CHECKING:  # the predictor lives in workers; the UI thread only holds it
    from core.prediction import Predictor

#: Entries handed to one prediction job (results still show one by one).
JOB_ENTRIES = 256
_keys = itertools.count(1)
NO_MODEL_LABEL = "No model: choose a model bundle (.pt), or train one"
#: Shown while photos wait for a model (e.g. opened with "Open with GeoSpottr" before any model exists).
NO_MODEL_WAITING = ("Photos wait for a model: choose a model bundle (Choose model…), "
                    "or train one in the Train workspace.")


@dataclass(eq=False)
class Entry:
    """One queued prediction: a photo (path or pasted bytes) or a group of photos of one place."""

    name: str
    sources: list[Path | bytes]
    group: bool = False
    result: Prediction | PredictFailure | None = None
    view_count: int = 0
    failures: list[str] = field(default_factory=list)
    preview: QImage | None = None          # for pasted images, which have no file
    key: int = field(default_factory=lambda: next(_keys))

    @property
    def done(self) -> bool:
        return self.result is not None


def _predict_entries(predictor: Predictor, entries: Sequence[Entry], top_k: int, *, on_event, control) -> int:
    """Worker job: predict each entry in order and announce each outcome with a ``"result"`` event.

    The outcome travels in the event; the UI thread stores it on the entry, so the view never sees an
    entry whose result is set before its row and caption are updated.
    """
    singles = [e for e in entries if not e.group]
    total = len(entries)
    done = 0

    def announce(entry: Entry, result, view_count: int, failures: list[str] | None = None) -> None:
        nonlocal done
        done += 1
        on_event(Event(Kind.RESULT, done=done, total=total, scope="predict",
                       data={"entry": entry.key, "result": result, "view_count": view_count,
                             "failures": failures}))

    results = predictor.predict_many([e.sources[0] for e in singles], top_k=top_k, control=control, total=total)
    for entry, result in zip(singles, results):
        announce(entry, result, 1)
    for entry in (e for e in entries if e.group):
        control.checkpoint()
        group = predictor.predict_group(entry.sources, top_k=top_k)
        announce(entry, group.combined or PredictFailure(entry.name, "none of the photos could be read"),
                 len(group.views), [f.reason for f in group.failures])
    return done


def _expand_inputs(paths: Sequence[Path | str], *, on_event, control) -> list[Path]:  # noqa: ARG001
    """Worker job: the files to queue (a big folder takes a while to walk, so not on the UI thread)."""
    return expand_inputs(paths)


def _load_predictor(path: str, *, on_event, control) -> Predictor:
    """Worker job: load the bundle, and warm the map code so the first map is as quick as the rest."""
    from core.prediction import Predictor

    predictor = Predictor.load(path)
    control.checkpoint()
    assets_dir()
    import folium  # noqa: F401  (first import takes a few hundred ms)
    return predictor


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
        self.setToolTip(caption)
        super().show_image(image, self.HINT)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.browse_requested.emit()

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if paths:
            self.files_dropped.emit(paths)
        elif mime.hasImage():
            self.image_dropped.emit(QImage(mime.imageData()))
        event.acceptProposedAction()


class RankingTable(QTableWidget):
    """Rank, city and a probability bar per candidate."""

    def __init__(self) -> None:
        super().__init__(0, 3)
        self.setHorizontalHeaderLabels(["#", "City", "Probability"])
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def show_ranking(self, ranking: Sequence[CityScore]) -> None:
        self.setRowCount(len(ranking))
        for row, c in enumerate(ranking):
            self.setItem(row, 0, QTableWidgetItem(str(row + 1)))
            city = QTableWidgetItem(f"{c.name}, {c.country}" if c.country else c.name)
            if row == 0:
                font = city.font()
                font.setBold(True)
                city.setFont(font)
            self.setItem(row, 1, city)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(c.probability * 1000))
            bar.setFormat(f"{c.probability:.1%}")
            bar.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.setCellWidget(row, 2, bar)


class PredictView(QWidget):
    """See the module docstring. `predictor` is None until a model has loaded."""

    prediction_shown = Signal(object)   # the Entry whose ranking and map page are now on screen

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.predictor: Predictor | None = None
        self.model_path: str | None = None
        self.entries: list[Entry] = []
        self._rows: dict[int, int] = {}   # Entry.key -> queue row
        self.current: Entry | None = None
        self._load_job: JobHandle | None = None
        self._job: JobHandle | None = None
        self._last_drop: list[Entry] = []
        self._expanding = 0               # `add_paths` jobs still walking their folders
        self._paste_count = itertools.count(1)
        self._build()
        context.model_changed.connect(self.set_model)
        if context.model_path:  # the project's model, known before this workspace was built
            self.model_path = context.model_path  # loaded when first needed (shown, or a photo arrives)
            self.model_label.setText(f"Model: {Path(self.model_path).name} (loads when needed)")

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.model_label = QLabel(NO_MODEL_LABEL)
        self.model_label.setTextFormat(Qt.TextFormat.PlainText)  # it shows file names and error text
        choose = QPushButton("Choose model…")
        choose.clicked.connect(self._choose_model)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 50)
        self.top_k.setValue(PREDICT_TOP_K.get(self.context.settings))
        self.top_k.setPrefix("top ")
        self.top_k.valueChanged.connect(self._top_k_changed)
        folder = QPushButton("Predict folder…")
        folder.clicked.connect(self._choose_folder)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._choose_export)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel)
        bar = QHBoxLayout()
        for w in (self.model_label, choose):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.top_k, folder, self.export_button, self.progress, self.cancel_button):
            bar.addWidget(w)

        self.drop = DropZone()
        self.drop.files_dropped.connect(self.add_paths)
        self.drop.image_dropped.connect(self.add_image)
        self.drop.browse_requested.connect(self._browse)
        self.offer = QFrame()
        offer_layout = QHBoxLayout(self.offer)
        offer_layout.setContentsMargins(4, 2, 4, 2)
        self.offer_label = QLabel()
        self.same_place = QPushButton("Same place: combine")
        self.same_place.setToolTip("Treat these photos as views of one place and show one combined ranking")
        self.same_place.clicked.connect(self.combine_last_drop)
        dismiss = QPushButton("Keep separate")
        dismiss.clicked.connect(self.offer.hide)
        offer_layout.addWidget(self.offer_label, 1)
        offer_layout.addWidget(self.same_place)
        offer_layout.addWidget(dismiss)
        self.offer.hide()
        self.queue = QListWidget()
        self.queue.currentRowChanged.connect(self._row_changed)
        left = column((self.drop, 3), self.offer, QLabel("Queue"), (self.queue, 2))

        self.caption = QLabel("")
        self.caption.setTextFormat(Qt.TextFormat.RichText)  # every inserted text is escaped
        self.caption.setWordWrap(True)
        self.ranking = RankingTable()
        self.map = MapView()
        self.map.load_failed.connect(self.context.status)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(column(self.caption, self.ranking))
        right.addWidget(self.map)
        right.setSizes([220, 520])

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([380, 760])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Paste), self, activated=self.paste)

    # ------------------------------------------------------------------ model
    def set_model(self, path: str) -> None:
        """Use the bundle at `path` (loads in the background; pending photos wait for it); "": no model."""
        self.model_path = str(path) or None
        self.predictor = None
        if self.model_path is None:
            self.model_label.setText(NO_MODEL_LABEL)
            return
        self._start_loading()

    def _start_loading(self) -> None:
        if not self.model_path or self.predictor is not None or self._load_job is not None:
            return
        self.model_label.setText(f"Loading model {Path(self.model_path).name}…")
        path = self.model_path
        self._load_job = start_job(self, _load_predictor, path,
                                   on_finished=lambda p: self._model_loaded(path, p),
                                   on_failed=self._model_failed, on_cancelled=self._model_failed,
                                   needs_torch=True)
        self._load_job.done.connect(self._load_done)

    def _load_done(self) -> None:
        self._load_job = None
        if self.predictor is None and self.model_path and self.model_label.text().startswith("Loading"):
            self._start_loading()  # another model was chosen while this one loaded

    def _model_loaded(self, path: str, predictor: Predictor) -> None:
        if path != self.model_path:
            return
        self.predictor = predictor
        self.model_label.setText(f"Model: {Path(path).name} ({len(predictor.classes)} cities)")
        self.context.status.emit(f"Model loaded: {len(predictor.classes)} cities")
        self._pump()

    def _model_failed(self, message: str = "cancelled") -> None:
        self.model_label.setText(f"Model not loaded: {message}")
        self.context.status.emit(message)

    def _choose_model(self) -> None:
        start = str(self.context.project.runs_dir) if self.context.project else ""
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model bundle", start, "Model bundles (*.pt);;All files (*)")
        if path:
            self.context.set_model(path)  # every workspace (and About) follows; set_model hears it

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._start_loading()

    # ------------------------------------------------------------------ input
    def add_paths(self, paths: Sequence[Path | str]) -> JobHandle:
        """Queue files (and the images inside folders, found by a job). Several photos at once offer "same place"."""
        paths = list(paths)
        self._expanding += 1
        job = start_job(self, _expand_inputs, paths, on_finished=lambda files: self._add_files(paths, files),
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
        folders = any(Path(p).is_dir() for p in paths)
        if 1 < len(entries) <= 12 and not folders:
            self.offer_label.setText(f"{len(entries)} photos dropped. Are they the same place?")
            self.offer.show()
        else:
            self.offer.hide()

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
        first_row = len(self.entries)
        for row, entry in enumerate(entries, start=first_row):
            self._rows[entry.key] = row
        self.entries.extend(entries)
        self._last_drop = [e for e in entries if not e.group]
        for entry in entries:
            item = QListWidgetItem()
            self.queue.addItem(item)
            self._label(entry, item)
        self.queue.setCurrentRow(first_row)
        if self.predictor is None:
            if not self.model_path:
                self.context.status.emit(NO_MODEL_WAITING)
                self.caption.setText(html.escape(NO_MODEL_WAITING))
            self._start_loading()
        self._pump()

    def _label(self, entry: Entry, item: QListWidgetItem | None = None) -> None:
        item = item or self.queue.item(self._rows[entry.key])
        short = Path(entry.name).name if not isinstance(entry.sources[0], bytes) and not entry.group else entry.name
        if entry.result is None:
            text = f"… {short}"
        elif isinstance(entry.result, Prediction):
            top = entry.result.top
            text = f"{short}  →  {top.name} {top.probability:.0%}"
        else:
            text = f"✗ {short}: {entry.result.reason}"
        item.setText(text)
        item.setToolTip(entry.name)

    def _pump(self) -> None:
        """Start a prediction job for pending entries when the model is ready and none is running."""
        if self.predictor is None or self._job is not None:
            return
        pending = [e for e in self.entries if e.result is None][:JOB_ENTRIES]
        if not pending:
            return
        self.progress.setRange(0, len(pending))
        self.progress.setValue(0)
        self.progress.setVisible(len(pending) > 1)
        self.cancel_button.setVisible(len(pending) > 1)
        self._job = start_job(self, _predict_entries, self.predictor, pending, self.top_k.value(),
                              on_event=self._on_event, on_failed=self._job_failed,
                              on_cancelled=lambda: self._job_cancelled(pending), needs_torch=True)
        self._job.done.connect(self._job_done)

    def _on_event(self, event: Event) -> None:
        if event.kind != Kind.RESULT:
            return
        self.progress.setValue(event.done or 0)
        row = self._rows.get(event.data.get("entry", -1))
        if row is None:
            return
        entry = self.entries[row]
        entry.result, entry.view_count = event.data["result"], event.data["view_count"]
        if event.data["failures"] is not None:
            entry.failures = event.data["failures"]
        self._label(entry, self.queue.item(row))
        if entry is self.current:
            self._show(entry)

    def _job_failed(self, message: str) -> None:
        self.context.status.emit(f"prediction failed: {message}")

    def _job_cancelled(self, pending: list[Entry]) -> None:
        for entry in pending:
            if entry.result is None:
                entry.result = PredictFailure(entry.name, "cancelled")
                self._label(entry)
        self.context.status.emit("prediction cancelled")

    def _job_done(self) -> None:
        self._job = None
        self.progress.hide()
        self.cancel_button.hide()
        for row, entry in enumerate(self.entries):
            self._label(entry, self.queue.item(row))
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

    def closeEvent(self, event) -> None:  # noqa: N802
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
        if not isinstance(entry.result, Prediction):
            self.ranking.setRowCount(0)
            if entry.result is not None:
                self.caption.setText(f"Could not predict: {html.escape(entry.result.reason)}")
            elif self.model_path:
                self.caption.setText("Predicting…")
            else:
                self.caption.setText(html.escape(NO_MODEL_WAITING))
            return
        ranking = self._ranking(entry.result)
        self.ranking.show_ranking(ranking)
        views = f" — {entry.view_count} views combined" if entry.group else ""
        failed = f"; {len(entry.failures)} unreadable" if entry.failures else ""
        self.caption.setText(f"<b>{html.escape(ranking[0].name)}</b> ({ranking[0].probability:.1%}){views}{failed}")
        self.prediction_shown.emit(entry)
        # The list is on screen first; the map page (tens of ms) follows in the next event-loop turn.
        QTimer.singleShot(0, self, lambda: self._show_map(entry, ranking))  # not after the view is gone

    def _show_map(self, entry: Entry, ranking: Sequence[CityScore]) -> None:
        from core.maps import prediction_map

        if entry is not self.current:
            return
        page = prediction_map(ranking, pages_dir() / f"predict-{id(self)}.html", assets_dir(),
                              online_tiles(self.context.settings))
        self.map.show_page(page)

    def _ranking(self, prediction: Prediction) -> tuple[CityScore, ...]:
        return self.predictor.rank(prediction.probabilities, self.top_k.value()) if self.predictor else prediction.ranking

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
