"""Evaluate > Learning curve: F1 against the number of training photos, per city and overall, and the trend.

`core.evaluation.learning.current_curve` measures the curve in a worker (`start_job`, torch: it may extract
features); the saved curve (``reports/learning_curve.json``, `core.evaluation.curves`) is shown as soon as the
panel is, while it still describes the project's labelled photos. The plot has a log x axis: the
measured points with their 95% intervals as error bars, and the fitted power law (dashed) drawn on to 4x
the labelled photos, where the outlook line below reads it ("Rijeka: 0.34 now, ~0.45 with 2x photos").
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.data.project import Project
from core.errors import GeoSpottrError
from core.evaluation.curves import LearningCurve, load_current_curve
from core.events import PROGRESS, Control, Event, EventCallback

from ...context import AppContext
from ...plaintext import markup_safe
from ...workers import JobHandle, start_job
from ..widgets.layouts import job_progress
from ..widgets.plot_parts import OVERLAY_COLORS

#: The macro F1 curve is drawn black and thicker than the cities'.
MACRO_COLOR = (20, 20, 20)
#: Photo counts labelled on the log axis (pyqtgraph's own minor labels run into each other on a narrow plot).
TICKS = tuple(m * 10 ** e for e in range(0, 7) for m in (1, 2, 5))


def measure_job(project: Project, *, on_event: EventCallback, control: Control) -> LearningCurve:
    """Measure (and save) the curve with the default recipe (runs in a worker: torch is imported here)."""
    from core.evaluation.learning import current_curve

    return current_curve(project, refresh=True, on_event=on_event, control=control)


class LearningCurvePlot(pg.PlotWidget):
    """Points with error bars and the fitted power law, per city and overall, on a log photo axis."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.plot_item = self.getPlotItem()
        self.plot_item.setLogMode(x=True, y=False)
        self.plot_item.showGrid(x=True, y=True, alpha=0.2)
        self.plot_item.setLabel("bottom", "training photos (per fold; log scale)")
        self.plot_item.setLabel("left", "F1 (out of fold)")
        self.plot_item.setYRange(0, 1)
        self.legend = self.plot_item.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.setMinimumSize(320, 220)

    def show_curve(self, curve: LearningCurve | None) -> None:
        self.plot_item.clear()
        self.legend.clear()
        if curve is None:
            return
        low, high = min(min(p.city_images.values()) for p in curve.points) * 0.8, 4 * curve.labelled
        self.plot_item.getAxis("bottom").setTicks([[(math.log10(v), f"{v:g}") for v in TICKS if low <= v <= high], []])
        series = [("macro F1", MACRO_COLOR, 2.5, [p.images for p in curve.points], [p.macro_f1 for p in curve.points],
                   curve.overall, curve.labelled)]
        for k, slug in enumerate(curve.cities):
            series.append((curve.names.get(slug, slug), OVERLAY_COLORS[k % len(OVERLAY_COLORS)], 1.2,
                           [p.city_images[slug] for p in curve.points], [p.city_f1[slug] for p in curve.points],
                           curve.city_law(slug), curve.city_labelled[slug]))
        for name, color, width, ns, intervals, law, labelled in series:
            x = np.array(ns, dtype=float)
            y = np.array([i.value for i in intervals])
            # Error bars are drawn in view coordinates, which are log10(x) on a log axis.
            self.plot_item.addItem(pg.ErrorBarItem(
                x=np.log10(x), y=y, top=np.array([i.high for i in intervals]) - y,
                bottom=y - np.array([i.low for i in intervals]), beam=0.02, pen=pg.mkPen(color, width=1)))
            self.plot_item.plot(x, y, pen=None, symbol="o", symbolSize=7 if width > 2 else 5,
                                symbolBrush=pg.mkBrush(color), symbolPen=None, name=markup_safe(name))
            fit_x = np.geomspace(max(1.0, x.min() * 0.8), 4 * labelled, 40)
            self.plot_item.plot(fit_x, [law.f1(n) for n in fit_x], pen=pg.mkPen(color, width=width,
                                                                                 style=Qt.PenStyle.DashLine))
        self.plot_item.setYRange(0, 1)


def outlook_html(curve: LearningCurve) -> str:
    """The headline and one line per city, worst first: F1 now (with its interval) and at 2x / 4x."""
    now = curve.points[-1]
    lines = [f"<b>Macro F1 {now.macro_f1.value:.2f}</b> [{now.macro_f1.low:.2f}, {now.macro_f1.high:.2f}] "
             f"({curve.folds}-fold grouped CV, {curve.labelled} labelled photos; test untouched); "
             f"~{curve.predicted_macro(2):.2f} with 2x photos, ~{curve.predicted_macro(4):.2f} with 4x."]
    for slug in sorted(curve.cities, key=lambda s: now.city_f1[s].value):
        f1 = now.city_f1[slug]
        lines.append(f"{html.escape(curve.names.get(slug, slug))}: {f1.value:.2f} now, "
                     f"~{curve.predicted_f1(slug, 2):.2f} with 2x photos, ~{curve.predicted_f1(slug, 4):.2f} with 4x")
    return "<br>".join(lines)


class LearningCurvePanel(QWidget):
    """Measure button, progress, the plot and the outlook."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.curve: LearningCurve | None = None
        self._job: JobHandle | None = None
        self.measure_button = QPushButton("Measure learning curve")
        self.measure_button.setToolTip("Grouped 5-fold CV of the default probe on 25/50/75/100% of the labelled "
                                       "places (train + val; the test split is never read), from the cached "
                                       "features: seconds once a probe was trained")
        self.measure_button.clicked.connect(self.measure)
        self.progress, self.cancel_button = job_progress(200, self.cancel, "Stop measuring: the saved curve stays")
        self.status = QLabel("How F1 grows with the photos: measure it to see which cities more photos would help.")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.plot = LearningCurvePlot()
        top = QHBoxLayout()
        top.addWidget(self.measure_button)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.status)
        context.project_changed.connect(lambda _p: self.load_saved())

    def showEvent(self, event: Any) -> None:
        if self.curve is None:
            self.load_saved()
        super().showEvent(event)

    def load_saved(self) -> None:
        """Show the project's saved curve while it still matches its labelled photos (torch-free, quick)."""
        try:
            curve = load_current_curve(self.context.project)
        except GeoSpottrError as exc:
            self.status.setText(html.escape(str(exc)))
            return
        self.show_curve(curve)

    def show_curve(self, curve: LearningCurve | None) -> None:
        self.curve = curve
        self.plot.show_curve(curve)
        if curve is not None:
            self.status.setText(outlook_html(curve))

    def measure(self) -> None:
        if self._job is not None and self._job.running:
            return
        self.measure_button.setEnabled(False)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText("Measuring the learning curve…")
        self._job = start_job(self, measure_job, self.context.project, title="Learning curve", workspace="Evaluate",
                              on_event=self._on_event, on_finished=self._finished, on_failed=self._failed,
                              on_cancelled=self._cancelled, needs_torch=True)

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _cancelled(self) -> None:
        self._ended()
        self.status.setText("Cancelled: the saved curve, if any, is unchanged.")

    def _on_event(self, event: Event) -> None:
        if event.kind == PROGRESS and event.total:
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done or 0)
            self.progress.setFormat(f"{event.message[:40]} %v/%m")

    def _ended(self) -> None:
        self.measure_button.setEnabled(True)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def _finished(self, curve: LearningCurve) -> None:
        self._ended()
        self.show_curve(curve)

    def _failed(self, message: str) -> None:
        self._ended()
        self.status.setText(f"<span style='color:#b00'>{html.escape(message)}</span>")
