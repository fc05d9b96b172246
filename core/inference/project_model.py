"""The project's model: which bundle a project uses when none is named, and how a model is named to the user.

One rule for the desktop app and the CLI (``predict``, ``evaluate``, ``challenge`` without ``--run`` or
``--model``): the model chosen by hand, while its file exists, else the best validated run. A newly
finished run does not replace a better one: the choice follows validation accuracy, never recency.

A model is named by its run and validation accuracy ("run 20261207-064000-efficientnet-lite0, val
45.0%"), not by its file name: every run's file is called best.pt. Torch-free: reads run folders only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..training import runs


@dataclass(frozen=True)
class ModelName:
    """A model bundle and what the user knows it by."""

    path: Path
    #: The run folder it was trained in (None: a file from elsewhere).
    run_id: str | None = None
    #: That run's best validation accuracy (None: never validated, or not a run's).
    val_acc: float | None = None

    @property
    def label(self) -> str:
        """``run 20261207-064000-efficientnet-lite0 (val 45.0%)``; a run's last checkpoint says so (its
        accuracy may be below the run's best); a file from elsewhere is its file name."""
        if self.run_id is None:
            return self.path.name
        parts = [f"val {self.val_acc:.1%}" if self.val_acc is not None else "not validated"]
        if self.path.name == runs.LAST:
            parts.append("last checkpoint")
        return f"run {self.run_id} ({', '.join(parts)})"


def _named(info: runs.RunInfo) -> ModelName | None:
    """A run's model: its best.pt, else its last.pt (a run stopped before validating), else none."""
    bundle = info.best_checkpoint or info.last_checkpoint
    return None if bundle is None else ModelName(Path(bundle), info.run_id, info.best_val_acc)


def name_model(path: Path | str) -> ModelName:
    """The `ModelName` of any bundle path: a run's when it lies in a run folder (config.json beside it)."""
    path = Path(path)
    if (path.parent / runs.CONFIG).is_file():
        info = runs.run_info(path.parent)
        return ModelName(path, info.run_id, info.best_val_acc)
    return ModelName(path)


def run_models(project: Any) -> list[ModelName]:
    """Every run of `project` (a `Project` or its runs folder) that holds a model, newest first."""
    named = (_named(info) for info in reversed(runs.list_runs(project)))
    return [m for m in named if m is not None]


def project_model(project: Any, chosen: Path | str | None = None) -> ModelName | None:
    """The model `project` uses: `chosen` (picked by hand) while its file exists, else the best run.

    Best: finished runs rank by best validation accuracy (a run never validated ranks last), ties by the
    newest; when no run finished, a stopped run's checkpoint is better than nothing. None: no usable run.
    """
    if chosen and Path(chosen).is_file():
        return name_model(chosen)
    usable = [r for r in runs.list_runs(project) if r.best_checkpoint or r.last_checkpoint]
    pool = [r for r in usable if r.status == "finished"] or [r for r in usable if r.status == "stopped"]
    if not pool:
        return None
    return _named(max(pool, key=lambda r: (r.best_val_acc if r.best_val_acc is not None else -1.0,
                                          r.created, r.run_id)))
