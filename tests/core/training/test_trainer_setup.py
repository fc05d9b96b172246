"""Issue 26 item 7: a run is resolved first (`runsetup.set_up`, nothing written), then opened and trained; a
probe takes its own short path (no optimizer, sampler or DDP wrapper); progress is readable from the moment
the run is opened, before the loop knows its steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.models.bundle import read_bundle
from core.training import distributed, runs
from core.training import trainer as trainer_module
from core.training.data import load_training_data
from core.training.runlog import RunLog
from core.training.runsetup import RunSetup, set_up
from core.training.trainer import train

from .helpers import fast_config
from .test_probe_balance import TINY_PROBE


def _forbid(*_args, **_kwargs):
    raise AssertionError("a probe run built what only the epoch loop needs")


def test_a_probe_run_builds_no_optimizer_sampler_or_ddp_wrapper(small_project, monkeypatch):
    monkeypatch.setattr(torch.optim, "SGD", _forbid)
    monkeypatch.setattr(torch.optim, "AdamW", _forbid)
    monkeypatch.setattr(trainer_module, "make_optimizer", _forbid)
    monkeypatch.setattr(distributed.ResumableSampler, "__init__", _forbid)
    monkeypatch.setattr(torch.nn.parallel, "DistributedDataParallel", _forbid)
    monkeypatch.setattr(trainer_module, "_FineTune", _forbid)
    result = train(small_project, fast_config(arch="efficientnet-lite0-probe", image_size=48, arch_kwargs=TINY_PROBE))
    assert result.status == "finished" and result.epochs_done == 1 and result.best_val_acc is not None
    extra = read_bundle(result.last_checkpoint).extra
    assert "optimizer" not in extra and extra["epoch"] == 1
    status = json.loads((Path(result.run_dir) / runs.STATUS).read_text())
    assert status["status"] == "finished" and status["epoch"] == 1 and status["total"] == 0


def test_progress_is_readable_before_the_first_epoch_and_counts_once_the_steps_are_known(small_project,
                                                                                           monkeypatch):
    seen: dict[str, list[dict]] = {"opened": [], "first iteration": []}
    opened = RunLog.open

    def spy_open(setup, on_event, control, progress):
        seen["opened"].append(progress())  # what the relay publishes before the datasets exist

        def listen(event):
            if event.kind == "iteration" and not seen["first iteration"]:
                seen["first iteration"].append(progress())
            on_event(event)

        return opened(setup, listen, control, progress)

    monkeypatch.setattr(RunLog, "open", staticmethod(spy_open))
    result = train(small_project, fast_config(epochs=2, max_steps=3))
    assert seen["opened"] == [{"epoch": 0, "epochs": 2, "iteration": 0, "total": 0}]
    assert seen["first iteration"] == [{"epoch": 0, "epochs": 2, "iteration": 1, "total": 6}]
    status = json.loads((Path(result.run_dir) / runs.STATUS).read_text())
    assert (status["epoch"], status["iteration"], status["total"]) == (2, 6, 6)


def test_setup_resolves_the_whole_run_and_writes_nothing(small_project):
    before = sorted(p.name for p in small_project.runs_dir.iterdir()) if small_project.runs_dir.is_dir() else []
    cfg = fast_config(geo_smoothing=True, image_size=None)
    setup = set_up(small_project, cfg, None, None, torch.device("cpu"), distributed.DistContext())
    assert isinstance(setup, RunSetup) and not setup.is_probe and not setup.refit
    assert setup.arch == "baseline" and setup.started_as == "new" and setup.lr == 0.01
    assert cfg.image_size and cfg.geo_tau_km  # filled in from the model and the cities
    assert setup.meta.run_id == setup.run_id and setup.meta.image_size == cfg.image_size
    classes, train_samples, val_samples = load_training_data(small_project)
    assert (setup.classes, setup.train_samples, setup.val_samples) == (classes, train_samples, val_samples)
    after = sorted(p.name for p in small_project.runs_dir.iterdir()) if small_project.runs_dir.is_dir() else []
    assert after == before and setup.run_id not in after


@pytest.mark.parametrize("probe", [True, False])
def test_the_run_config_records_a_refit_only_for_a_probe(small_project, probe):
    extra = dict(arch="efficientnet-lite0-probe", image_size=48, arch_kwargs=TINY_PROBE) if probe else dict(epochs=1)
    result = train(small_project, fast_config(**extra))
    assert json.loads((Path(result.run_dir) / runs.CONFIG).read_text())["refit"] is probe
