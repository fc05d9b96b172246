"""The runs side by side: what each was (model, head, image size, learning rate, epochs) and how it did
(best val accuracy, test macro F1 once evaluated, training time), for `geospottr runs --compare` and the
app's Compare runs table. Read from the run folders only (config.json, metrics.jsonl, the test report
`geospottr evaluate --run` writes there), so it is torch-free and works for runs of any process.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import GeoSpottrError
from ..events import Kind
from .metrics import EpochMetrics
from .runlabels import run_status_text
from .runs import CONFIG, RunInfo, list_runs, read_metrics, read_run_json

#: The test report `geospottr evaluate --run ID` (and the app's Evaluate) leaves in the run folder.
TEST_REPORT = "report.json"


@dataclass(frozen=True)
class RunRow:
    """One run in the comparison; None where a figure does not exist (never evaluated, never validated)."""

    run_id: str
    arch: str
    head: str
    image_size: int | None
    lr: float | None
    epochs: int
    status: str
    best_val_acc: float | None
    test_macro_f1: float | None
    train_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        else None


def macro_f1_on_test(run_dir: Path) -> float | None:
    """The macro F1 of the run's test report, or None (not evaluated on test, or the report is damaged)."""
    try:
        report = read_run_json(Path(run_dir) / TEST_REPORT, "test report")
    except GeoSpottrError:
        return None
    macro = report.data.get("macro")
    if report.data.get("split") != "test" or not isinstance(macro, dict):
        return None
    return _number(macro.get("f1"))


def run_row(info: RunInfo) -> RunRow:
    """`info` with what the comparison adds from its folder."""
    path = Path(info.path)
    try:
        config = read_run_json(path / CONFIG, "run config").data
    except GeoSpottrError:
        config = {}
    try:
        epochs = EpochMetrics.read(read_metrics(path, (Kind.EPOCH,)))
    except GeoSpottrError:
        epochs = []
    times = [t for t in (_number(e.epoch_time) for e in epochs) if t is not None]
    size = config.get("image_size")
    return RunRow(info.run_id, info.arch, str(config.get("head") or "-"),
                  int(size) if isinstance(size, int) and not isinstance(size, bool) else None,
                  _number(config.get("lr")), info.epochs_done, run_status_text(info), info.best_val_acc,
                  macro_f1_on_test(path), sum(times) if times else None)


def compare_runs(project: Any) -> list[RunRow]:
    """Every run of `project` (a `Project` or its runs folder), newest first."""
    return [run_row(info) for info in reversed(list_runs(project))]
