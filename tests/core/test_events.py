"""Typed events: kinds are an enum that still reads and writes metrics.jsonl's plain strings, payloads are
dataclasses shared by writer and readers, and run folders written before the types existed still load."""

from __future__ import annotations

import json
import math

import pytest

from core.events import LOG, Event, Kind
from core.training import runs
from core.training.metrics import EpochMetrics, Iteration, RunStarted
from core.training.series import RunSeries

#: Lines exactly as a run written before typed events has them (the run start was a LOG event then).
OLD_RUN = [
    {"kind": "log", "message": "run r1 (new)", "done": None, "total": None, "scope": "",
     "data": {"run_id": "r1", "device": "cpu", "world_size": 1}, "time": 1.0},
    {"kind": "iteration", "message": "", "done": None, "total": None, "scope": "train",
     "data": {"loss": 2.5, "lr": 0.01, "images_per_s": 40.0, "epoch": 1, "iteration": 1, "step": 1, "steps": 2},
     "time": 2.0},
    {"kind": "iteration", "message": "", "done": None, "total": None, "scope": "train",
     "data": {"loss": 2.1, "lr": 0.01, "images_per_s": 41.0, "epoch": 1, "iteration": 2, "step": 2, "steps": 2},
     "time": 3.0},
    {"kind": "epoch", "message": "epoch 1/2", "done": 1, "total": 2, "scope": "epoch",
     "data": {"epoch": 1, "epochs": 2, "train_loss": 2.3, "train_acc": 0.25, "val_loss": 2.2, "val_acc": 0.5,
              "val_macro_f1": 0.4, "best_val_acc": 0.5, "epoch_time": 1.5, "eta_s": 1.5}, "time": 4.0},
]


def test_kinds_are_plain_strings_on_the_wire():
    event = Iteration(iteration=3, loss=1.5, lr=0.1).event(scope="train")
    line = json.loads(runs.event_to_json(event))
    assert line["kind"] == "iteration" and line["data"]["loss"] == 1.5
    assert Kind(line["kind"]) is Kind.ITERATION and f"{LOG}: x" == "log: x"


def test_a_run_folder_written_before_typed_events_still_loads(tmp_path):
    run = tmp_path / "r1"
    run.mkdir()
    (run / runs.CONFIG).write_text(json.dumps({"arch": "baseline", "epochs": 2}))
    (run / runs.METRICS).write_text("".join(json.dumps(line) + "\n" for line in OLD_RUN) + '{"kind": "itera')
    series = RunSeries.from_records(runs.read_metrics(run))
    assert series.iteration.view.tolist() == [1, 2] and series.loss.view.tolist() == [2.5, 2.1]
    assert series.val_acc.view.tolist() == [0.5]
    info = runs.run_info(run)
    assert info.epochs_done == 1 and info.best_val_acc == 0.5
    assert [e.eta_s for e in runs.iter_epochs(run)] == [1.5]


def test_a_record_missing_a_required_field_is_skipped_not_plotted_at_a_made_up_place():
    broken = {"kind": "iteration", "data": {"iteration": 3, "lr": 0.01}}
    series = RunSeries.from_records([*OLD_RUN, broken])
    assert series.iteration.view.tolist() == [1, 2] and not any(math.isnan(v) for v in series.loss.view)
    with pytest.raises(ValueError, match="loss"):
        Iteration.from_data(broken["data"])
    partial = EpochMetrics.from_data({"epoch": 2, "val_acc": 0.7})  # optional numbers may be absent
    assert partial.val_acc == 0.7 and partial.val_loss is None


def test_payload_round_trips_through_an_event():
    started = RunStarted("r2", "cuda:0", 2)
    event = started.event("run r2 (new)")
    assert isinstance(event, Event) and event.kind is Kind.RUN_STARTED
    assert RunStarted.from_data(event.data) == started
    assert RunStarted.read([event, {"kind": "log", "data": {}}]) == [started]
