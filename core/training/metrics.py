"""The payloads of a training run's events: what the trainer emits and ``metrics.jsonl`` stores.

One small dataclass per kind, shared by the writer (`core.training.trainer`) and every reader (run
listing, the CLI, the GUI's curves and info panel). Field names are the JSON keys of earlier runs, so
old run folders still load; fields that older runs may lack have defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..events import Kind, Payload


@dataclass(frozen=True)
class RunStarted(Payload):
    """A new or resumed run began (its folder exists, ``metrics.jsonl`` is open)."""

    KIND: ClassVar[Kind] = Kind.RUN_STARTED
    run_id: str
    device: str = ""
    world_size: int = 1


@dataclass(frozen=True)
class Iteration(Payload):
    """One optimiser step. `iteration` counts steps over the whole run; `step` / `steps` within the epoch."""

    KIND: ClassVar[Kind] = Kind.ITERATION
    iteration: int
    loss: float
    lr: float
    images_per_s: float = 0.0
    epoch: int = 0          # 1-based epoch this step belongs to
    step: int = 0
    steps: int = 0


@dataclass(frozen=True)
class EpochMetrics(Payload):
    """One finished epoch: train and validation numbers, timing, and the best validation accuracy so far.

    The trainer always fills every field; readers accept a record with only some numbers (a run cut short,
    another tool's file) and draw a gap for what is absent."""

    KIND: ClassVar[Kind] = Kind.EPOCH
    epoch: int
    train_loss: float | None = None
    train_acc: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    epochs: int = 0
    val_macro_f1: float | None = None
    best_val_acc: float | None = None
    epoch_time: float | None = None
    eta_s: float | None = None


@dataclass(frozen=True)
class Checkpoint(Payload):
    """A bundle written to the run folder (`which`: ``"last"`` or ``"best"``)."""

    KIND: ClassVar[Kind] = Kind.CHECKPOINT
    path: str
    which: str
    epoch: int = 0
    iteration: int = 0
