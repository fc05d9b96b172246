"""Live training curves: loss per iteration (raw faint, EMA-smoothed on top), val loss, accuracy, LR.

Points arrive many times a second while the run's total can reach 100k iterations, so the widget never
redraws per point: `add_iteration` / `add_epoch` only append to the growable numpy buffers of a
`core.training.series.RunSeries` and mark the plots dirty; a 10 Hz timer hands whole arrays to pyqtgraph, whose ``clipToView`` + peak downsampling
draw at most a few thousand segments whatever the length. The smoothed curve is extended incrementally
(only the new points are filtered), and recomputed in full only when the slider moves.

Earlier runs can be overlaid (dashed, one colour per run) for comparison; their series are read back
from ``metrics.jsonl`` by the runs list. One legend, in its own row under the plots (never over a curve),
names the current run's curves and each overlay by its short run name; epoch axes tick whole epochs.

Reading the curves as TensorBoard users expect: hovering a plot reads out the values of its curves at
the pointer (the nearest point of each), the wheel zooms and dragging pans (pyqtgraph's view boxes),
"Reset view" fits every plot to its data again, and "Log loss" puts both loss plots on a log scale.

"X axis" draws every plot of the panel, overlays included, against iterations, epochs (fractional for the
per-iteration curves: iteration / steps per epoch) or wall time since the run's first iteration (seconds,
minutes past ten; the wait before a resume left out, see `RunSeries.elapsed`). The choice is remembered
(`settings.PLOTS_X_AXIS`). A curve that cannot be placed on the chosen axis yet (no steps per epoch or no
times known) keeps its own axis, and its axis title says which.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from core.training.metrics import EpochMetrics, Iteration
from core.training.runs import ResumePoint, short_run_name
from core.training.series import DEFAULT_SMOOTHING, X_AXES, EmaSmoother, RunSeries

from ...plaintext import markup_safe
from ...settings import PLOTS_X_AXIS
from .plot_parts import (
    MINUTES_AFTER_S,
    OVERLAY_COLORS,
    X_AXIS_NAMES,
    EpochAxis,
    finite_points,
    format_value,
    format_x,
    nearest_value,
    new_curve,
)

#: Redraw period; faster buys nothing visible and costs CPU the training needs.
REDRAW_MS = 100
#: Width a legend column needs (an entry like "12-07 10:56 efficientnet-lite-ensemble-probe" at 8 pt).
LEGEND_COLUMN_PX = 280


class TrainingPlots(QWidget):
    """Four linked plots of the current run plus optional overlays of earlier runs."""

    smoothing_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background="w", foreground="k")
        self._settings = settings if settings is not None else QSettings("GeoSpottr", "GeoSpottr")
        stored = PLOTS_X_AXIS.get(self._settings)
        self.x_axis = stored if stored in X_AXES else "iteration"
        self._time_scale = 1.0  # seconds per unit of a wall-time axis (60: minutes)
        self.current = RunSeries(label="current")
        self._smooth = EmaSmoother()
        self._smooth_version = 0
        self._overlays: dict[str, tuple[RunSeries, dict[str, pg.PlotDataItem]]] = {}
        self._dirty = False
        self.redraws = 0

        self.graphics = pg.GraphicsLayoutWidget()
        g = self.graphics
        self.loss_plot = g.addPlot(row=0, col=0, title="Training loss (per iteration)",
                                   axisItems={"bottom": EpochAxis("bottom")})
        self.val_loss_plot = g.addPlot(row=0, col=1, title="Loss per epoch", axisItems={"bottom": EpochAxis("bottom")})
        self.acc_plot = g.addPlot(row=1, col=0, title="Accuracy per epoch", axisItems={"bottom": EpochAxis("bottom")})
        self.lr_plot = g.addPlot(row=1, col=1, title="Learning rate", axisItems={"bottom": EpochAxis("bottom")})
        # No grid: pyqtgraph's translucent grid lines cost ~50 ms per paint on a software raster.
        self._axis_names = {plot: "" for plot in self._plots()}
        # The legend has its own row under the plots: inside a plot it would hide the curves it names.
        self.legend = pg.LegendItem(labelTextSize="8pt", colCount=4, frame=False)
        g.addItem(self.legend, row=2, col=0, colspan=2)
        self.acc_plot.setYRange(0, 1, padding=0.02)
        self.lr_plot.setLogMode(y=False)

        blue = pg.mkColor(31, 119, 180)
        orange = pg.mkColor(255, 127, 14)
        faint = pg.mkColor(31, 119, 180, 60)
        self.raw_curve = new_curve(self.loss_plot, pg.mkPen(faint, width=1), "raw")
        self.smooth_curve = new_curve(self.loss_plot, pg.mkPen(blue, width=2), "smoothed")
        self.epoch_train_loss = new_curve(self.val_loss_plot, pg.mkPen(blue, width=2), "train", "o")
        self.epoch_val_loss = new_curve(self.val_loss_plot, pg.mkPen(orange, width=2), "val", "o")
        self.train_acc_curve = new_curve(self.acc_plot, pg.mkPen(blue, width=2), "train", "o")
        self.val_acc_curve = new_curve(self.acc_plot, pg.mkPen(orange, width=2), "val", "o")
        self.lr_curve = new_curve(self.lr_plot, pg.mkPen(pg.mkColor(44, 160, 44), width=2), "lr")
        # Train / val use the same pens in every plot: one entry each says it for all of them.
        for item, name in ((self.raw_curve, "loss (raw)"), (self.smooth_curve, "loss (smoothed)"),
                           (self.epoch_train_loss, "train"), (self.epoch_val_loss, "val"),
                           (self.lr_curve, "learning rate")):
            self.legend.addItem(item, name)

        self.log_loss = QCheckBox("Log loss")
        self.log_loss.setToolTip("Both loss plots on a logarithmic y axis (late training detail)")
        self.log_loss.toggled.connect(self.set_log_loss)
        self.x_axis_combo = QComboBox()
        for axis in X_AXES:
            self.x_axis_combo.addItem(X_AXIS_NAMES[axis], axis)
        self.x_axis_combo.setCurrentIndex(X_AXES.index(self.x_axis))
        self.x_axis_combo.setToolTip("Draw every plot against iterations, epochs or wall time since the start")
        self.x_axis_combo.currentIndexChanged.connect(lambda i: self.set_x_axis(X_AXES[i]))
        reset = QPushButton("Reset view")
        reset.setToolTip("Fit every plot to its data again after zooming (wheel) or panning (drag)")
        reset.clicked.connect(self.reset_view)
        self.readout = QLabel("Hover a plot to read its values.")
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        self.readout.setStyleSheet("color: #444")
        self.graphics.scene().sigMouseMoved.connect(self._hover)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 99)  # alpha = value / 100, capped below 1
        self.slider.setValue(int(DEFAULT_SMOOTHING * 100))
        self.slider.setToolTip("Exponential smoothing of the loss curve (0 = raw)")
        self.slider_label = QLabel()
        self.slider.valueChanged.connect(self._on_slider)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.slider_label)
        controls.addStretch(1)
        controls.addWidget(QLabel("X axis"))
        controls.addWidget(self.x_axis_combo)
        controls.addWidget(self.log_loss)
        controls.addWidget(reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)
        self._on_slider(self.slider.value())
        self._label_axes()

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    def resizeEvent(self, event) -> None:
        """The legend takes as many columns as fit (one per `LEGEND_COLUMN_PX`, at most 4): a fixed four
        made the row, with a long overlaid run name, wider than the panel at 1024 px, and the right-hand
        plots were cut off."""
        super().resizeEvent(event)
        self.legend.setColumnCount(max(1, min(4, self.width() // LEGEND_COLUMN_PX)))

    # ---- data in --------------------------------------------------------------------------------------

    @property
    def smoothing(self) -> float:
        return self._smooth.alpha

    def clear(self) -> None:
        """Forget the current run's points (a new run starts): its plots start on fresh axes, not on the
        range a zoom or the previous run left."""
        self.current = RunSeries(label="current")
        self._smooth.reset()
        self._dirty = True
        self.reset_view()

    def set_current(self, series: RunSeries) -> None:
        """Show a run read back from disk (resuming it continues these curves), on axes fitted to it."""
        self.current = series
        self._smooth.reset()
        self._dirty = True
        self.reset_view()

    def add_iteration(self, point: Iteration, time: float | None = None) -> None:
        """One iteration; `time`: its event's wall-clock time (for the wall-time axis)."""
        self.current.add_iteration(point, time)
        self._dirty = True

    def add_epoch(self, epoch: EpochMetrics, time: float | None = None) -> None:
        self.current.add_epoch(epoch, time)
        self._dirty = True

    def note_iteration(self, point: Iteration) -> None:
        """An iteration already plotted from a bulk history: only its steps per epoch are news."""
        if point.steps and point.steps != self.current.steps:
            self.current.note_steps(point.steps)
            self._dirty = True

    def note_resume(self, time: float) -> None:
        """The run was resumed at `time`: the wait before is left off the wall-time axis."""
        self.current.note_resume(time)
        self._dirty = True

    def drop_redone(self, point: ResumePoint) -> None:
        """The run was resumed from `point`: drop the points after it, which it is about to redo."""
        self.current.drop_redone(point)
        self._dirty = True

    def set_overlays(self, runs: Mapping[str, RunSeries]) -> None:
        """Draw these earlier runs (by run id) dashed behind the current one; others are removed."""
        for run_id in list(self._overlays):
            if run_id not in runs:
                items = self._overlays.pop(run_id)[1]
                self.legend.removeItem(items["loss"])
                for item in items.values():
                    for owner in (self.loss_plot, self.val_loss_plot, self.acc_plot, self.lr_plot):
                        if item in owner.items:
                            owner.removeItem(item)
        for index, (run_id, series) in enumerate(runs.items()):
            if run_id in self._overlays:
                continue
            color = pg.mkColor(*OVERLAY_COLORS[index % len(OVERLAY_COLORS)])
            pen = pg.mkPen(color, width=1.5, style=Qt.PenStyle.DashLine)
            items = {
                "loss": new_curve(self.loss_plot, pen),
                "val_loss": new_curve(self.val_loss_plot, pen, symbol="t"),
                "val_acc": new_curve(self.acc_plot, pen, symbol="t"),
                "lr": new_curve(self.lr_plot, pen),
            }
            # One legend entry per overlaid run (its val curves carry the triangle markers).
            self.legend.addItem(items["loss"], markup_safe(short_run_name(series.label or run_id)))
            self._overlays[run_id] = (series, items)
            self._draw_overlay(series, items)
        self._dirty = True  # the wall-time unit may follow the longest run

    def _draw_overlay(self, series: RunSeries, items: dict[str, pg.PlotDataItem]) -> None:
        """An overlaid run's curves on the current x axis (none where that run cannot be placed on it)."""
        it_axis, ep_axis = self._effective_axes()
        smooth = EmaSmoother(self.smoothing)
        smooth.extend(series.loss.view)
        empty = np.empty(0)
        ix = self._scaled(series.iteration_x(it_axis), it_axis) if self._fits(series, it_axis, True) else None
        ex = self._scaled(series.epoch_x(ep_axis), ep_axis) if self._fits(series, ep_axis, False) else None
        items["loss"].setData(*finite_points(ix, smooth.out.view) if ix is not None else (empty, empty))
        items["lr"].setData(*finite_points(ix, series.lr.view) if ix is not None else (empty, empty))
        items["val_loss"].setData(*finite_points(ex, series.val_loss.view) if ex is not None else (empty, empty))
        items["val_acc"].setData(*finite_points(ex, series.val_acc.view) if ex is not None else (empty, empty))

    def overlay_ids(self) -> list[str]:
        return list(self._overlays)

    # ---- x axis ------------------------------------------------------------------------------------------

    def set_x_axis(self, axis: str) -> None:
        """Draw every plot against `axis` (one of `X_AXES`), remember the choice, fit the plots to it."""
        if axis not in X_AXES:
            raise ValueError(f"x axis {axis!r}: one of {', '.join(X_AXES)}")
        if self.x_axis_combo.currentIndex() != X_AXES.index(axis):
            self.x_axis_combo.setCurrentIndex(X_AXES.index(axis))  # comes back here through the signal
            return
        changed = axis != self.x_axis
        self.x_axis = axis
        PLOTS_X_AXIS.set(self._settings, axis)
        if changed:
            self._dirty = True
            self.flush(redraw_overlays=True)
            self.reset_view()

    def _plots(self) -> tuple[pg.PlotItem, ...]:
        return (self.loss_plot, self.val_loss_plot, self.acc_plot, self.lr_plot)

    def _effective_axes(self) -> tuple[str, str]:
        """(axis of the per-iteration plots, axis of the per-epoch plots): the chosen one where the current
        run (or, while it is empty, the first overlay) can be placed on it, else each plot's own."""
        runs = [self.current] + [series for series, _items in self._overlays.values()]
        ref = next((series for series in runs if len(series.iteration) or len(series.epoch)), self.current)
        it_axis = self.x_axis if self._fits(ref, self.x_axis, True) else "iteration"
        ep_axis = self.x_axis if self._fits(ref, self.x_axis, False) else "epoch"
        return it_axis, ep_axis

    @staticmethod
    def _fits(series: RunSeries, axis: str, per_iteration: bool) -> bool:
        own = "iteration" if per_iteration else "epoch"
        if axis == own:
            return True
        return series.has_axis("time") if axis == "time" else series.steps > 0

    def _scaled(self, x: np.ndarray, axis: str) -> np.ndarray:
        return x / self._time_scale if axis == "time" else x

    def _choose_time_scale(self) -> float:
        if self.x_axis != "time":
            return self._time_scale
        longest = 0.0
        for series in [self.current] + [series for series, _items in self._overlays.values()]:
            if series.has_axis("time"):
                span = series.elapsed(series.wall.view[-1:])
                longest = max(longest, float(np.nan_to_num(span, nan=0.0).max(initial=0.0)))
        return 60.0 if longest > MINUTES_AFTER_S else 1.0

    def _axis_title(self, axis: str) -> str:
        if axis == "time":
            return "wall time (min)" if self._time_scale == 60.0 else "wall time (s)"
        return axis

    def _label_axes(self) -> bool:
        """Axis titles and tick rules for the axes in use; True when any changed (overlays need redrawing)."""
        it_axis, ep_axis = self._effective_axes()
        changed = False
        for plot, axis in ((self.loss_plot, it_axis), (self.lr_plot, it_axis), (self.val_loss_plot, ep_axis),
                           (self.acc_plot, ep_axis)):
            title = self._axis_title(axis)
            if self._axis_names[plot] != title:
                self._axis_names[plot] = title
                plot.getAxis("bottom").whole = axis != "time"
                plot.setLabel("bottom", title)
                changed = True
        return changed

    # ---- reading -----------------------------------------------------------------------------------------

    def set_log_loss(self, on: bool) -> None:
        """Both loss plots on a log y axis (a loss is positive; a zero or NaN point is simply not drawn)."""
        for plot in (self.loss_plot, self.val_loss_plot):
            plot.setLogMode(y=on)
            plot.enableAutoRange()

    def reset_view(self) -> None:
        """Undo zooming and panning: every plot fits its data again (accuracy keeps its 0-1 range)."""
        for plot in (self.loss_plot, self.val_loss_plot, self.lr_plot):
            plot.enableAutoRange()
        self.acc_plot.enableAutoRange(axis="x")
        self.acc_plot.setYRange(0, 1, padding=0.02)

    def _plot_curves(self) -> dict[Any, tuple[str, list[tuple[str, pg.PlotDataItem]]]]:
        """Per plot: its x-axis name and its (name, curve) pairs, for the read-out."""
        names = self._axis_names
        return {
            self.loss_plot: (names[self.loss_plot], [("loss", self.raw_curve), ("smoothed", self.smooth_curve)]),
            self.val_loss_plot: (names[self.val_loss_plot], [("train loss", self.epoch_train_loss),
                                                             ("val loss", self.epoch_val_loss)]),
            self.acc_plot: (names[self.acc_plot], [("train acc", self.train_acc_curve), ("val acc", self.val_acc_curve)]),
            self.lr_plot: (names[self.lr_plot], [("lr", self.lr_curve)]),
        }

    def read_out(self, plot: pg.PlotItem, x: float) -> str:
        """What the read-out says with the pointer at `x` (data coordinates) over `plot`."""
        axis, curves = self._plot_curves()[plot]
        parts, at = [], None
        for name, curve in curves:
            xs, ys = curve.getData()
            found = nearest_value(np.asarray(xs if xs is not None else []), np.asarray(ys if ys is not None else []), x)
            if found is not None:
                at = found[0] if at is None else at
                parts.append(f"{name} {format_value(found[1])}")
        if at is None:
            return "No points here yet."
        return f"{format_x(axis, at)}: " + " · ".join(parts)

    def _hover(self, pos: QPointF) -> None:
        for plot in self._plot_curves():
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                self.readout.setText(self.read_out(plot, x))
                return

    # ---- drawing ------------------------------------------------------------------------------------------

    def _on_slider(self, value: int) -> None:
        alpha = value / 100.0
        self.slider_label.setText(f"{alpha:.2f}")
        self._smooth.reset(alpha)
        for series, items in self._overlays.values():
            self._draw_overlay(series, items)
        self._dirty = True
        self.smoothing_changed.emit(alpha)

    def flush(self, redraw_overlays: bool = False) -> None:
        """Hand the buffers to pyqtgraph if anything changed since the last redraw."""
        if not self._dirty:
            return
        self._dirty = False
        scale = self._choose_time_scale()
        if scale != self._time_scale:
            self._time_scale, redraw_overlays = scale, True
        if self._label_axes() or redraw_overlays:
            for series, items in self._overlays.values():
                self._draw_overlay(series, items)
        it_axis, ep_axis = self._effective_axes()
        cur = self.current
        if cur.version != self._smooth_version or len(self._smooth.out) > len(cur.loss):
            self._smooth.reset()
            self._smooth_version = cur.version
        done = len(self._smooth.out)
        if done < len(cur.loss):
            self._smooth.extend(cur.loss.view[done:])
        # pyqtgraph keeps references to the arrays it gets; hand it copies so later appends cannot
        # reallocate underneath a paint.
        x = self._scaled(cur.iteration_x(it_axis), it_axis)
        self.raw_curve.setData(*finite_points(x, cur.loss.view))
        self.smooth_curve.setData(*finite_points(x, self._smooth.out.view))
        self.lr_curve.setData(*finite_points(x, cur.lr.view))
        ex = self._scaled(cur.epoch_x(ep_axis), ep_axis)
        self.epoch_train_loss.setData(*finite_points(ex, cur.train_loss.view))
        self.epoch_val_loss.setData(*finite_points(ex, cur.val_loss.view))
        self.train_acc_curve.setData(*finite_points(ex, cur.train_acc.view))
        self.val_acc_curve.setData(*finite_points(ex, cur.val_acc.view))
        self.redraws += 1

    def smoothed_loss(self) -> np.ndarray:
        self.flush()
        return self._smooth.out.view.copy()
