"""Issue 15, cosmetic: a run killed after its last checkpoint redoes some steps when resumed; metrics.jsonl
marks the resume point (a ``resume`` record) and readers see every iteration and epoch once."""

from __future__ import annotations

import json
from pathlib import Path

from core.events import Kind
from core.training import runs
from core.training.trainer import train
from tests.conftest import build_tiny_project
from tests.core.training.helpers import fast_config


def test_a_resumed_run_reads_each_iteration_once(tmp_path, one_torch_thread):
    project = build_tiny_project(tmp_path, per_city=4, size=(48, 36))
    first = train(project, fast_config(epochs=1))
    steps = runs.read_metrics(first.run_dir, (Kind.ITERATION,))[-1]["data"]["iteration"]
    metrics = Path(first.run_dir)
    with (metrics / runs.METRICS).open("a") as fh:  # what a kill after the checkpoint leaves: steps done twice
        for extra in range(1, 4):
            fh.write(json.dumps({"kind": "iteration", "data": {"iteration": steps + extra, "loss": 9.9}}) + "\n")
        fh.write(json.dumps({"kind": "epoch", "data": {"epoch": 2, "val_acc": 0.0}}) + "\n")
    train(project, resume=first.run_id, overrides={"epochs": 2})
    iterations = [e["data"]["iteration"] for e in runs.read_metrics(first.run_dir, (Kind.ITERATION,))]
    assert iterations == sorted(set(iterations)) and 9.9 not in [
        e["data"]["loss"] for e in runs.read_metrics(first.run_dir, (Kind.ITERATION,))]
    assert [e.epoch for e in runs.iter_epochs(first.run_dir)] == [1, 2]
    markers = runs.read_metrics(first.run_dir, (Kind.RESUME,))
    assert [m["data"] for m in markers] == [{"epoch": 1, "iteration": steps}]
    assert len(runs.read_metrics(first.run_dir)) < sum(1 for _ in (metrics / runs.METRICS).open())  # file kept whole
    project.close()
