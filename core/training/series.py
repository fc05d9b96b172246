"""A run's curves as numpy arrays: per-iteration loss and LR, per-epoch losses and accuracies.

Pure numpy (no Qt), so the desktop app's live plots, a terminal follower of ``metrics.jsonl`` and tests
share one way to collect points: `RunSeries` appends typed payloads (`core.training.metrics`) to
growable buffers, and `RunSeries.from_records` rebuilds a run from its metrics.jsonl records.
`EmaSmoother` is the loss curve's smoothing, extended incrementally as points arrive.

Each point also keeps the wall-clock time of its record, so a curve can be drawn against iterations,
fractional epochs (``iteration / steps``) or the run's wall time (`RunSeries.iteration_x`,
`RunSeries.epoch_x`). Wall time counts from the first iteration; the time a stopped run spent waiting to be
resumed, or a run spent paused (each ends with a ``resume`` record, `note_resume`), is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from ..events import Kind
from .metrics import EpochMetrics, Iteration

if TYPE_CHECKING:
    from .runs import ResumePoint

#: The x axes a run's curves can be drawn against.
X_AXES = ("iteration", "epoch", "time")

#: Default EMA weight of the previous smoothed value (TensorBoard's 0.6 is too jumpy for per-batch loss).
DEFAULT_SMOOTHING = 0.9


class Buffer:
    """An append-only float array that grows by doubling, so appending n points costs O(n) overall."""

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=np.float64)
        self._n = 0

    def append(self, value: float) -> None:
        if self._n == len(self._data):
            self._data = np.resize(self._data, 2 * len(self._data))
        self._data[self._n] = value
        self._n += 1

    def extend(self, values: Iterable[float]) -> None:
        arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
        need = self._n + len(arr)
        if need > len(self._data):
            self._data = np.resize(self._data, max(need, 2 * len(self._data)))
        self._data[self._n:need] = arr
        self._n = need

    def clear(self) -> None:
        self._n = 0

    def truncate(self, n: int) -> None:
        self._n = min(self._n, max(0, n))

    def __len__(self) -> int:
        return self._n

    @property
    def view(self) -> np.ndarray:
        """The filled part (a view: copy it before keeping it past the next append)."""
        return self._data[: self._n]


class EmaSmoother:
    """Bias-corrected exponential moving average, extended incrementally as points arrive.

    ``s_t = a * s_(t-1) + (1 - a) * x_t`` divided by ``1 - a^t`` so the start is not dragged towards 0.
    Non-finite losses (a diverged batch) are carried over rather than poisoning every later value.
    """

    def __init__(self, alpha: float = DEFAULT_SMOOTHING) -> None:
        self.alpha = alpha
        self.out = Buffer()
        self._state = 0.0
        self._weight = 0.0

    def reset(self, alpha: float | None = None) -> None:
        if alpha is not None:
            self.alpha = alpha
        self.out.clear()
        self._state = self._weight = 0.0

    def extend(self, values: np.ndarray) -> None:
        a, state, weight = self.alpha, self._state, self._weight
        result = np.empty(len(values), dtype=np.float64)
        for i, x in enumerate(values.tolist()):
            if x == x and abs(x) != float("inf"):
                state = a * state + (1.0 - a) * x
                weight = a * weight + (1.0 - a)
            result[i] = state / weight if weight > 0 else float("nan")
        self._state, self._weight = state, weight
        self.out.extend(result)


@dataclass
class RunSeries:
    """Everything plotted for one run: per-iteration loss/LR and per-epoch losses/accuracies."""

    label: str = ""
    iteration: Buffer = field(default_factory=Buffer)
    loss: Buffer = field(default_factory=Buffer)
    lr: Buffer = field(default_factory=Buffer)
    epoch: Buffer = field(default_factory=Buffer)
    train_loss: Buffer = field(default_factory=Buffer)
    val_loss: Buffer = field(default_factory=Buffer)
    train_acc: Buffer = field(default_factory=Buffer)
    val_acc: Buffer = field(default_factory=Buffer)
    #: Wall-clock time (Unix seconds, NaN when unknown) of each iteration's and each epoch's record.
    wall: Buffer = field(default_factory=Buffer)
    epoch_wall: Buffer = field(default_factory=Buffer)
    #: Optimiser steps per epoch (from the iteration records; 0 while unknown).
    steps: int = 0
    #: Wall-clock times of the run's ``resume`` records: the gap before each is not training time.
    resumes: list[float] = field(default_factory=list)

    #: Bumped whenever points are dropped, so a smoothed copy knows to start over.
    version: int = 0

    def add_iteration(self, point: Iteration, time: float | None = None) -> None:
        """Append one iteration; one that is not after the last replaces the tail from there on.

        A resumed run repeats the iterations it did after its last checkpoint: keeping both copies would
        draw a zig-zag, so the curve shows what the resumed run actually did.
        """
        it = float(point.iteration)
        if len(self.iteration) and it <= self.iteration.view[-1]:
            keep = int(np.searchsorted(self.iteration.view, it))
            for buf in (self.iteration, self.loss, self.lr, self.wall):
                buf.truncate(keep)
            self.version += 1
        self.iteration.append(it)
        self.loss.append(_num(point.loss))
        self.lr.append(_num(point.lr))
        self.wall.append(_num(time))
        self.note_steps(point.steps)

    def note_steps(self, steps: int) -> None:
        """Steps per epoch, from an iteration record (one read for the info strip only, too)."""
        if steps and steps > 0:
            self.steps = int(steps)

    def note_resume(self, time: float) -> None:
        """The run was resumed at `time` (its ``resume`` record): the wait before it is not training time."""
        if math.isfinite(time) and time > 0 and time not in self.resumes:
            self.resumes.append(time)

    def extend_iterations(self, rows: np.ndarray) -> None:
        """`add_iteration` for many (iteration, loss, lr[, time]) rows at once (a history read in bulk, see
        `core.training.follow`): one array copy when they simply continue the curve, else point by point
        (a resumed run's repeated iterations)."""
        if not len(rows):
            return
        it = rows[:, 0]
        wall = rows[:, 3] if rows.shape[1] > 3 else np.full(len(rows), np.nan)
        if np.all(np.diff(it) > 0) and (not len(self.iteration) or it[0] > self.iteration.view[-1]):
            self.iteration.extend(it)
            self.loss.extend(rows[:, 1])
            self.lr.extend(rows[:, 2])
            self.wall.extend(wall)
            return
        for (iteration, loss, lr), when in zip(rows[:, :3].tolist(), wall.tolist()):
            self.add_iteration(Iteration(iteration=int(iteration), loss=loss, lr=lr), when)

    def add_epoch(self, epoch: EpochMetrics, time: float | None = None) -> None:
        ep = float(epoch.epoch)
        if len(self.epoch) and ep <= self.epoch.view[-1]:
            keep = int(np.searchsorted(self.epoch.view, ep))
            for buf in (self.epoch, self.train_loss, self.val_loss, self.train_acc, self.val_acc, self.epoch_wall):
                buf.truncate(keep)
        self.epoch.append(ep)
        self.epoch_wall.append(_num(time))
        for buf, value in ((self.train_loss, epoch.train_loss), (self.val_loss, epoch.val_loss),
                           (self.train_acc, epoch.train_acc), (self.val_acc, epoch.val_acc)):
            buf.append(_num(value))

    def drop_redone(self, point: "ResumePoint") -> None:
        """Forget the points a resumed run redoes (after the checkpoint it continues from), as soon as its
        ``resume`` record arrives: the curve then shows what the run actually did, not a stale tail."""
        for kind, axis, buffers in ((Kind.ITERATION, self.iteration, (self.iteration, self.loss, self.lr, self.wall)),
                                    (Kind.EPOCH, self.epoch, (self.epoch, self.train_loss, self.val_loss,
                                                              self.train_acc, self.val_acc, self.epoch_wall))):
            keep = int(np.count_nonzero(point.keeps(kind, axis.view)))  # the axis is increasing
            if keep < len(axis):
                for buf in buffers:
                    buf.truncate(keep)
                self.version += 1

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], label: str = "") -> "RunSeries":
        """Rebuild a run's curves from its metrics.jsonl records (``{"kind": ..., "data": {...}}``); a damaged
        record (a required field missing) is skipped."""
        series = cls(label=label)
        for rec in records:
            when = _num(rec.get("time"))
            if rec.get("kind") == Kind.RESUME:
                series.note_resume(when)
                continue
            point = _payload(rec)
            if isinstance(point, Iteration):
                series.add_iteration(point, when)
            elif isinstance(point, EpochMetrics):
                series.add_epoch(point, when)
        return series

    # ---- x axes -------------------------------------------------------------------------------------------

    def has_axis(self, axis: str) -> bool:
        """Whether the curves can be drawn against `axis` (`X_AXES`): an epoch axis for the per-iteration
        curves and an iteration axis for the per-epoch ones need the steps per epoch, wall time the times."""
        if axis == "time":
            return bool(np.isfinite(self.wall.view).any())
        return axis == "iteration" or self.steps > 0

    def iteration_x(self, axis: str) -> np.ndarray:
        """The per-iteration curves' x: iteration number, fractional epoch or seconds of wall time."""
        it = self.iteration.view
        if axis == "epoch" and self.steps:
            return it / self.steps
        if axis == "time" and self.has_axis("time"):
            return self.elapsed(self.wall.view)
        return it.copy()

    def epoch_x(self, axis: str) -> np.ndarray:
        """The per-epoch curves' x: the epoch's last iteration, the epoch number or its wall time."""
        ep = self.epoch.view
        if axis == "iteration" and self.steps:
            return ep * self.steps
        if axis == "time" and self.has_axis("time"):
            return self.elapsed(self.epoch_wall.view)
        return ep.copy()

    def elapsed(self, times: np.ndarray) -> np.ndarray:
        """Seconds of training time at each wall-clock `times` entry: since the first timed iteration, less
        the wait before each resume (the gap across it is replaced by one typical step). NaN stays NaN."""
        wall = self.wall.view[np.isfinite(self.wall.view)]
        if not len(wall):
            return np.full(len(times), np.nan)
        times = np.asarray(times, dtype=np.float64)
        out = times - wall[0]
        breaks = sorted({j for j in np.searchsorted(wall, self.resumes).tolist() if 0 < j < len(wall)})
        if breaks:
            steps = np.diff(wall)
            usual = np.delete(steps, [j - 1 for j in breaks])
            typical = float(np.median(usual)) if len(usual) else 0.0
            for j in breaks:
                out[times >= wall[j]] -= max(wall[j] - wall[j - 1] - typical, 0.0)
        return out


def _payload(record: Mapping[str, Any]) -> Iteration | EpochMetrics | None:
    for cls in (Iteration, EpochMetrics):
        found = cls.read([record])
        if found:
            return found[0]
    return None


def _num(value: Any, default: float = float("nan")) -> float:
    """A stored number as a float; NaN (a gap in the curve) for a value that is absent or not a number."""
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default
