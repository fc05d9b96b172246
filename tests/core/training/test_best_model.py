"""Which run a project uses when no model was chosen by hand (`core.inference.project_model`): the best finished one,
never the newest."""

from __future__ import annotations

import json
from pathlib import Path

from core.inference.project_model import project_model


def make_run(runs: Path, run_id: str, status: str, accs: list[float], created: str, best: bool = True) -> Path:
    """A run folder as the trainer leaves it (config, status, one metrics line per epoch, checkpoints)."""
    folder = runs / run_id
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"arch": "baseline", "epochs": len(accs), "created": created}))
    (folder / "status.json").write_text(json.dumps({"status": status}))
    (folder / "metrics.jsonl").write_text("".join(
        json.dumps({"kind": "epoch", "data": {"epoch": i, "train_loss": 1.0, "train_acc": a, "val_loss": 1.0,
                                                "val_acc": a}}) + "\n" for i, a in enumerate(accs, 1)))
    (folder / "last.pt").write_bytes(b"x")
    if best:
        (folder / "best.pt").write_bytes(b"x")
    return folder


def test_the_most_accurate_finished_run_wins_over_newer_and_unfinished_ones(tmp_path):
    runs = tmp_path / "runs"
    assert project_model(runs) is None
    good = make_run(runs, "a-old-good", "finished", [0.5, 0.8], "2026-01-01T00:00:00")
    make_run(runs, "b-new-worse", "finished", [0.4], "2026-02-01T00:00:00")
    make_run(runs, "c-stopped-better", "stopped", [0.95], "2026-03-01T00:00:00")
    make_run(runs, "d-failed", "failed", [0.99], "2026-03-02T00:00:00")
    assert project_model(runs).path == good / "best.pt"


def test_without_a_finished_run_a_stopped_checkpoint_is_used(tmp_path):
    runs = tmp_path / "runs"
    stopped = make_run(runs, "s", "stopped", [], "2026-01-01T00:00:00", best=False)
    make_run(runs, "f", "failed", [0.9], "2026-01-02T00:00:00")
    assert project_model(runs).path == stopped / "last.pt"
