"""Evaluate workspace: score a run's model (or any bundle file) on a split and explore the mistakes.

Wiring only: `core.evaluation.metrics.evaluate` does the work in a worker (`start_job`), the report it returns
fills a summary line, a sortable per-city table, the confusion heatmap (`confusion.ConfusionView`), two
thumbnail lists (`thumb_list.ThumbList`: the images of a clicked cell; the most confident mistakes) and the
project's learning curve (`learning_curve.LearningCurvePanel`). Export writes the core's report.json +
predictions.csv + confusion.png into a folder the user picks.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.data.project import SPLITS, Project
from core.evaluation.metrics import EvaluationReport, ImageResult, write_report
from core.events import PROGRESS, WARNING, Control, Event, EventCallback
from core.inference.project_model import run_models

from ...context import AppContext
from ...model_service import ModelService, choose_model_file
from ...workers import JobHandle, start_job, stop_jobs
from ..widgets.elided import ElidedComboBox
from ..widgets.layouts import column
from .confusion import ConfusionPanel
from .evaluate_explain import ExplainPanel
from .learning_curve import LearningCurvePanel
from .thumb_list import ThumbList


def evaluate_job(models: ModelService, project: Project, bundle: str, split: str, *, on_event: EventCallback,
                 control: Control) -> EvaluationReport:
    """Evaluate the bundle, the app's shared copy of it (`ModelService`; runs in a worker thread: torch is
    imported here, not at startup)."""
    from core.evaluation.metrics import evaluate

    # The count comes first, so the progress bar says "0 / N images" while the model loads.
    total = sum(1 for r in project.images(split=split, status=("pending", "accepted")) if r.city_slug)
    on_event(Event(PROGRESS, "loading model", done=0, total=total))
    predictor = models.get(bundle)
    return evaluate(project, predictor, split, on_event=on_event, control=control)


class EvaluateView(QWidget):
    """Pick a model and a split, evaluate, then read the summary, per-city table, heatmap and mistakes."""

    evaluated = Signal(object)  # core.evaluation.metrics.EvaluationReport

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.report: EvaluationReport | None = None
        self._labels: dict[str, str] = {}  # slug -> "Osijek, HR" for the shown report
        self._job: JobHandle | None = None
        self._files: list[str] = []   # bundles picked outside the project's runs

        self.model_combo = ElidedComboBox(min_chars=28)  # a run's long name must not widen the window
        self.model_combo.setToolTip("A training run's best checkpoint, or a model file")
        browse = QPushButton("Model file…")
        browse.clicked.connect(self._browse)
        self.split_combo = QComboBox()
        self.split_combo.addItems(list(SPLITS))
        self.split_combo.setCurrentText("test")
        self.run_button = QPushButton("Evaluate")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("Export report…")
        self.export_button.setToolTip("report.json, predictions.csv and confusion.png into a folder")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export_dialog)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setFormat("%v / %m images")
        self.progress.setVisible(False)

        top = QHBoxLayout()
        for w in (QLabel("Model"), self.model_combo, browse, QLabel("Split"), self.split_combo,
                  self.run_button, self.cancel_button, self.progress):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.export_button)

        self.summary = QLabel("Pick a model and a split, then Evaluate.")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)

        self.city_model = QStandardItemModel(0, 5, self)
        self.city_model.setHorizontalHeaderLabels(["City", "Precision", "Recall", "F1", "Support"])
        self.city_model.setSortRole(Qt.ItemDataRole.UserRole)
        self.city_table = QTableView()
        self.city_table.setModel(self.city_model)
        self.city_table.setSortingEnabled(True)
        self.city_table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.city_table.verticalHeader().setVisible(False)
        header = self.city_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # figures whole, the city gets the rest
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(36)
        self.city_table.setMinimumWidth(360)  # "Precision … Support" whole and room for "Zagreb, HR"

        self.heatmap = ConfusionPanel()
        self.confusion = self.heatmap.view
        self.confusion.cell_clicked.connect(self.show_cell)
        self.cell_title = QLabel("Click a cell to see its images.")
        self.cell_title.setTextFormat(Qt.TextFormat.PlainText)  # city names are user data
        self.cell_dataset_button = QPushButton("Show in Dataset")
        self.cell_dataset_button.setToolTip("These images in the Dataset grid (Model filter set), to relabel or reject")
        self.cell_dataset_button.setEnabled(False)
        self.cell_dataset_button.clicked.connect(self.show_cell_in_dataset)
        self._cell: tuple[str, str] | None = None
        self.cell_images = ThumbList(context.project)
        self.mistakes = ThumbList(context.project)
        for thumbs in (self.cell_images, self.mistakes):
            thumbs.setToolTip("Double-click an image to open it in the Dataset grid (relabel or reject it there)")
            thumbs.image_activated.connect(context.image_requested)

        self.tabs = QTabWidget()
        cell_head = QWidget()
        cell_bar = QHBoxLayout(cell_head)
        cell_bar.setContentsMargins(0, 0, 0, 0)
        cell_bar.addWidget(self.cell_title, 1)
        cell_bar.addWidget(self.cell_dataset_button)
        self.tabs.addTab(column(cell_head, (self.cell_images, 1)), "Cell images")
        self.tabs.addTab(self.mistakes, "Most confident mistakes")
        self.explain = ExplainPanel(context)
        self.tabs.addTab(self.explain, "Heat maps && shortcuts")
        self.learning_curve = LearningCurvePanel(context)  # the data's outlook, whatever model is picked
        self.tabs.addTab(self.learning_curve, "Learning curve")

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.heatmap)
        right.addWidget(self.tabs)
        right.setSizes([420, 300])
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self.city_table)
        body.addWidget(right)
        body.setSizes([380, 800])

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(body, 1)

        context.project_changed.connect(self._on_project)
        context.model_changed.connect(self.select_model)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)  # no worker thread may outlive the window
        self.refresh_models()
        if context.model_path:  # the project's model (its best run unless one was chosen), known already
            self.select_model(context.model_path)

    # ---- model list -----------------------------------------------------------------------------------

    def refresh_models(self) -> None:
        """Re-list the project's runs (plus files picked by hand), keeping the current choice."""
        current = self.model_path()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for model in run_models(self.context.project):  # newest first, each named by run and val accuracy
            self.model_combo.addItem(model.label, str(model.path))
        for path in self._files:
            self.model_combo.addItem(self.context.model_label(path), path)
        self.model_combo.blockSignals(False)
        if current and self.model_combo.findData(current) >= 0:
            self.model_combo.setCurrentIndex(self.model_combo.findData(current))

    def select_model(self, path: str) -> None:
        """Choose a bundle: a run's (listed after a refresh if it is new) or any file ("": keep the list)."""
        path = str(path)
        if not path:
            return
        if self.model_combo.findData(path) < 0:
            self.refresh_models()
        if self.model_combo.findData(path) < 0:
            self._files.append(path)
            self.model_combo.addItem(self.context.model_label(path), path)
        self.model_combo.setCurrentIndex(self.model_combo.findData(path))

    def model_path(self) -> str | None:
        return self.model_combo.currentData()

    def _browse(self) -> None:
        path = choose_model_file(self, self.context.project.root)
        if path:
            self.select_model(path)

    def _on_project(self, project: Project) -> None:
        self._files.clear()
        self.cell_images.stop()
        self.mistakes.stop()
        self.cell_images.project = self.mistakes.project = project
        self.refresh_models()

    def showEvent(self, event: Any) -> None:
        self.refresh_models()  # a run may have finished since
        super().showEvent(event)

    # ---- evaluation -----------------------------------------------------------------------------------

    def start(self) -> None:
        bundle = self.model_path()
        if not bundle:
            self.summary.setText("No model yet: train one in the Train workspace or pick a model file.")
            return
        if self._job is not None and self._job.running:
            return
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)  # until the job's first event (at once) gives the image count
        self.summary.setText(f"Evaluating {html.escape(Path(bundle).name)} on the "
                             f"{html.escape(self.split_combo.currentText())} split…")
        self._job = start_job(self, evaluate_job, self.context.models, self.context.project, bundle, self.split_combo.currentText(),
                              title="Evaluation", workspace="Evaluate",
                              on_event=self._on_event, on_finished=self.show_report,
                              on_failed=self._on_failed, on_cancelled=self._on_cancelled, needs_torch=True)

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _on_event(self, event: Event) -> None:
        if event.kind == PROGRESS and event.total:
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done or 0)
            self.progress.setToolTip(event.message)
        elif event.kind == WARNING:
            self.context.status.emit(event.message)

    def _job_ended(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)

    def _on_failed(self, message: str) -> None:
        self._job_ended()
        self.summary.setText(f"<span style='color:#b00'>Evaluation failed: {html.escape(message)}</span>")

    def _on_cancelled(self) -> None:
        self._job_ended()
        self.summary.setText("Evaluation cancelled.")

    def show_report(self, report: EvaluationReport) -> None:
        """Fill every panel from an `EvaluationReport`."""
        self._job_ended()
        self.report = report
        self._labels = {c.slug: c.label for c in self.context.project.cities()}
        s = report.scores
        extra = []
        if report.failures:
            extra.append(f"{len(report.failures)} unreadable")
        if report.skipped:
            extra.append(f"{report.skipped} of unknown cities skipped")
        places = ""
        if report.place_scores:
            p = report.place_scores
            places = (f"<br>Per place ({p.count} places, views combined): accuracy <b>{p.accuracy:.1%}</b> "
                      f"(95% CI {p.accuracy_ci[0]:.0%}-{p.accuracy_ci[1]:.0%}), macro F1 {p.macro_f1 or 0:.3f}, "
                      f"median {p.median_km:.0f} km, mean points {p.mean_points:.0f}")
        # Top-k only where k < the number of cities (top-5 of 4 cities is always 100%).
        top_k = "".join(f"top-{k} {v:.1%}, " for k, v in s.top_k().items())
        self.summary.setText(
            f"<b>{html.escape(report.split)}</b> split, {s.count} images"
            f"{html.escape(' (' + ', '.join(extra) + ')') if extra else ''}: "
            f"accuracy <b>{s.accuracy:.1%}</b> (95% CI {s.accuracy_ci[0]:.0%}-{s.accuracy_ci[1]:.0%}), {top_k}"
            f"macro F1 <b>{report.macro['f1']:.3f}</b>, median <b>{s.median_km:.0f} km</b>, "
            f"mean points <b>{s.mean_points:.0f}</b> / 5000 (world-map scale, as published benchmarks){places}")
        self._fill_cities(report)
        self.confusion.set_matrix(report.class_names, report.confusion)
        self.cell_title.setText("Click a cell to see its images.")
        self.cell_images.show_items([])
        self.mistakes.show_items([self._thumb_row(r, with_truth=True)
                                  for r in report.most_confident_mistakes(40)])
        self.export_button.setEnabled(True)
        self.explain.set_report(report, report.model)
        self.evaluated.emit(report)

    def _fill_cities(self, report: EvaluationReport) -> None:
        self.city_table.setSortingEnabled(False)
        self.city_model.removeRows(0, self.city_model.rowCount())
        for c in report.per_city:
            name = self._name(c.slug)
            row = [QStandardItem(name)]
            row[0].setData(name.lower(), Qt.ItemDataRole.UserRole)
            row[0].setToolTip(c.slug)
            for value in (c.precision, c.recall, c.f1):
                item = QStandardItem(f"{value:.3f}")
                item.setData(float(value), Qt.ItemDataRole.UserRole)
                item.setBackground(QColor.fromHsvF(0.33 * value, 0.35, 1.0))
                row.append(item)
            support = QStandardItem(str(c.support))
            support.setData(int(c.support), Qt.ItemDataRole.UserRole)
            row.append(support)
            for item in row[1:]:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.city_model.appendRow(row)
        self.city_table.setSortingEnabled(True)
        self.city_table.sortByColumn(3, Qt.SortOrder.AscendingOrder)  # weakest cities first
        self.city_table.resizeColumnsToContents()

    def _name(self, slug: str) -> str:
        """A city as the rest of the app writes it ("Osijek, HR"); the model's own name for a city the
        project no longer has."""
        return self._labels.get(slug) or self.report.class_names[self.report.classes.index(slug)]

    def _thumb_row(self, r: ImageResult, with_truth: bool = False) -> tuple[str, str, str, str]:
        caption = f"{self._name(r.predicted_city)} {r.confidence:.0%}"
        if with_truth:
            caption = f"{self._name(r.true_city)} → {caption}"
        tip = (f"{Path(r.path).name}\ntrue: {self._name(r.true_city)}\npredicted: {self._name(r.predicted_city)}"
               f" ({r.confidence:.1%}), true city at {r.true_probability:.1%}\n{r.distance_km:.0f} km off, "
               f"{r.points} points")
        return r.image_id, r.path, caption, tip

    def cell_results(self, true: int, predicted: int) -> list[ImageResult]:
        """The evaluated images whose truth is class `true` and prediction class `predicted`."""
        t, p = self.report.classes[true], self.report.classes[predicted]
        rows = [r for r in self.report.images if r.true_city == t and r.predicted_city == p]
        return sorted(rows, key=lambda r: -r.confidence)

    def show_cell(self, true: int, predicted: int) -> None:
        if self.report is None:
            return
        rows = self.cell_results(true, predicted)
        names = self.report.class_names
        self.cell_title.setText(f"{len(rows)} images of {names[true]} predicted as {names[predicted]}")
        self._cell = (self.report.classes[true], self.report.classes[predicted])
        self.cell_dataset_button.setEnabled(bool(rows))
        self.cell_images.show_items([self._thumb_row(r) for r in rows])
        self.explain.set_cell(rows, self.cell_title.text())
        self.tabs.setCurrentIndex(0)

    def show_cell_in_dataset(self) -> None:
        """The clicked cell's images in the Dataset grid (the evaluation stored each image's guess)."""
        if self._cell is not None:
            self.context.guesses_requested.emit(*self._cell)

    # ---- export -------------------------------------------------------------------------------------------

    def _export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the evaluation report to",
                                                  str(Path(self.model_path() or self.context.project.root).parent))
        if folder:
            self.export(Path(folder))

    def export(self, folder: Path) -> dict[str, Path]:
        """Write report.json, predictions.csv (and places.csv) and confusion.png into `folder`."""
        paths = write_report(self.report, folder, prefix=f"{self.report.split}-")
        self.context.status.emit(f"Report written to {folder}")
        return paths

    def shutdown(self) -> None:
        """Stop background work before the window closes (threads must not outlive their widgets)."""
        stop_jobs(self)  # the heat maps panel's jobs too: it is a child widget
        self.cell_images.stop()
        self.mistakes.stop()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)
