"""The training loop: one call, ``train(project, config, on_event, control) -> TrainResult``.

It trains on the project's persisted ``train`` split, validates on ``val`` after every epoch, keeps
``last.pt`` (resume state) and ``best.pt`` (highest val accuracy) in ``runs/<id>/`` as self-describing
model bundles, and reports through events that the CLI, ``metrics.jsonl`` and the GUI all consume, each
kind with its payload dataclass from `core.training.metrics`:

* ``RUN_STARTED`` (`RunStarted`: run id, device), then per step ``ITERATION`` (`Iteration`), per epoch
  ``EPOCH`` (`EpochMetrics`), per saved bundle ``CHECKPOINT`` (`Checkpoint`)
* ``PROGRESS`` (scope "training": iterations done / total), ``LOG`` (one line per epoch), ``DONE``.

`Control.checkpoint()` runs before every iteration, so pause and stop take effect within one iteration; a
stop saves ``last.pt`` at that point and returns a result with status "stopped" (resume with `resume=`).
`TrainControl.request_checkpoint()` asks for a ``last.pt`` after the iteration in flight. Other processes
(a monitor window, ``geospottr runs``) reach the same `Control` through the run's ``control.json``
(`runcontrol`), relayed by a thread that also keeps status.json's heartbeat.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..data.project import Project
from ..devices import pick_device
from ..errors import Cancelled, GeoSpottrError
from ..events import DONE, ERROR, LOG, PROGRESS, WARNING, Control, Event, EventCallback, Kind, ignore_events
from ..fsutil import safe_child
from ..models import registry
from ..models.backbones import FrozenTrunkNet
from ..models.bundle import BundleMeta, read_bundle, save_bundle
from ..models.probe import PROBE_MODELS
from ..typed import Fields, short
from . import cache as feature_cache
from . import costs, distributed, runcontrol, runs
from .balance import CLASS_BALANCES, BalancedSampler, balance_weights
from .data import ImageDataset, decoded_only, load_training_data, split_samples, undecodable_reason
from .losses import TrainingLoss, default_geo_tau_km, geo_targets
from .metrics import Checkpoint, EpochMetrics, Iteration, RunStarted
from .probe import HEADS, describe_c, model_kwargs, train_probe, trained_arch
from .transforms import eval_transform, train_transform

DEFAULT_LR = {"sgd": 0.01, "adamw": 1e-3}
#: Settings a resumed run may change (the rest must stay as the run started).
RESUME_OVERRIDES = ("epochs", "num_workers", "device", "patience", "max_steps", "cache_cap_gb")


@dataclass
class TrainConfig:
    """Everything that defines a run (saved as ``runs/<id>/config.json``)."""

    arch: str = registry.DEFAULT_ARCH
    epochs: int = 10
    batch_size: int = 32
    image_size: int | None = None  # None: the model's default
    lr: float | None = None  # None: 0.01 for SGD, 1e-3 for AdamW
    optimizer: str = "sgd"  # sgd | adamw
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # cosine | step | constant (after warmup)
    warmup_epochs: float = 1.0
    step_epochs: int = 10  # step schedule: multiply the lr by step_gamma every step_epochs
    step_gamma: float = 0.1
    label_smoothing: float = 0.0
    geo_smoothing: bool = False
    geo_tau_km: float | None = None  # None: derived from the inter-city distances (see losses.py)
    class_balance: str = "weighted"  # none | weighted (loss) | sampler (balanced draws); see balance.py
    head: str = "auto"  # auto | probe | finetune: train the arch, or its linear probe (see probe.trained_arch)
    refit: bool = True  # a probe: refit on train + val once val is measured (fine-tuning keeps val for early stopping)
    weights: str = "imagenet"  # imagenet | none | path to a weights file
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: bool = True  # mixed precision (CUDA only)
    augment: bool = True  # street-scene augmentation of training images (flip-only with cached features)
    crop_bottom: float = 0.0  # cut this fraction off the bottom of every photo (car, watermark); kept in the bundle
    cache_features: bool = False
    cache_cap_gb: float = feature_cache.DEFAULT_CAP_GB
    num_workers: int = 2
    patience: int = 5  # epochs without a val-loss improvement before stopping early; 0 = never
    seed: int = 0
    max_steps: int | None = None  # cap on iterations per epoch (quick trials)
    time_budget: float | None = None  # seconds: train the most accurate recipe predicted to fit (training.budget)
    arch_kwargs: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.optimizer not in DEFAULT_LR:
            raise GeoSpottrError(f"--optimizer must be one of {', '.join(DEFAULT_LR)}")
        if self.schedule not in ("cosine", "step", "constant"):
            raise GeoSpottrError("schedule must be cosine, step or constant")
        if self.time_budget is not None and self.time_budget <= 0:
            raise GeoSpottrError("--time-budget must be more than nothing (e.g. 30m)")
        if self.epochs < 1 or self.batch_size < 1:
            raise GeoSpottrError("epochs and batch size must be at least 1")
        if self.image_size is not None and self.image_size < 16:
            raise GeoSpottrError("--image-size must be at least 16")
        if not 0 <= self.label_smoothing < 1:
            raise GeoSpottrError("label smoothing must be in [0, 1)")
        if self.geo_tau_km is not None and self.geo_tau_km <= 0:
            raise GeoSpottrError("--geo-tau-km must be positive")
        if not 0 <= self.crop_bottom <= 0.5:
            raise GeoSpottrError("--crop-bottom must be between 0 and 0.5 (a fraction of the photo's height)")
        if self.class_balance not in CLASS_BALANCES:
            raise GeoSpottrError(f"--class-balance must be one of {', '.join(CLASS_BALANCES)}")
        if self.head not in HEADS:
            raise GeoSpottrError(f"--head must be one of {', '.join(HEADS)}")
        registry.spec(self.arch)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Fields, source: str = "config") -> "TrainConfig":
        """The config `data` (a run's config.json) describes, every value checked against its field's type:
        a damaged file is one `GeoSpottrError` naming `source` and the key, never a TypeError later."""
        typed = data if isinstance(data, Fields) else Fields(data, source)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in typed.data or typed.raw(f.name) is None:
                continue
            kind = str(f.type).replace(" ", "")
            if kind in ("int", "int|None"):
                values[f.name] = typed.int(f.name, lo=0, hi=2**31)
            elif kind in ("float", "float|None"):
                values[f.name] = typed.float(f.name)
            elif kind == "bool":
                values[f.name] = typed.bool(f.name)
            elif kind == "str":
                values[f.name] = typed.str(f.name)
            elif kind.startswith("dict"):
                obj = typed.raw(f.name)
                if not isinstance(obj, dict):
                    raise GeoSpottrError(f"{typed.source}: {f.name} must be an object, not {short(obj)}")
                values[f.name] = obj
        return cls(**values)


class TrainControl(Control):
    """`Control` plus "save a checkpoint now" (honoured after the iteration in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self._save = threading.Event()

    def request_checkpoint(self) -> None:
        self._save.set()

    def take_checkpoint_request(self) -> bool:
        if self._save.is_set():
            self._save.clear()
            return True
        return False


@dataclass
class TrainResult:
    run_id: str
    run_dir: str
    status: str  # finished | stopped
    epochs_done: int
    best_val_acc: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    stop_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lr_factor(step: int, total: int, warmup: int, cfg: TrainConfig, steps_per_epoch: int) -> float:
    """Linear warmup to the base lr, then cosine to 0, a step decay, or constant."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if cfg.schedule == "cosine":
        span = max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span)))
    if cfg.schedule == "step":
        return cfg.step_gamma ** (step // max(1, cfg.step_epochs * steps_per_epoch))
    return 1.0


def _param_groups(net: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases and batch-norm weights (decaying them only hurts)."""
    decay, no_decay = [], []
    for p in net.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _make_optimizer(net: nn.Module, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    groups = _param_groups(net, cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)


@torch.no_grad()
def evaluate(net: nn.Module, loader: DataLoader, device: torch.device, num_classes: int,
             autocast: Any, on_skip: Callable[[int], None] = lambda i: None) -> dict[str, float]:
    """Val loss (plain CE), accuracy and macro F1 of `net` over `loader` (photos that cannot be decoded
    are left out, each passed to `on_skip`)."""
    was_training = net.training
    net.eval()
    loss_sum, n = 0.0, 0
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for images, labels, index in loader:
        images, labels, _ = decoded_only(images, labels, index, on_skip)
        if not len(labels):
            continue
        images = _to_device(images, device)
        with autocast():
            logits = net(images)
        loss_sum += F.cross_entropy(logits.float().cpu(), labels, reduction="sum").item()
        preds = logits.argmax(1).cpu()
        confusion += torch.bincount(labels * num_classes + preds, minlength=num_classes ** 2).view(num_classes, -1)
        n += len(labels)
    net.train(was_training)
    tp = confusion.diag().double()
    denom = 2 * tp + (confusion.sum(0) - confusion.diag()) + (confusion.sum(1) - confusion.diag())
    present = denom > 0
    f1 = (2 * tp[present] / denom[present]).mean().item() if present.any() else 0.0
    return {"val_loss": loss_sum / max(1, n), "val_acc": tp.sum().item() / max(1, n), "val_macro_f1": f1}


def _to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if device.type == "cuda" and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


class _Emitter:
    """Fans events out to the caller's listener and metrics.jsonl; silent on non-zero ranks."""

    def __init__(self, on_event: EventCallback, writer: runs.MetricsWriter | None) -> None:
        self.on_event, self.writer = on_event, writer

    def __call__(self, event: Event) -> None:
        if self.writer is not None:
            self.writer(event)
        self.on_event(event)


def _resolve(project: Project, config: TrainConfig | None, resume: str | None,
             overrides: Mapping[str, Any] | None) -> tuple[TrainConfig, Path | None, Any]:
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


#: What the run's own output says when a command arrives through control.json (not from its own window).
_HEARD = {"pause": "paused from a monitor window or `geospottr runs --send` (waiting; resume with "
                   "`geospottr runs --send resume {run}` or the monitor's Resume)",
          "resume": "resumed from a monitor window or `geospottr runs --send`",
          "stop": "stop asked from a monitor window or `geospottr runs --send`: saving last.pt",
          "save": "checkpoint asked from a monitor window or `geospottr runs --send`"}


def say_command(on_event: EventCallback, run_id: str, command: str) -> None:
    """Tell the run's listeners (a terminal running `train`, the app's Train workspace) about a command
    another process sent, so a terminal never sits silent while a monitor paused its run. Not recorded in
    metrics.jsonl: it may come from the relay thread while the loop writes there."""
    text = _HEARD.get(command)
    if text:
        on_event(Event(LOG, text.format(run=run_id), scope="control"))


def train(project: Project, config: TrainConfig | None = None, on_event: EventCallback = ignore_events,
          control: Control | None = None, *, resume: str | None = None,
          overrides: Mapping[str, Any] | None = None) -> TrainResult:
    """Train a model on `project` (or continue run `resume`, changing only `overrides` in RESUME_OVERRIDES)."""
    control = control or TrainControl()
    cfg, path, raw = _resolve(project, config, resume, overrides)
    device = pick_device(cfg.device)
    ctx = distributed.setup(device.type)
    if ctx.enabled and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
    try:
        return _Run(project, cfg, path, raw, device, ctx, on_event, control).run()
    finally:
        distributed.teardown(ctx)


class _Run:
    """One training run's state; `run()` is the loop. Kept as a class so checkpointing sees everything."""

    def __init__(self, project: Project, cfg: TrainConfig, path: Path | None, raw: Any, device: torch.device,
                 ctx: distributed.DistContext, on_event: EventCallback, control: Control) -> None:
        self.project, self.cfg, self.raw, self.device, self.ctx, self.control = project, cfg, raw, device, ctx, control
        self.lr = cfg.lr or DEFAULT_LR[cfg.optimizer]
        torch.manual_seed(cfg.seed)

        if raw is None:
            classes, self.train_samples, self.val_samples = load_training_data(project)
        else:
            classes = raw.meta.classes
            self.train_samples = split_samples(project, "train", classes)
            self.val_samples = split_samples(project, "val", classes)
            if not self.train_samples or not self.val_samples:
                raise GeoSpottrError("the project no longer has train/val images of this run's cities")
        if cfg.geo_smoothing and cfg.geo_tau_km is None:
            cfg.geo_tau_km = round(default_geo_tau_km(classes), 1)
        # --time-budget picks the recipe from costs measured on this device (rank 0, agreed by all); without
        # one, a run predicted to take hours says so before it starts (training.costs.plan).
        plan_note = None
        if raw is None:
            if ctx.is_main:
                plan_note = costs.plan(cfg, self.train_samples, self.val_samples, len(classes), device,
                                       safe_child(project.cache_dir, "costs.json"))
            plan_note, cfg.arch, cfg.head, cfg.arch_kwargs = distributed.broadcast(
                ctx, (plan_note, cfg.arch, cfg.head, cfg.arch_kwargs))
        # The model actually trained: the arch, or its linear probe (--head; "auto" decides by data size).
        self.arch = raw.meta.arch if raw is not None else trained_arch(cfg, self.train_samples, len(classes))
        spec = registry.spec(self.arch)
        cfg.image_size = cfg.image_size or spec.default_image_size
        self.arch_kwargs = dict(raw.meta.arch_kwargs) if raw is not None else model_kwargs(self.arch, cfg)

        # Build the model before the run folder exists: a failed download or a bad option leaves no run behind.
        self.model = registry.build(self.arch, len(classes), weights="none" if raw else cfg.weights, **self.arch_kwargs)
        # What rebuilds the model without its weights' source (a CLIP tower's config) goes into the bundle.
        self.arch_kwargs.update(getattr(self.model, "rebuild_kwargs", {}))
        if cfg.cache_features and not isinstance(self.model, (FrozenTrunkNet, *PROBE_MODELS)):  # a probe always caches
            raise GeoSpottrError(f"--cache-features needs a model with frozen stages; {self.arch} has none")
        if raw is not None:
            self.model.load_state_dict(raw.state_dict)

        run_id = None
        if ctx.is_main:
            run_id = path.name if path else runs.new_run_id(self.arch, project.runs_dir)
        self.run_id = distributed.broadcast(ctx, run_id)
        # runs/ and the run folder are checked to stay inside the project (a symlink out is refused).
        self.dir = runs.new_run_dir(project.runs_dir, self.run_id) if ctx.is_main else project.runs_dir / self.run_id
        writer = None
        if ctx.is_main:
            created = (runs.read_run_json(self.dir / runs.CONFIG, "run config").str("created")
                       or datetime.now(timezone.utc).isoformat(timespec="seconds"))
            # "refit" records what the run does: only a probe refits on train + val (see probe.train_probe).
            refit = cfg.refit and isinstance(self.model, PROBE_MODELS)
            runs.write_json(runs.run_file(self.dir, runs.CONFIG), {**asdict(cfg), "refit": refit, "model": self.arch,
                                                     "lr": self.lr, "created": created,
                                                     "classes": [c.slug for c in classes], "world_size": ctx.world_size,
                                                     "train_images": len(self.train_samples),
                                                     "val_images": len(self.val_samples)})
            writer = runs.MetricsWriter(self.dir / runs.METRICS)
        # Rank 0 relays control.json commands (pause/resume/stop/save from other processes) to `control`
        # and keeps status.json's heartbeat; it also writes the first "running" status.
        self.relay = runcontrol.ControlRelay(self.dir, control, self._progress,
                                             on_command=partial(say_command, on_event, self.run_id)).start() \
            if ctx.is_main else None
        self.emit = _Emitter(on_event if ctx.is_main else ignore_events, writer)
        self.writer = writer
        self.emit(RunStarted(self.run_id, str(device), ctx.world_size).event(
            f"run {self.run_id} ({'resumed' if raw else 'restarted: no checkpoint yet' if path else 'new'})"))
        if plan_note:
            self.emit(Event(LOG if cfg.time_budget else WARNING, plan_note, scope="time budget"))
        try:
            self._prepare(classes, spec)
        except BaseException as exc:
            self._finish_failed(exc)
            raise

    def _progress(self) -> dict[str, Any]:
        """What status.json tells watchers between epochs (read by the relay thread: plain attributes only)."""
        steps = getattr(self, "steps_per_epoch", 0)
        return {"epoch": getattr(self, "epoch", 0), "epochs": self.cfg.epochs,
                "iteration": getattr(self, "global_step", 0), "total": steps * self.cfg.epochs}

    def _finish_failed(self, exc: BaseException) -> None:
        if self.ctx.is_main:
            self.relay.stop()
            status = "stopped" if isinstance(exc, Cancelled) else "failed"
            runs.set_status(self.dir, status, error=str(exc)[:300])
            self.writer(Event(ERROR, f"training {status}: {exc}"))  # the caller gets the exception itself
            self.writer.close()

    def _skip(self, split: str, i: int) -> None:
        """Sample `i` of `split` could not be decoded: named once in the run log, counted, left out."""
        if i not in self.skipped[split]:
            self.skipped[split].add(i)
            path = getattr(self, f"{split}_samples")[i].path
            self.emit(Event(WARNING, f"skipped {path}: {undecodable_reason(path)}", scope="training"))

    def _prepare(self, classes: list, spec: registry.ModelSpec) -> None:
        cfg, device, ctx = self.cfg, self.device, self.ctx
        self.skipped: dict[str, set[int]] = {"train": set(), "val": set()}
        self.meta = BundleMeta(arch=self.arch, classes=list(classes), image_size=cfg.image_size, mean=spec.mean,
                               std=spec.std, crop_bottom=cfg.crop_bottom, arch_kwargs=dict(self.arch_kwargs),
                               run_id=self.run_id)
        self.classes = classes
        self.model.to(device)
        if device.type == "cuda":
            self.model.to(memory_format=torch.channels_last)
        self.use_amp = cfg.amp and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if self.use_amp else None

        self.net, train_set, val_set = self._datasets()
        self.train_set = train_set
        self.val_loader = DataLoader(val_set, batch_size=cfg.batch_size, shuffle=False,
                                     num_workers=0 if cfg.cache_features else cfg.num_workers)
        labels = [s.label for s in self.train_samples]
        self.sampler = (BalancedSampler(train_set, ctx, cfg.seed, labels, len(classes)) if cfg.class_balance == "sampler"
                        else distributed.ResumableSampler(train_set, ctx, seed=cfg.seed))
        self.ddp = self.net
        if ctx.enabled:
            self.ddp = nn.parallel.DistributedDataParallel(
                self.net, device_ids=[device.index] if device.type == "cuda" else None)
        self.optimizer = _make_optimizer(self.net, cfg, self.lr)
        geo = None
        if cfg.geo_smoothing:
            geo = geo_targets([s.label for s in self.train_samples], [(s.lat, s.lon) for s in self.train_samples],
                              classes, cfg.geo_tau_km)
        weights = torch.from_numpy(balance_weights(labels, len(classes))).float() \
            if cfg.class_balance == "weighted" else None
        self.loss_fn = TrainingLoss(cfg.label_smoothing, geo, weights)

        self.steps_per_epoch = math.ceil(self.sampler.num_samples / cfg.batch_size)
        if cfg.max_steps:
            self.steps_per_epoch = min(self.steps_per_epoch, cfg.max_steps)
        # Progress state (restored on resume).
        self.epoch = 0  # completed epochs
        self.step_in_epoch = 0
        self.global_step = 0
        self.best_val_acc: float | None = None
        self.best_val_loss = math.inf
        self.bad_epochs = 0
        self.running = [0.0, 0.0, 0.0]  # loss sum, correct, seen in the current epoch (this rank)
        self.epoch_elapsed = 0.0
        if self.raw is not None:
            self._restore(self.raw.extra)

    # ------------------------------------------------------------------ setup
    def _datasets(self) -> tuple[nn.Module, Any, Any]:
        cfg, mean, std = self.cfg, self.meta.mean, self.meta.std
        evaluation = eval_transform(cfg.image_size, mean, std, cfg.crop_bottom)
        if not cfg.cache_features or isinstance(self.model, PROBE_MODELS):  # a probe caches its own features
            augmented = train_transform(cfg.image_size, mean, std, cfg.crop_bottom) if cfg.augment else evaluation
            return (self.model, ImageDataset(self.train_samples, cfg.image_size, augmented),
                    ImageDataset(self.val_samples, cfg.image_size, evaluation))
        frozen = self.model.frozen
        shape = feature_cache.feature_shape(frozen.cpu(), cfg.image_size)
        frozen.to(self.device)
        n = len(self.train_samples) + len(self.val_samples)
        need = feature_cache.check_size(shape, n, cfg.cache_cap_gb)
        key = feature_cache.cache_key(frozen, cfg.image_size, mean, std, self.train_samples + self.val_samples,
                                      cfg.crop_bottom)
        folder = feature_cache.cache_folder(self.project.cache_dir, key)
        self.emit(Event(LOG, f"feature cache: {n} images x {shape} fp16 = {feature_cache.human_bytes(need)} in {folder}",
                        data={"cache_bytes": need, "cache_dir": str(folder)}))
        arrays = {}
        for split in ("train", "val"):
            samples = getattr(self, f"{split}_samples")
            rows, bad = feature_cache.trunk_features(frozen, samples, folder / f"{split}.npy", cfg.image_size, mean, std,
                                                     cfg.crop_bottom, self.device, cfg.batch_size, cfg.num_workers,
                                                     self.emit, self.control, split, self.ctx)
            arrays[split] = feature_cache.FeatureDataset(rows, [s.label for s in samples], flip=cfg.augment and split == "train",
                                                         skip=list(bad))
            # Photos that could not be decoded are left out here too, so labels, sampler and geo targets agree.
            setattr(self, f"{split}_samples", [samples[i] for i in arrays[split].rows])
        if self.ctx.is_main:
            feature_cache.write_cache_note(folder, {"arch": cfg.arch, "image_size": cfg.image_size,
                                                    "shape": list(shape), "bytes": need})
        return self.model.head, arrays["train"], arrays["val"]

    def _restore(self, extra: Mapping[str, Any]) -> None:
        self.optimizer.load_state_dict(extra["optimizer"])
        if self.scaler is not None and extra.get("scaler"):
            self.scaler.load_state_dict(extra["scaler"])
        for key in ("epoch", "step_in_epoch", "global_step", "best_val_loss", "bad_epochs", "epoch_elapsed"):
            setattr(self, key, extra[key])
        self.best_val_acc = extra.get("best_val_acc")
        self.running = list(extra["running"]) if self.ctx.world_size == extra.get("world_size", 1) else [0.0, 0.0, 0.0]
        if "rng" in extra:
            torch.set_rng_state(extra["rng"])

    def _extra(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict() if self.scaler else {},
                "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                "best_val_acc": self.best_val_acc, "best_val_loss": self.best_val_loss, "bad_epochs": self.bad_epochs,
                "running": list(self.running), "epoch_elapsed": self.epoch_elapsed, "rng": torch.get_rng_state(),
                "world_size": self.ctx.world_size}

    def _save(self, which: str, metrics: Mapping[str, Any]) -> Path | None:
        if not self.ctx.is_main:
            return None
        self.meta.metrics = {**metrics, "epoch": self.epoch}
        target = runs.run_file(self.dir, runs.LAST if which == "last" else runs.BEST)
        save_bundle(target, self.model, self.meta, self._extra() if which == "last" else {})
        self.emit(Checkpoint(str(target), which, self.epoch, self.global_step).event(
            f"saved {which} checkpoint", scope="checkpoint"))
        return target

    def _autocast(self):
        if self.use_amp:
            return torch.autocast("cuda", dtype=torch.float16)
        return torch.autocast(self.device.type, enabled=False)

    # ------------------------------------------------------------------ loop
    def run(self) -> TrainResult:
        if isinstance(self.model, PROBE_MODELS):
            return self._run_probe()
        cfg = self.cfg
        total = cfg.epochs * self.steps_per_epoch
        self.emit(Event(LOG, f"{self.arch} on {self.device}, {len(self.classes)} cities, "
                             f"{len(self.train_samples)} train / {len(self.val_samples)} val images, "
                             f"{cfg.epochs} epochs x {self.steps_per_epoch} steps"
                             + (f", geo smoothing tau {cfg.geo_tau_km} km" if cfg.geo_smoothing else "")))
        if self.raw is not None:  # mark where the redone steps begin, instead of repeating records silently
            self.emit(Event(Kind.RESUME, f"resumed at epoch {self.epoch}, iteration {self.global_step}",
                            data={"epoch": self.epoch, "iteration": self.global_step}))
        # Re-seed here: building the feature cache (only on a run that finds no cache) draws from the global
        # generator, and dropout / augmentation must not depend on whether the cache already existed.
        torch.manual_seed(cfg.seed + self.global_step)
        status, reason = "finished", f"{cfg.epochs} epochs done"
        epoch_times: list[float] = []
        last_metrics: dict[str, Any] = {}
        try:
            while self.epoch < cfg.epochs:
                self._train_epoch(total)
                started = time.perf_counter()
                train_loss, correct, seen = distributed.all_sum(self.ctx, self.running)
                val = evaluate(self.net, self.val_loader, self.device, len(self.classes), self._autocast,
                               partial(self._skip, "val")) \
                    if self.ctx.is_main else None
                val = distributed.broadcast(self.ctx, val)
                elapsed = self.epoch_elapsed + time.perf_counter() - started
                self.epoch += 1
                self.step_in_epoch, self.running, self.epoch_elapsed = 0, [0.0, 0.0, 0.0], 0.0
                epoch_times.append(elapsed)
                improved = self.best_val_acc is None or val["val_acc"] > self.best_val_acc
                if improved:
                    self.best_val_acc = val["val_acc"]
                if val["val_loss"] < self.best_val_loss - 1e-4:
                    self.best_val_loss, self.bad_epochs = val["val_loss"], 0
                else:
                    self.bad_epochs += 1
                last_metrics = {"train_loss": train_loss / max(1, seen), "train_acc": correct / max(1, seen), **val,
                                "best_val_acc": self.best_val_acc}
                if improved:
                    self._save("best", last_metrics)
                self._save("last", last_metrics)
                eta = (cfg.epochs - self.epoch) * (sum(epoch_times) / len(epoch_times))
                done = EpochMetrics(epoch=self.epoch, epochs=cfg.epochs, **last_metrics, epoch_time=elapsed, eta_s=eta)
                line = (f"epoch {self.epoch}/{cfg.epochs}  train loss {done.train_loss:.4f} acc {done.train_acc:.3f}"
                        f"  val loss {done.val_loss:.4f} acc {done.val_acc:.3f} F1 {done.val_macro_f1:.3f}"
                        f"  {elapsed:.1f}s" + ("  *best*" if improved else ""))
                self.emit(done.event(line, done=self.epoch, total=cfg.epochs, scope="epoch"))
                self.emit(Event(LOG, line))
                if cfg.patience and self.bad_epochs >= cfg.patience and self.epoch < cfg.epochs:
                    status, reason = "finished", f"early stop: val loss did not improve for {cfg.patience} epochs"
                    self.emit(Event(LOG, reason))
                    break
        except Cancelled:
            status, reason = "stopped", "stopped by the user"
            self._save("last", last_metrics)
        except BaseException as exc:
            self._finish_failed(exc)
            raise
        skipped = sum(len(s) for s in self.skipped.values())
        if skipped:
            self.emit(Event(LOG, f"{skipped} photos could not be decoded and were skipped (each named above)",
                            data={"skipped": skipped}))
        return self._result(status, reason)

    def _run_probe(self) -> TrainResult:
        """A linear probe has no epochs: extract (cached) view features, fit, save best.pt = last.pt."""
        cfg = self.cfg
        self.emit(Event(LOG, f"{self.arch}: linear probe on frozen features, {len(self.classes)} cities, "
                             f"{len(self.train_samples)} train / {len(self.val_samples)} val images, "
                             f"class balance {cfg.class_balance}"))
        started = time.perf_counter()
        try:
            metrics = train_probe(self.model, self.train_samples, self.val_samples, cfg.image_size, self.meta.mean,
                                  self.meta.std, cfg.crop_bottom, self.project.cache_dir, cfg.class_balance, cfg.seed,
                                  self.emit, self.control, refit=cfg.refit, num_workers=cfg.num_workers,
                                  ctx=self.ctx)
        except Cancelled:
            return self._result("stopped", "stopped by the user")
        except BaseException as exc:
            self._finish_failed(exc)
            raise
        self.epoch, self.best_val_acc = 1, metrics["val_acc"]
        metrics = {**metrics, "best_val_acc": self.best_val_acc}
        self._save("best", metrics)
        self._save("last", metrics)
        elapsed = time.perf_counter() - started
        line = (f"probe {describe_c(metrics)} (inner CV)  train acc {metrics['train_acc']:.3f}  val loss "
                f"{metrics['val_loss']:.4f} acc {metrics['val_acc']:.3f} F1 {metrics['val_macro_f1']:.3f}  {elapsed:.1f}s")
        done = EpochMetrics(epoch=1, epochs=1, epoch_time=elapsed, eta_s=0.0, **{
            k: metrics[k] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "val_macro_f1", "best_val_acc")})
        self.emit(done.event(line, done=1, total=1, scope="epoch"))
        self.emit(Event(LOG, line))
        if metrics["refit_images"]:
            self.emit(Event(LOG, f"val figures are the train-only fit's, measured before the refit: the saved probe is "
                                 f"refit on train + val ({metrics['refit_images']} images, C by inner CV over them; --no-refit "
                                 "keeps the train-only fit)"))
        return self._result("finished", "linear probe fitted")

    def _result(self, status: str, reason: str) -> TrainResult:
        result = TrainResult(run_id=self.run_id, run_dir=str(self.dir), status=status, epochs_done=self.epoch,
                             best_val_acc=self.best_val_acc,
                             best_checkpoint=str(self.dir / runs.BEST) if (self.dir / runs.BEST).is_file() else None,
                             last_checkpoint=str(self.dir / runs.LAST) if (self.dir / runs.LAST).is_file() else None,
                             stop_reason=reason)
        if self.ctx.is_main:
            self.relay.stop()
            runs.set_status(self.dir, status, reason=reason, **self._progress())
            self.emit(Event(DONE, reason, scope="training", data=result.to_dict()))
            self.writer.close()
        return result

    def _train_epoch(self, total: int) -> None:
        cfg = self.cfg
        self.sampler.set_epoch(self.epoch)
        self.sampler.set_start(self.step_in_epoch * cfg.batch_size)
        generator = torch.Generator().manual_seed(cfg.seed * 100_003 + self.epoch * 101 + self.ctx.rank)
        loader = DataLoader(self.train_set, batch_size=cfg.batch_size, sampler=self.sampler,
                            num_workers=0 if cfg.cache_features else cfg.num_workers, generator=generator,
                            pin_memory=self.device.type == "cuda", drop_last=False)
        warmup = int(cfg.warmup_epochs * self.steps_per_epoch)
        take_request = getattr(self.control, "take_checkpoint_request", lambda: False)
        self.net.train()
        tick = time.perf_counter()
        epoch_start = tick
        try:
            self._iterate(loader, total, warmup, take_request, tick)
        finally:
            self.epoch_elapsed += time.perf_counter() - epoch_start

    def _checkpoint(self) -> None:
        """`Control.checkpoint`, agreed by every rank under DDP: a stop or pause seen by one rank (rank 0's
        control.json relay, Ctrl+C in one terminal) holds all of them before the same iteration, so none is
        left waiting alone in a gradient all-reduce; a pause polls that agreement every 0.2 s, which also
        keeps the process group's collective timeout from expiring during a long pause."""
        if self.relay is not None:
            self.relay.check()  # control.json between iterations, not only on the relay thread's tick
        if not self.ctx.enabled:
            self.control.checkpoint()
            return
        while True:
            cancelled, paused = distributed.any_rank(self.ctx, [self.control.cancelled, self.control.paused],
                                                     self.device)
            if cancelled:
                raise Cancelled()
            if not paused:
                return
            time.sleep(0.2)

    def _iterate(self, loader: DataLoader, total: int, warmup: int, take_request: Any, tick: float) -> None:
        cfg = self.cfg
        for images, labels, index in loader:
            if self.step_in_epoch >= self.steps_per_epoch:
                break
            self._checkpoint()  # pause blocks here; stop raises Cancelled before any half step
            images, labels, index = decoded_only(images, labels, index, partial(self._skip, "train"))
            if not len(labels):
                continue
            lr = self.lr * lr_factor(self.global_step, total, warmup, cfg, self.steps_per_epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            images, targets = _to_device(images, self.device), labels.to(self.device, non_blocking=True)
            with self._autocast():
                logits = self.ddp(images)
                loss = self.loss_fn(logits, targets, index)
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                self.optimizer.step()
            value = loss.item()
            if not math.isfinite(value):
                raise GeoSpottrError(f"the loss became {value} at iteration {self.global_step}: lower --lr")
            n = len(labels)
            self.running[0] += value * n
            self.running[1] += (logits.detach().argmax(1) == targets).sum().item()
            self.running[2] += n
            self.step_in_epoch += 1
            self.global_step += 1
            now = time.perf_counter()
            ips = n * self.ctx.world_size / max(now - tick, 1e-9)
            tick = now
            self.emit(Iteration(iteration=self.global_step, loss=value, lr=lr, images_per_s=ips, epoch=self.epoch + 1,
                                step=self.step_in_epoch, steps=self.steps_per_epoch).event(scope="train"))
            self.emit(Event(PROGRESS, f"epoch {self.epoch + 1}/{cfg.epochs} loss {value:.3f}", done=self.global_step,
                            total=total, scope="training"))
            if take_request():
                self._save("last", {"train_loss": self.running[0] / max(1, self.running[2])})
