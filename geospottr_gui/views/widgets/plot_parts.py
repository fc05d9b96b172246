"""The pieces of the training plots that are not the widget: the axis that ticks whole epochs, the
nearest-point read-out, number formats for it, the colours overlaid runs take, and one curve's settings
(clipped to the view, peak-decimated). Split out of `plots` so each file stays a size one can read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg

#: Overlay colours: hues not used by the current run's curves (blue, orange, green).
OVERLAY_COLORS = ((148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34),
                  (23, 190, 207), (214, 39, 40))
#: The "X axis" choices, in `X_AXES` order.
X_AXIS_NAMES = {"iteration": "Iteration", "epoch": "Epoch", "time": "Wall time"}
#: Wall time is drawn in minutes once the longest run shown passes this many seconds.
MINUTES_AFTER_S = 600.0


class EpochAxis(pg.AxisItem):
    """An axis that ticks whole numbers only (there is no epoch 1.5, no iteration 7.5); `whole` False
    (a wall-time axis) ticks as pyqtgraph does."""

    whole = True

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N803
        if not self.whole:
            return super().tickValues(minVal, maxVal, size)
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


def format_value(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.4f}".rstrip("0").rstrip(".")


def format_x(axis: str, x: float) -> str:
    """The read-out's x: "iteration 1,200", "epoch 2" or "epoch 2.35", "wall time (s) 84"."""
    if axis == "epoch":
        return f"epoch {x:.0f}" if float(x).is_integer() else f"epoch {x:.2f}"
    if axis.startswith("wall time"):
        return f"{axis} {format_value(x)}"
    return f"{axis} {x:,.0f}"


def finite_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies of the points with a known x (a point without a time has no place on a wall-time axis).

    pyqtgraph keeps references to the arrays it gets: copies, so later appends cannot reallocate underneath
    a paint."""
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    keep = np.isfinite(x)
    return (x.copy(), y.copy()) if keep.all() else (x[keep], y[keep])


def new_curve(plot: pg.PlotItem, pen: Any, name: str | None = None, symbol: str | None = None) -> pg.PlotDataItem:
    item = plot.plot([], [], pen=pen, name=name, symbol=symbol, symbolSize=5,
                     symbolBrush=pen.color() if symbol else None, symbolPen=None)
    # Only the visible x-range is drawn, decimated to about one min/max pair per pixel column.
    item.setClipToView(True)
    item.setDownsampling(auto=True, method="peak")
    return item
