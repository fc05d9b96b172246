"""What a run is, resolved before it writes anything: the config, the data, the model, the run id.

`set_up` does every step that can fail on a bad option, a missing city or a failed weights download, so
such a failure leaves no run folder behind; the trainer then opens the run (`runlog.RunLog`: config.json,
metrics.jsonl, the control relay) and trains. All of a run's resolved facts live in one `RunSetup`, so
neither the probe nor the epoch loop has to wonder whether an attribute exists yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..data.project import Project
from ..errors import GeoSpottrError
from ..fsutil import safe_child
from ..models import registry
from ..models.backbones import FrozenTrunkNet
from ..models.bundle import BundleMeta, ClassInfo, RawBundle, read_bundle
from ..models.probe import PROBE_MODELS
from . import costs, distributed, runs
from .config import DEFAULT_LR, RESUME_OVERRIDES, TrainConfig
from .data import Sample, load_training_data, split_samples, subsample
from .losses import default_geo_tau_km
from .probe import model_kwargs, trained_arch


def resolve(project: Project, config: TrainConfig | None, resume: str | None,
            overrides: Mapping[str, Any] | None) -> tuple[TrainConfig, Path | None, RawBundle | None]:
    """(config, run dir, resume bundle) for a fresh run or a resumed one."""
    if resume is None:
        if config is None:
            raise TypeError("train() needs a config or resume=")
        config.validate()
        return config, None, None
    path = runs.run_dir(project.runs_dir, resume)
    cfg = TrainConfig.from_dict(runs.read_run_json(path / runs.CONFIG, "run config"))
    for key, value in (overrides or {}).items():
        if key in RESUME_OVERRIDES and value is not None:
            setattr(cfg, key, value)
    cfg.validate()
    if not (path / runs.LAST).is_file():
        # Stopped before its first checkpoint (during feature caching, say): start it again in its own
        # folder with its own settings; the feature caches it finished are reused, so little is lost.
        return cfg, path, None
    return cfg, path, read_bundle(path / runs.LAST)


@dataclass
class RunSetup:
    """One run, resolved: what `set_up` found and built. Nothing here has been written to the run folder."""

    project: Project
    cfg: TrainConfig  # with the run's image size, geo tau and (under --time-budget) picked recipe filled in
    path: Path | None  # the folder of the run resumed (or started again), None for a new run
    raw: RawBundle | None  # the checkpoint resumed from, None for a new or restarted run
    device: torch.device
    ctx: distributed.DistContext
    classes: list[ClassInfo]
    train_samples: list[Sample]
    val_samples: list[Sample]
    arch: str  # the model trained: cfg.arch, or its linear probe (--head)
    image_size: int  # cfg.image_size, or the model's default (also written back into cfg)
    model: nn.Module  # built, weights loaded (on resume), on `device`
    meta: BundleMeta  # what every checkpoint of the run records about the model
    lr: float  # the base learning rate (cfg.lr or the optimizer's default)
    run_id: str
    plan_note: str | None  # the time budget's pick, or the warning of a run predicted to take hours

    @property
    def is_probe(self) -> bool:
        """A linear probe on frozen features: fitted once, no epochs, optimizer or sampler."""
        return isinstance(self.model, PROBE_MODELS)

    @property
    def refit(self) -> bool:
        """What config.json records as "refit": only a probe refits on train + val (see probe.train_probe)."""
        return self.cfg.refit and self.is_probe

    @property
    def started_as(self) -> str:
        """How the run began, for its first event."""
        return "resumed" if self.raw is not None else "restarted: no checkpoint yet" if self.path else "new"


def set_up(project: Project, cfg: TrainConfig, path: Path | None, raw: RawBundle | None, device: torch.device,
           ctx: distributed.DistContext) -> RunSetup:
    """Resolve the run `cfg` describes (or the run at `path` resumed from `raw`) on `device`: its data, the
    recipe (--time-budget, --head), the model with its weights and the run id. Fills in `cfg` in place."""
    torch.manual_seed(cfg.seed)
    if raw is None:
        classes, train_samples, val_samples = load_training_data(project)
    else:
        classes = raw.meta.classes
        train_samples = split_samples(project, "train", classes)
        val_samples = split_samples(project, "val", classes)
        if not train_samples or not val_samples:
            raise GeoSpottrError("the project no longer has train/val images of this run's cities")
    if cfg.geo_smoothing and cfg.geo_tau_km is None:
        cfg.geo_tau_km = round(default_geo_tau_km(classes), 1)
    # --time-budget picks the recipe from costs measured on this device (rank 0, agreed by all); without
    # one, a run predicted to take hours says so before it starts (training.costs.plan).
    plan_note = None
    if raw is None:
        if ctx.is_main:
            plan_note = costs.plan(cfg, train_samples, val_samples, len(classes), device,
                                   safe_child(project.cache_dir, "costs.json"))
        plan_note, cfg.arch, cfg.head, cfg.arch_kwargs, cfg.photo_share = distributed.broadcast(
            ctx, (plan_note, cfg.arch, cfg.head, cfg.arch_kwargs, cfg.photo_share))
    if cfg.photo_share < 1:  # the same draw on every rank and on resume (seeded, recorded in config.json)
        train_samples = subsample(train_samples, cfg.photo_share, cfg.seed)
        val_samples = subsample(val_samples, cfg.photo_share, cfg.seed)
    # The model actually trained: the arch, or its linear probe (--head; "auto" decides by data size).
    arch = raw.meta.arch if raw is not None else trained_arch(cfg, train_samples, len(classes))
    spec = registry.spec(arch)
    image_size = cfg.image_size = cfg.image_size or spec.default_image_size
    arch_kwargs = dict(raw.meta.arch_kwargs) if raw is not None else model_kwargs(arch, cfg)

    # Build the model before the run folder exists: a failed download or a bad option leaves no run behind.
    model = registry.build(arch, len(classes), weights="none" if raw else cfg.weights, **arch_kwargs)
    # What rebuilds the model without its weights' source (a CLIP tower's config) goes into the bundle.
    arch_kwargs.update(getattr(model, "rebuild_kwargs", {}))
    if cfg.cache_features and not isinstance(model, (FrozenTrunkNet, *PROBE_MODELS)):  # a probe always caches
        raise GeoSpottrError(f"--cache-features needs a model with frozen stages; {arch} has none")
    if raw is not None:
        model.load_state_dict(raw.state_dict)

    run_id = None
    if ctx.is_main:
        run_id = path.name if path else runs.new_run_id(arch, project.runs_dir)
    run_id = distributed.broadcast(ctx, run_id)
    meta = BundleMeta(arch=arch, classes=list(classes), image_size=image_size, mean=spec.mean, std=spec.std,
                      crop_bottom=cfg.crop_bottom, arch_kwargs=dict(arch_kwargs), run_id=run_id)
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    return RunSetup(project=project, cfg=cfg, path=path, raw=raw, device=device, ctx=ctx, classes=list(classes),
                    train_samples=train_samples, val_samples=val_samples, arch=arch, image_size=image_size, model=model, meta=meta,
                    lr=cfg.lr or DEFAULT_LR[cfg.optimizer], run_id=run_id, plan_note=plan_note)
