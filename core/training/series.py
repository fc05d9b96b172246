"""A run's curves as numpy arrays: per-iteration loss and LR, per-epoch losses and accuracies.

Pure numpy (no Qt), so the desktop app's live plots, a terminal follower of ``metrics.jsonl`` and tests
share one way to collect points: `RunSeries` appends typed payloads (`core.training.metrics`) to
growable buffers, and `RunSeries.from_records` rebuilds a run from its metrics.jsonl records.
`EmaSmoother` is the loss curve's smoothing, extended incrementally as points arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from ..events import Kind
from .metrics import EpochMetrics, Iteration

if TYPE_CHECKING:
    from .runs import ResumePoint

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

    #: Bumped whenever points are dropped, so a smoothed copy knows to start over.
    version: int = 0

    def add_iteration(self, point: Iteration) -> None:
        """Append one iteration; one that is not after the last replaces the tail from there on.

        A resumed run repeats the iterations it did after its last checkpoint: keeping both copies would
        draw a zig-zag, so the curve shows what the resumed run actually did.
        """
        it = float(point.iteration)
        if len(self.iteration) and it <= self.iteration.view[-1]:
            keep = int(np.searchsorted(self.iteration.view, it))
            for buf in (self.iteration, self.loss, self.lr):
                buf.truncate(keep)
            self.version += 1
        self.iteration.append(it)
        self.loss.append(_num(point.loss))
        self.lr.append(_num(point.lr))

    def extend_iterations(self, rows: np.ndarray) -> None:
        """`add_iteration` for many (iteration, loss, lr) rows at once (a history read in bulk, see
        `core.training.follow`): one array copy when they simply continue the curve, else point by point
        (a resumed run's repeated iterations)."""
        if not len(rows):
            return
        it = rows[:, 0]
        if np.all(np.diff(it) > 0) and (not len(self.iteration) or it[0] > self.iteration.view[-1]):
            self.iteration.extend(it)
            self.loss.extend(rows[:, 1])
            self.lr.extend(rows[:, 2])
            return
        for iteration, loss, lr in rows.tolist():
            self.add_iteration(Iteration(iteration=iteration, loss=loss, lr=lr))

    def add_epoch(self, epoch: EpochMetrics) -> None:
        ep = float(epoch.epoch)
        if len(self.epoch) and ep <= self.epoch.view[-1]:
            keep = int(np.searchsorted(self.epoch.view, ep))
            for buf in (self.epoch, self.train_loss, self.val_loss, self.train_acc, self.val_acc):
                buf.truncate(keep)
        self.epoch.append(ep)
        for buf, value in ((self.train_loss, epoch.train_loss), (self.val_loss, epoch.val_loss),
                           (self.train_acc, epoch.train_acc), (self.val_acc, epoch.val_acc)):
            buf.append(_num(value))

    def drop_redone(self, point: "ResumePoint") -> None:
        """Forget the points a resumed run redoes (after the checkpoint it continues from), as soon as its
        ``resume`` record arrives: the curve then shows what the run actually did, not a stale tail."""
        for kind, axis, buffers in ((Kind.ITERATION, self.iteration, (self.iteration, self.loss, self.lr)),
                                    (Kind.EPOCH, self.epoch, (self.epoch, self.train_loss, self.val_loss,
                                                              self.train_acc, self.val_acc))):
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
            point = _payload(rec)
            if isinstance(point, Iteration):
                series.add_iteration(point)
            elif isinstance(point, EpochMetrics):
                series.add_epoch(point)
        return series


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
