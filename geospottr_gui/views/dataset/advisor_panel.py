"""Dataset > Download > What to collect next: the advisor's ranking and plan, one click from a download.

`core.evaluation.advisor.advise` ranks the cities from the project's learning curve (measured first in the worker
when there is none for the current photos: `core.evaluation.learning.current_curve`, torch) and plans the new
photos; the table shows why (F1 now and at 2x, the gain per 10 photos, which city each is mistaken for,
where its mistakes are) and "Download this plan" hands the plan with its cost bound to the Download
panel (`plan_chosen`), which runs it like any download.
"""

from __future__ import annotations

import html
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.acquisition.jobs import DownloadConfig
from core.data.project import Project
from core.evaluation.advisor import AREAS_PER_CITY, DEFAULT_PHOTOS, STEP, Advice
from core.events import PROGRESS, Control, Event, EventCallback

from ...context import AppContext
from ...workers import JobHandle, start_job
from ..widgets.layouts import follow_progress, job_progress

#: Four columns fit the Download pane at 1024 px; the gain and the sub-areas are in the tooltips.
COLUMNS = (("City", f"ranked by the macro F1 its next photos should add (+points per {STEP} photos in the tooltip)"),
           ("F1 → 2x", "out-of-fold F1 of its photos now (grouped 5-fold CV, every labelled photo), and the "
                       "learning curve's F1 with twice its photos"),
           ("Plan", f"new photos the plan gives it; where: its {AREAS_PER_CITY} neediest cells (most mistakes, "
                    "fewest photos, no photo at all counts too) in the tooltip"),
           ("Mistaken for", "the cities its photos are guessed as"))


def advise_job(project: Project, photos: int, download: DownloadConfig, *, on_event: EventCallback,
               control: Control) -> Advice:
    """The project's curve (measured when missing or out of date) and the advice (runs in a worker)."""
    from core.evaluation.advisor import advise
    from core.evaluation.learning import current_curve

    curve = current_curve(project, on_event=on_event, control=control)
    return advise(project, curve, photos, download)


class AdvisorPanel(QWidget):
    """Photos to plan, Advise, the ranking table, the plan's cost and "Download this plan"."""

    plan_chosen = Signal(object)  # core.evaluation.advisor.Advice: its plan() and estimate

    def __init__(self, context: AppContext, download_config: Callable[[], DownloadConfig],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.download_config = download_config  # the Download form's provider, price and budget
        self.advice: Advice | None = None
        self._job: JobHandle | None = None
        self.photos = QSpinBox()
        self.photos.setRange(STEP, 100_000)
        self.photos.setSingleStep(STEP * 5)
        self.photos.setValue(DEFAULT_PHOTOS)
        self.photos.setSuffix(" new photos")
        self.advise_button = QPushButton("What to collect next")
        self.advise_button.setToolTip("Rank the cities by what their next photos should add (learning curve, "
                                      "confusions, where the mistakes lie) and plan the new photos")
        self.advise_button.clicked.connect(self.run_advice)
        self.progress, self.cancel_button = job_progress(160, self.cancel, "Stop: nothing is planned or downloaded")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([name for name, _ in COLUMNS])
        for col, (_name, tip) in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(24)
        for col in range(len(COLUMNS)):  # the figures take what they need; the names share the rest
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch if col in (0, 3) else
                                        QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(120)
        self.summary = QLabel("Which cities more photos would help most, and where to take them.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.use_button = QPushButton("Download this plan")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(lambda: self.plan_chosen.emit(self.advice))
        top = QHBoxLayout()
        top.addWidget(self.photos)
        top.addWidget(self.advise_button)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)
        top.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        context.project_changed.connect(lambda _p: self.show_advice(None))

    def run_advice(self) -> None:
        if self._job is not None and self._job.running:
            return
        self.advise_button.setEnabled(False)
        self.use_button.setEnabled(False)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.progress.setRange(0, 0)
        self.summary.setText("Reading the learning curve (measured first if the photos changed)…")
        self._job = start_job(self, advise_job, self.context.project, self.photos.value(), self.download_config(),
                              title="Advice", workspace="Dataset", on_event=self._on_event,
                              on_finished=self.show_advice, on_failed=self._failed, on_cancelled=self._cancelled,
                              needs_torch=True)

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _cancelled(self) -> None:
        self._ended()
        self.summary.setText("Cancelled: nothing was planned.")

    def _on_event(self, event: Event) -> None:
        if event.kind == PROGRESS and event.total:
            follow_progress(self.progress, event)

    def _ended(self) -> None:
        self.advise_button.setEnabled(True)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def _failed(self, message: str) -> None:
        self._ended()
        self.summary.setText(f"<span style='color:#b00'>{html.escape(message)}</span>")

    def show_advice(self, advice: Advice | None) -> None:
        self._ended()
        self.advice = advice
        self.table.setRowCount(0 if advice is None else len(advice.cities))
        self.use_button.setEnabled(advice is not None and bool(advice.plan().cities))
        if advice is None:
            return
        for row, c in enumerate(advice.cities):
            confused = ", ".join(f"{advice.names.get(s, s)} {share:.0%}" for s, share in c.mistaken_for[:2]) or "—"
            where = "\n".join(f"around {(cell.bbox[1] + cell.bbox[3]) / 2:.4f}, {(cell.bbox[0] + cell.bbox[2]) / 2:.4f}: "
                               f"{cell.photos} photos, {cell.errors} wrong" for cell in c.cells[:AREAS_PER_CITY])
            cells = ((c.name, f"+{c.gain * 100:.2f} macro-F1 points per {STEP} photos{advice.step_cost()}; "
                              f"{c.labelled} labelled"),
                     (f"{c.f1_now.value:.2f} → {c.f1_2x:.2f}", f"now {c.f1_now.value:.2f} [{c.f1_now.low:.2f}, "
                      f"{c.f1_now.high:.2f}], ~{c.f1_2x:.2f} with 2x photos"),
                     (f"+{c.new}" if c.new else "—", where if c.new else "nothing planned"),
                     (confused, confused))
            for col, (text, tip) in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                if col in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        e = advice.estimate
        cost = ("" if e is None else f"At most ${e.cost:,.2f} ({e.max_requests:,} billed requests, refused "
                "placeholders included)." if e.billed else "Free with a Mapillary token.")
        n = sum(1 for c in advice.cities if c.new)
        self.summary.setText(f"Plan: {advice.photos:,} new photos for {n} cit{'y' if n == 1 else 'ies'}. {cost}")
