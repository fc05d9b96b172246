"""Evaluate's heat maps tab: the most confident mistakes or a confusion cell's images with the heat map of
the city the model chose, and the shortcut check (`core.evaluation.shortcuts`) over the evaluated split.

Wiring only: the model loads once per bundle (`load_model_job`), maps come one by one from `explain_job`
and the shortcut check from `shortcuts_job`, all in workers with progress and Cancel. A clicked thumbnail
shows large, and the opacity slider redraws the large view from the kept map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.evaluation.metrics import EvaluationReport, ImageResult
from core.events import PROGRESS, Event, Kind
from core.inference.heatmaps import Explanation

from ...context import AppContext
from ...workers import JobHandle, start_job, stop_jobs
from ..widgets.explain_jobs import explain_job, load_model_job, opacity_slider, overlay_qimage, shortcuts_job
from ..widgets.layouts import column, job_progress
from ..widgets.photo import PhotoLabel

if TYPE_CHECKING:
    from core.evaluation.shortcuts import ShortcutReport
    from core.inference.prediction import Predictor

ICON = 128
#: Maps travel at most this size here (a list holds dozens); the large view is drawn from them too.
LIST_SIDE = 420
#: At most this many images of a list get a heat map.
MAX_IMAGES = 40


class ExplainPanel(QWidget):
    """Call `set_report` after each evaluation and `set_cell` when a confusion cell is clicked."""

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.report: EvaluationReport | None = None
        self.bundle: str | None = None
        self.predictor: Predictor | None = None
        self._predictor_for: str | None = None
        self._cell: list[ImageResult] = []
        self._maps: list[Explanation | None] = []
        self._job: JobHandle | None = None
        self.shortcuts: ShortcutReport | None = None
        context.models.released.connect(self._drop_model)

        # Short names, and the opacity on a row of its own: the tab fits the window at 1024 px.
        self.mistakes_button = QPushButton("Mistakes")
        self.mistakes_button.setToolTip("Heat maps of the most confident mistakes: the evidence for the city each chose")
        self.mistakes_button.clicked.connect(self.explain_mistakes)
        self.cell_button = QPushButton("Cell's images")
        self.cell_button.setToolTip("Heat maps of the clicked confusion cell's images (click a cell first)")
        self.cell_button.clicked.connect(self.explain_cell)
        self.shortcut_button = QPushButton("Check shortcuts")
        self.shortcut_button.setToolTip("Does the model lean on Street View artefacts (car, watermark, border)? "
                                        "Measures the share of the evidence there over the whole split")
        self.shortcut_button.clicked.connect(self.check_shortcuts)
        self.opacity = opacity_slider(self._redraw)
        self.progress, self.cancel_button = job_progress(160, self.cancel)
        top = QHBoxLayout()
        for w in (QLabel("Heat maps:"), self.mistakes_button, self.cell_button, self.shortcut_button):
            top.addWidget(w)
        top.addStretch(1)
        second = QHBoxLayout()
        for w in (QLabel("Opacity"), self.opacity, self.progress, self.cancel_button):
            second.addWidget(w)
        second.addStretch(1)

        self.thumbs = QListWidget()
        self.thumbs.setViewMode(QListView.ViewMode.IconMode)
        self.thumbs.setIconSize(QSize(ICON, ICON))
        self.thumbs.setResizeMode(QListView.ResizeMode.Adjust)
        self.thumbs.setMovement(QListView.Movement.Static)
        self.thumbs.setWordWrap(True)
        self.thumbs.setGridSize(QSize(ICON + 30, ICON + 44))
        self.thumbs.currentRowChanged.connect(self._redraw)
        self.large = PhotoLabel("Pick a list above; click a heat map to see it large.")
        self.large.setMinimumSize(200, 200)
        self.caption = QLabel("")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)  # city names and file names are user data
        self.caption.setWordWrap(True)
        # The shortcut report runs to a dozen lines: scrolled in a box of at most six, it never squeezes the
        # heat maps (whose caption would then ride over the picture) or the matrix beside this panel.
        self.findings = QPlainTextEdit()
        self.findings.setReadOnly(True)
        self.findings.setFont(QFont("monospace"))
        self.findings.setMaximumHeight(self.findings.fontMetrics().lineSpacing() * 6 + 12)
        self.findings.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.findings.hide()
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self.thumbs)
        body.addWidget(column((self.large, 1), self.caption))
        body.setSizes([420, 380])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(body, 1)
        layout.addWidget(self.findings)
        self._enable()

    # ---- inputs from the Evaluate view -------------------------------------------------------------------

    def _drop_model(self) -> None:
        """The app let go of its models: the next map asks `context.models` again."""
        self.predictor, self._predictor_for = None, None

    def set_report(self, report: EvaluationReport, bundle: str) -> None:
        self.cancel()
        self.report, self.bundle = report, bundle
        self._cell = []
        self.shortcuts = None
        self._say("")
        self._show_list([], "")
        self._enable()

    def set_cell(self, rows: Sequence[ImageResult], title: str) -> None:
        self._cell = list(rows)
        self.cell_button.setToolTip(title)
        self._enable()

    def _enable(self) -> None:
        idle = self._job is None or not self._job.running
        ready = self.report is not None and idle
        self.mistakes_button.setEnabled(ready and bool(self.report.most_confident_mistakes(1)))
        self.cell_button.setEnabled(ready and bool(self._cell))
        self.shortcut_button.setEnabled(ready)

    # ---- actions ------------------------------------------------------------------------------------------

    def explain_mistakes(self) -> None:
        if self.report is not None:
            self._explain(self.report.most_confident_mistakes(MAX_IMAGES), "most confident mistakes")

    def explain_cell(self) -> None:
        self._explain(self._cell[:MAX_IMAGES], self.cell_button.toolTip())

    def check_shortcuts(self) -> None:
        if self.report is not None:
            self._say("Checking the split for shortcuts…")
            self._with_model(lambda: self._start(shortcuts_job, self.predictor, self.context.project,
                                                 self.report.split, on_finished=self._show_shortcuts))

    def _say(self, text: str) -> None:
        """The shortcut check's line or report under the heat maps (hidden while there is none)."""
        self.findings.setPlainText(text)
        self.findings.setVisible(bool(text))

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def shutdown(self) -> None:
        stop_jobs(self)

    # ---- jobs ---------------------------------------------------------------------------------------------

    def _explain(self, rows: Sequence[ImageResult], title: str) -> None:
        self._show_list(rows, title)
        if rows:
            requests = [(r.path, r.predicted_city) for r in rows]
            self._with_model(lambda: self._start(explain_job, self.predictor, requests, max_side=LIST_SIDE,
                                                 on_event=self._on_map))

    def _with_model(self, then: Callable[[], None]) -> None:
        """Run `then` once the report's model is loaded (loaded here, in a worker, the first time)."""
        if self.predictor is not None and self._predictor_for == self.bundle:
            then()
            return
        bundle = self.bundle

        def loaded(predictor: Predictor) -> None:
            self.predictor, self._predictor_for = predictor, bundle
            then()

        self._start(load_model_job, self.context.models, bundle, on_finished=loaded)

    def _start(self, fn: Callable, *args: object, on_event: Callable[[Event], None] | None = None,
               on_finished: Callable[[object], None] | None = None, **kwargs: object) -> None:
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()

        def progress(event: Event) -> None:
            if event.kind in (PROGRESS, Kind.RESULT) and event.total:
                self.progress.setRange(0, event.total)
                self.progress.setValue(event.done or 0)
            if on_event is not None:
                on_event(event)

        self._job = start_job(self, fn, *args, on_event=progress, on_finished=on_finished,
                              on_failed=self._failed, needs_torch=True, **kwargs)
        self._job.done.connect(self._job_done)
        self._enable()

    def _job_done(self) -> None:
        if self._job is not None and not self._job.running:
            self.progress.hide()
            self.cancel_button.hide()
        self._enable()

    def _failed(self, message: str) -> None:
        self.context.status.emit(f"heat maps: {message}")
        self._say(f"Could not finish: {message}")

    # ---- display ------------------------------------------------------------------------------------------

    def _show_list(self, rows: Sequence[ImageResult], title: str) -> None:
        self.thumbs.clear()
        self._maps = [None] * len(rows)
        names = dict(zip(self.report.classes, self.report.class_names)) if self.report else {}
        for r in rows:
            item = QListWidgetItem(f"{names.get(r.true_city, r.true_city)} → "
                                   f"{names.get(r.predicted_city, r.predicted_city)} {r.confidence:.0%}")
            item.setToolTip(r.path)
            item.setSizeHint(self.thumbs.gridSize())
            self.thumbs.addItem(item)
        self.caption.setText(f"{len(rows)} {title}: computing heat maps…" if rows else "")
        self.large.show_text("Click a heat map to see it large." if rows else "")

    def _on_map(self, event: Event) -> None:
        if event.kind != Kind.RESULT or event.data["index"] >= len(self._maps):
            return
        index = event.data["index"]
        item = self.thumbs.item(index)
        if "error" in event.data:
            item.setToolTip(f"{item.toolTip()}\nno heat map: {event.data['error']}")
            return
        self._maps[index] = event.data["explanation"]
        icon = overlay_qimage(self._maps[index].shrunk(ICON), self.opacity.value() / 100)
        item.setIcon(QIcon(QPixmap.fromImage(icon)))
        if self.thumbs.currentRow() < 0:
            self.thumbs.setCurrentRow(index)
        elif self.thumbs.currentRow() == index:
            self._redraw()

    def _redraw(self) -> None:
        row = self.thumbs.currentRow()
        explanation = self._maps[row] if 0 <= row < len(self._maps) else None
        if explanation is None:
            return
        self.large.show_image(overlay_qimage(explanation, self.opacity.value() / 100))
        self.caption.setText(f"{explanation.source}\n{explanation.title}")

    def _show_shortcuts(self, report: ShortcutReport) -> None:
        self.shortcuts = report
        self._say(report.format())
