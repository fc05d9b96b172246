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
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from core.training.metrics import EpochMetrics, Iteration
from core.training.runs import ResumePoint, short_run_name
from core.training.series import DEFAULT_SMOOTHING, EmaSmoother, RunSeries

#: Redraw period; faster buys nothing visible and costs CPU the training needs.
REDRAW_MS = 100
#: Overlay colours: hues not used by the current run's curves (blue, orange, green).
OVERLAY_COLORS = ((148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34),
                  (23, 190, 207), (214, 39, 40))


class EpochAxis(pg.AxisItem):
    """An axis that ticks whole numbers only (there is no epoch 1.5)."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N803
        levels = [(spacing, [v for v in values if float(v).is_integer()])
                  for spacing, values in super().tickValues(minVal, maxVal, size) if spacing >= 1]
        levels = [(spacing, values) for spacing, values in levels if values]
        if not levels:  # a range narrower than one epoch: tick the whole numbers inside it
            levels = [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]
        return levels


def nearest_value(x: np.ndarray, y: np.ndarray, at: float) -> tuple[float, float] | None:
    """The point of the curve (x increasing) nearest to `at` along x, or None for an empty curve."""
    if not len(x):
        return None
    i = int(np.clip(np.searchsorted(x, at), 1, len(x) - 1)) if len(x) > 1 else 0
    if len(x) > 1 and abs(x[i - 1] - at) <= abs(x[i] - at):
        i -= 1
    return float(x[i]), float(y[i])


def _format(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.4f}".rstrip("0").rstrip(".")


def _curve(plot: pg.PlotItem, pen: Any, name: str | None = None, symbol: str | None = None) -> pg.PlotDataItem:
    item = plot.plot([], [], pen=pen, name=name, symbol=symbol, symbolSize=5,
                     symbolBrush=pen.color() if symbol else None, symbolPen=None)
    # Only the visible x-range is drawn, decimated to about one min/max pair per pixel column.
    item.setClipToView(True)
    item.setDownsampling(auto=True, method="peak")
    return item


class TrainingPlots(QWidget):
    """Four linked plots of the current run plus optional overlays of earlier runs."""

    smoothing_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background="w", foreground="k")
        self.current = RunSeries(label="current")
        self._smooth = EmaSmoother()
        self._smooth_version = 0
        self._overlays: dict[str, tuple[RunSeries, dict[str, pg.PlotDataItem]]] = {}
        self._dirty = False
        self.redraws = 0

        self.graphics = pg.GraphicsLayoutWidget()
        g = self.graphics
        self.loss_plot = g.addPlot(row=0, col=0, title="Training loss (per iteration)")
        self.val_loss_plot = g.addPlot(row=0, col=1, title="Loss per epoch", axisItems={"bottom": EpochAxis("bottom")})
        self.acc_plot = g.addPlot(row=1, col=0, title="Accuracy per epoch", axisItems={"bottom": EpochAxis("bottom")})
        self.lr_plot = g.addPlot(row=1, col=1, title="Learning rate")
        for plot, xlabel in ((self.loss_plot, "iteration"), (self.val_loss_plot, "epoch"),
                             (self.acc_plot, "epoch"), (self.lr_plot, "iteration")):
            # No grid: pyqtgraph's translucent grid lines cost ~50 ms per paint on a software raster.
            plot.setLabel("bottom", xlabel)
        # The legend has its own row under the plots: inside a plot it would hide the curves it names.
        self.legend = pg.LegendItem(labelTextSize="8pt", colCount=4, frame=False)
        g.addItem(self.legend, row=2, col=0, colspan=2)
        self.acc_plot.setYRange(0, 1, padding=0.02)
        self.lr_plot.setLogMode(y=False)

        blue = pg.mkColor(31, 119, 180)
        orange = pg.mkColor(255, 127, 14)
        faint = pg.mkColor(31, 119, 180, 60)
        self.raw_curve = _curve(self.loss_plot, pg.mkPen(faint, width=1), "raw")
        self.smooth_curve = _curve(self.loss_plot, pg.mkPen(blue, width=2), "smoothed")
        self.epoch_train_loss = _curve(self.val_loss_plot, pg.mkPen(blue, width=2), "train", "o")
        self.epoch_val_loss = _curve(self.val_loss_plot, pg.mkPen(orange, width=2), "val", "o")
        self.train_acc_curve = _curve(self.acc_plot, pg.mkPen(blue, width=2), "train", "o")
        self.val_acc_curve = _curve(self.acc_plot, pg.mkPen(orange, width=2), "val", "o")
        self.lr_curve = _curve(self.lr_plot, pg.mkPen(pg.mkColor(44, 160, 44), width=2), "lr")
        # Train / val use the same pens in every plot: one entry each says it for all of them.
        for item, name in ((self.raw_curve, "loss (raw)"), (self.smooth_curve, "loss (smoothed)"),
                           (self.epoch_train_loss, "train"), (self.epoch_val_loss, "val"),
                           (self.lr_curve, "learning rate")):
            self.legend.addItem(item, name)

        self.log_loss = QCheckBox("Log loss")
        self.log_loss.setToolTip("Both loss plots on a logarithmic y axis (late training detail)")
        self.log_loss.toggled.connect(self.set_log_loss)
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
        controls.addWidget(self.log_loss)
        controls.addWidget(reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)
        self._on_slider(self.slider.value())

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

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

    def add_iteration(self, point: Iteration) -> None:
        self.current.add_iteration(point)
        self._dirty = True

    def add_epoch(self, epoch: EpochMetrics) -> None:
        self.current.add_epoch(epoch)
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
            smooth = EmaSmoother(self.smoothing)
            smooth.extend(series.loss.view)
            items = {
                "loss": _curve(self.loss_plot, pen),
                "val_loss": _curve(self.val_loss_plot, pen, symbol="t"),
                "val_acc": _curve(self.acc_plot, pen, symbol="t"),
                "lr": _curve(self.lr_plot, pen),
            }
            # One legend entry per overlaid run (its val curves carry the triangle markers).
            self.legend.addItem(items["loss"], short_run_name(series.label or run_id))
            items["loss"].setData(series.iteration.view.copy(), smooth.out.view.copy())
            items["val_loss"].setData(series.epoch.view.copy(), series.val_loss.view.copy())
            items["val_acc"].setData(series.epoch.view.copy(), series.val_acc.view.copy())
            items["lr"].setData(series.iteration.view.copy(), series.lr.view.copy())
            self._overlays[run_id] = (series, items)

    def overlay_ids(self) -> list[str]:
        return list(self._overlays)

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
        return {
            self.loss_plot: ("iteration", [("loss", self.raw_curve), ("smoothed", self.smooth_curve)]),
            self.val_loss_plot: ("epoch", [("train loss", self.epoch_train_loss), ("val loss", self.epoch_val_loss)]),
            self.acc_plot: ("epoch", [("train acc", self.train_acc_curve), ("val acc", self.val_acc_curve)]),
            self.lr_plot: ("iteration", [("lr", self.lr_curve)]),
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
                parts.append(f"{name} {_format(found[1])}")
        if at is None:
            return "No points here yet."
        return f"{axis} {at:,.0f}: " + " · ".join(parts)

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
            smooth = EmaSmoother(alpha)
            smooth.extend(series.loss.view)
            items["loss"].setData(series.iteration.view.copy(), smooth.out.view.copy())
        self._dirty = True
        self.smoothing_changed.emit(alpha)

    def flush(self) -> None:
        """Hand the buffers to pyqtgraph if anything changed since the last redraw."""
        if not self._dirty:
            return
        self._dirty = False
        cur = self.current
        if cur.version != self._smooth_version or len(self._smooth.out) > len(cur.loss):
            self._smooth.reset()
            self._smooth_version = cur.version
        done = len(self._smooth.out)
        if done < len(cur.loss):
            self._smooth.extend(cur.loss.view[done:])
        # pyqtgraph keeps references to the arrays it gets; hand it copies so later appends cannot
        # reallocate underneath a paint.
        x = cur.iteration.view.copy()
        self.raw_curve.setData(x, cur.loss.view.copy())
        self.smooth_curve.setData(x, self._smooth.out.view.copy())
        self.lr_curve.setData(x, cur.lr.view.copy())
        ex = cur.epoch.view.copy()
        self.epoch_train_loss.setData(ex, cur.train_loss.view.copy())
        self.epoch_val_loss.setData(ex, cur.val_loss.view.copy())
        self.train_acc_curve.setData(ex, cur.train_acc.view.copy())
        self.val_acc_curve.setData(ex, cur.val_acc.view.copy())
        self.redraws += 1

    def smoothed_loss(self) -> np.ndarray:
        self.flush()
        return self._smooth.out.view.copy()
