"""The trainer on a tiny generated project: learning, events, metrics.jsonl, pause/stop, cache, runs list."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from core.errors import GeoSpottrError
from core.events import DONE, Event, Kind
from core.models.bundle import load_bundle, read_bundle
from core.training import runs
from core.training.trainer import TrainControl, train
from core.training.transforms import eval_transform

from .helpers import fast_config


def _epochs(events):
    return [e.data for e in events if e.kind == "epoch"]


def test_baseline_learns_the_city_palettes(small_project):
    events: list[Event] = []
    result = train(small_project, fast_config(epochs=8, lr=0.05), on_event=events.append)
    losses = [d["train_loss"] for d in _epochs(events)]
    assert result.status == "finished" and result.epochs_done == 8
    assert losses[-1] < losses[0] * 0.8
    assert result.best_val_acc > 0.25  # chance is 0.25


@pytest.mark.parametrize("arch,weights,cache", [
    ("geospottr", "none", True), ("geospottr-map", "none", True), ("resnet50-linear", "none", True),
    ("efficientnet-lite0", "imagenet", False)])
def test_each_transfer_model_trains_and_its_loss_falls(small_project, arch, weights, cache):
    """Random-init ResNet trunks (no downloads here) give weak features, so their heads learn slowly: 8 cheap
    cached-feature epochs; EfficientNet-Lite0 uses its shipped ImageNet weights and the full image path."""
    kw = {"widths": (16, 16, 32, 32), "blocks": 1, "hidden": 32, "dropout": 0.1} if arch.startswith("geospottr") else {}
    events: list[Event] = []
    result = train(small_project, fast_config(arch=arch, epochs=8, batch_size=16, cache_features=cache, lr=1e-3,
                                              optimizer="adamw", weights=weights, arch_kwargs=kw),
                   on_event=events.append)
    losses = [d["train_loss"] for d in _epochs(events)]
    assert result.epochs_done == 8
    assert sum(losses[-2:]) / 2 < losses[0]
    model, meta = load_bundle(result.best_checkpoint)
    assert meta.arch == arch and meta.image_size == 32 and [c.slug for c in meta.classes] == sorted(c.slug for c in meta.classes)
    assert model(eval_transform(meta)(Image.new("RGB", (50, 40)))[None]).shape == (1, 4)


def test_events_reach_the_listener_and_metrics_jsonl(small_project):
    events: list[Event] = []
    result = train(small_project, fast_config(epochs=2), on_event=events.append)
    it = next(e for e in events if e.kind == "iteration").data
    assert {"loss", "lr", "images_per_s", "epoch", "iteration"} <= set(it)
    ep = _epochs(events)[-1]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "epoch_time", "eta_s", "best_val_acc"} <= set(ep)
    assert ep["eta_s"] == 0 and events[-1].kind == DONE
    assert any(e.kind == "checkpoint" and e.data["which"] == "best" for e in events)
    lines = runs.read_metrics(result.run_dir)
    assert [line["kind"] for line in lines] == [e.kind for e in events]
    assert json.loads((Path(result.run_dir) / "config.json").read_text())["arch"] == "baseline"
    info = {r.run_id: r for r in runs.list_runs(small_project)}[result.run_id]
    assert info.status == "finished" and info.best_checkpoint == result.best_checkpoint
    assert info.best_val_acc == result.best_val_acc and info.epochs_done == 2
    raw = read_bundle(result.last_checkpoint)  # weights_only load
    assert raw.extra["epoch"] == 2 and "optimizer" in raw.extra and raw.meta.run_id == result.run_id


def test_pause_checkpoint_request_and_stop_from_another_thread(small_project):
    control = TrainControl()
    events: list[Event] = []
    first = threading.Event()

    def listen(event: Event) -> None:
        events.append(event)
        if event.kind == "iteration" and not first.is_set():
            first.set()
            control.pause()
            control.request_checkpoint()

    box = {}
    worker = threading.Thread(target=lambda: box.update(result=train(
        small_project, fast_config(epochs=50), on_event=listen, control=control)))
    worker.start()
    assert first.wait(60)
    time.sleep(0.3)
    count = sum(e.kind == "iteration" for e in events)
    time.sleep(0.5)
    assert sum(e.kind == "iteration" for e in events) == count == 1  # paused within one iteration
    assert any(e.kind == "checkpoint" and e.data["which"] == "last" for e in events)
    control.resume()
    time.sleep(0.3)
    control.cancel()
    worker.join(60)
    result = box["result"]
    assert result.status == "stopped" and result.epochs_done < 50
    assert read_bundle(result.last_checkpoint).extra["global_step"] == sum(e.kind == "iteration" for e in events)
    assert {r.run_id: r.status for r in runs.list_runs(small_project)}[result.run_id] == "stopped"


def test_a_pause_is_left_off_the_wall_time_axis_live_and_when_read_again(small_project):
    """A run paused for 1.5 s in its own process: a ``resume`` record marks where it went on, so its wall-time
    axis (the live plots' and the one rebuilt from metrics.jsonl) does not count the wait."""
    from core.training.series import RunSeries

    control = TrainControl()
    events: list[Event] = []

    def listen(event: Event) -> None:
        events.append(event)
        if event.kind == "iteration" and event.data["iteration"] == 2:
            control.pause()
            threading.Timer(1.5, control.resume).start()

    result = train(small_project, fast_config(epochs=2), on_event=listen, control=control)
    assert result.status == "finished"
    resumes = [e for e in events if e.kind == Kind.RESUME]
    assert len(resumes) == 1 and resumes[0].data["paused_s"] >= 1.4 and resumes[0].data["iteration"] == 2
    records = runs.read_metrics(result.run_dir)
    series = RunSeries.from_records(records)
    span = float(series.wall.view[-1] - series.wall.view[0])
    assert span >= 1.4  # the wait is in the wall clock...
    assert series.iteration_x("time")[-1] < span - 1.2  # ...and not on the axis
    assert len([r for r in records if r["kind"] == "iteration"]) == len(series.iteration)  # nothing dropped


def test_resume_in_process_continues_to_a_new_total(small_project):
    control = TrainControl()
    first = train(small_project, fast_config(epochs=1), control=control)
    resumed = train(small_project, resume=first.run_id, overrides={"epochs": 3})
    assert resumed.run_id == first.run_id and resumed.epochs_done == 3
    epochs = [d.epoch for d in runs.iter_epochs(resumed.run_dir)]
    assert epochs == [1, 2, 3]


def test_feature_cache_is_built_once_and_reused(small_project):
    kw = dict(arch="resnet50-linear", epochs=1, cache_features=True, seed=7)  # seed: fresh trunk weights, new key
    events: list[Event] = []
    train(small_project, fast_config(**kw), on_event=events.append)
    assert any(e.scope == "cache train" for e in events)
    again: list[Event] = []
    train(small_project, fast_config(**kw), on_event=again.append)
    assert not any(e.scope.startswith("cache") for e in again)
    with pytest.raises(GeoSpottrError, match="cap"):
        train(small_project, fast_config(**kw, cache_cap_gb=1e-6))


def test_bad_requests_are_one_line_errors(small_project):
    before = len(runs.list_runs(small_project))
    with pytest.raises(GeoSpottrError, match="frozen stages"):
        train(small_project, fast_config(cache_features=True))
    with pytest.raises(GeoSpottrError, match="weights file"):
        train(small_project, fast_config(arch="resnet50-linear", weights="/nonexistent.pth"))
    assert len(runs.list_runs(small_project)) == before  # refused before a run folder was made
    if not torch.cuda.is_available():
        with pytest.raises(GeoSpottrError, match="no CUDA"):
            train(small_project, fast_config(device="cuda"))
    with pytest.raises(GeoSpottrError, match="no run .nope. in this project"):
        train(small_project, resume="nope")
    with pytest.raises(GeoSpottrError, match="unknown model"):
        train(small_project, fast_config(arch="vgg"))


def test_geo_smoothing_run_records_its_tau(small_project):
    result = train(small_project, fast_config(epochs=1, geo_smoothing=True))
    config = runs.read_json(runs.run_dir(small_project.runs_dir, result.run_id) / runs.CONFIG)
    assert config["geo_smoothing"] and 30 < config["geo_tau_km"] < 80


def test_same_data_and_seed_give_the_same_run(small_project):
    """A user comparing two settings must not be comparing noise: equal seeds give equal curves."""
    first, second = ([], [])
    train(small_project, fast_config(epochs=2, seed=3), on_event=first.append)
    train(small_project, fast_config(epochs=2, seed=3), on_event=second.append)
    assert [d["val_loss"] for d in _epochs(first)] == [d["val_loss"] for d in _epochs(second)]


def test_augmentation_can_be_switched_off(small_project):
    result = train(small_project, fast_config(epochs=1, augment=False))
    config = runs.read_json(runs.run_dir(small_project.runs_dir, result.run_id) / runs.CONFIG)
    assert result.status == "finished" and config["augment"] is False
