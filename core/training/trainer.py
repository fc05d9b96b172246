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

A run is resolved first (`runsetup.set_up`: data, recipe, model, run id; nothing written), then opened
(`runlog.RunLog`: config.json, metrics.jsonl, the relay), then trained: a linear probe by `_run_probe`
(one fit, no optimizer, sampler or DDP wrapper), anything else by the epoch loop `_FineTune`.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Callable, Mapping, NamedTuple

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..data.project import Project
from ..devices import pick_device
from ..errors import Cancelled, GeoSpottrError
from ..events import LOG, PROGRESS, WARNING, Control, Event, EventCallback, Kind, ignore_events
from . import cache as feature_cache
from . import distributed, runs
from .balance import BalancedSampler, balance_weights
from .config import DEFAULT_LR, RESUME_OVERRIDES, TrainConfig
from .data import ImageDataset, Sample, decoded_only, undecodable_reason
from .losses import TrainingLoss, geo_targets
from .metrics import EpochMetrics, Iteration
from .optimization import lr_factor, make_optimizer
from .probe import describe_c, train_probe
from .runlog import RunLog
from .runsetup import RunSetup, resolve, set_up
from .transforms import eval_transform, train_transform
from .validation import evaluate, to_device

__all__ = ["DEFAULT_LR", "RESUME_OVERRIDES", "TrainConfig", "TrainControl", "TrainResult", "evaluate", "lr_factor",
           "train"]


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


def train(project: Project, config: TrainConfig | None = None, on_event: EventCallback = ignore_events,
          control: Control | None = None, *, resume: str | None = None,
          overrides: Mapping[str, Any] | None = None) -> TrainResult:
    """Train a model on `project` (or continue run `resume`, changing only `overrides` in RESUME_OVERRIDES)."""
    control = control or TrainControl()
    cfg, path, raw = resolve(project, config, resume, overrides)
    device = pick_device(cfg.device)
    ctx = distributed.setup(device.type)
    if ctx.enabled and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
    try:
        setup = set_up(project, cfg, path, raw, device, ctx)
        state = LoopState(epochs=cfg.epochs)
        log = RunLog.open(setup, on_event, control, state.progress)
        if setup.is_probe:
            return _run_probe(setup, log, state, control)
        try:
            loop = _FineTune(setup, log, state, control)
        except BaseException as exc:
            log.fail(exc)
            raise
        return loop.run()
    finally:
        distributed.teardown(ctx)


@dataclass
class LoopState:
    """Where a run is: what status.json publishes (`progress`, called from the relay thread: plain fields
    only, valid from the moment the run is opened) and what last.pt keeps to resume."""

    epochs: int
    steps_per_epoch: int = 0  # known once the training set is built; stays 0 for a probe
    epoch: int = 0  # completed epochs
    step_in_epoch: int = 0
    global_step: int = 0
    best_val_acc: float | None = None
    best_val_loss: float = math.inf
    bad_epochs: int = 0
    running: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # loss sum, correct, seen (this rank)
    epoch_elapsed: float = 0.0

    #: The counters last.pt stores under their own names (with best_val_acc and running, restored apart).
    RESTORED = ("epoch", "step_in_epoch", "global_step", "best_val_loss", "bad_epochs", "epoch_elapsed")

    def progress(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "epochs": self.epochs, "iteration": self.global_step,
                "total": self.steps_per_epoch * self.epochs}

    def saved(self, ctx: distributed.DistContext) -> dict[str, Any]:
        """The resume state of last.pt (the loop adds its optimizer's)."""
        return {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                "best_val_acc": self.best_val_acc, "best_val_loss": self.best_val_loss, "bad_epochs": self.bad_epochs,
                "running": list(self.running), "epoch_elapsed": self.epoch_elapsed, "rng": torch.get_rng_state(),
                "world_size": ctx.world_size}

    def restore(self, extra: Mapping[str, Any], ctx: distributed.DistContext) -> None:
        for key in self.RESTORED:
            setattr(self, key, extra[key])
        self.best_val_acc = extra.get("best_val_acc")
        self.running = list(extra["running"]) if ctx.world_size == extra.get("world_size", 1) else [0.0, 0.0, 0.0]
        if "rng" in extra:
            torch.set_rng_state(extra["rng"])


def _result(setup: RunSetup, log: RunLog, state: LoopState, status: str, reason: str) -> TrainResult:
    """The run's outcome, told to its listeners and status.json (`RunLog.finish`)."""
    result = TrainResult(run_id=setup.run_id, run_dir=str(log.dir), status=status, epochs_done=state.epoch,
                         best_val_acc=state.best_val_acc, best_checkpoint=log.checkpoint_path(runs.BEST),
                         last_checkpoint=log.checkpoint_path(runs.LAST), stop_reason=reason)
    log.finish(status, reason, result.to_dict())
    return result


def _run_probe(setup: RunSetup, log: RunLog, state: LoopState, control: Control) -> TrainResult:
    """A linear probe has no epochs: extract (cached) view features, fit, save best.pt = last.pt."""
    cfg, emit = setup.cfg, log.emit
    emit(Event(LOG, f"{setup.arch}: linear probe on frozen features, {len(setup.classes)} cities, "
                    f"{len(setup.train_samples)} train / {len(setup.val_samples)} val images, "
                    f"class balance {cfg.class_balance}"))
    started = time.perf_counter()
    try:
        metrics = train_probe(setup.model, setup.train_samples, setup.val_samples, setup.image_size, setup.meta.mean,
                              setup.meta.std, cfg.crop_bottom, setup.project.cache_dir, cfg.class_balance, cfg.seed,
                              emit, control, refit=cfg.refit, num_workers=cfg.num_workers, ctx=setup.ctx)
    except Cancelled:
        return _result(setup, log, state, "stopped", "stopped by the user")
    except BaseException as exc:
        log.fail(exc)
        raise
    state.epoch, state.best_val_acc = 1, metrics["val_acc"]
    metrics = {**metrics, "best_val_acc": state.best_val_acc}
    for which in ("best", "last"):
        log.save(which, setup.model, setup.meta, metrics, state.epoch, state.global_step,
                 partial(state.saved, setup.ctx))
    elapsed = time.perf_counter() - started
    line = (f"probe {describe_c(metrics)} (inner CV)  train acc {metrics['train_acc']:.3f}  val loss "
            f"{metrics['val_loss']:.4f} acc {metrics['val_acc']:.3f} F1 {metrics['val_macro_f1']:.3f}  {elapsed:.1f}s")
    done = EpochMetrics(epoch=1, epochs=1, epoch_time=elapsed, eta_s=0.0, **{
        k: metrics[k] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "val_macro_f1", "best_val_acc")})
    emit(done.event(line, done=1, total=1, scope="epoch"))
    emit(Event(LOG, line))
    if metrics["refit_images"]:
        emit(Event(LOG, f"val figures are the train-only fit's, measured before the refit: the saved probe is "
                        f"refit on train + val ({metrics['refit_images']} images, C by inner CV over them; --no-refit "
                        "keeps the train-only fit)"))
    return _result(setup, log, state, "finished", "linear probe fitted")


class _Data(NamedTuple):
    """What a fine-tune trains: the network stepped (the whole model, or only its head over cached frozen
    features) and its datasets, with the samples they hold (photos the cache could not decode left out)."""

    net: nn.Module
    train_set: Dataset
    val_set: Dataset
    train_samples: list[Sample]
    val_samples: list[Sample]


def _datasets(setup: RunSetup, emit: EventCallback, control: Control) -> _Data:
    """Photos decoded on the fly, or (--cache-features) the frozen stages' features computed once."""
    cfg, size, mean, std, model = setup.cfg, setup.image_size, setup.meta.mean, setup.meta.std, setup.model
    train_samples, val_samples = setup.train_samples, setup.val_samples
    evaluation = eval_transform(size, mean, std, cfg.crop_bottom)
    if not cfg.cache_features:
        augmented = train_transform(size, mean, std, cfg.crop_bottom) if cfg.augment else evaluation
        return _Data(model, ImageDataset(train_samples, size, augmented),
                     ImageDataset(val_samples, size, evaluation), train_samples, val_samples)
    frozen = model.frozen
    shape = feature_cache.feature_shape(frozen.cpu(), size)
    frozen.to(setup.device)
    n = len(train_samples) + len(val_samples)
    need = feature_cache.check_size(shape, n, cfg.cache_cap_gb)
    key = feature_cache.cache_key(frozen, size, mean, std, train_samples + val_samples, cfg.crop_bottom)
    folder = feature_cache.cache_folder(setup.project.cache_dir, key)
    emit(Event(LOG, f"feature cache: {n} images x {shape} fp16 = {feature_cache.human_bytes(need)} in {folder}",
               data={"cache_bytes": need, "cache_dir": str(folder)}))
    arrays, kept = {}, {}
    for split, samples in (("train", train_samples), ("val", val_samples)):
        rows, bad = feature_cache.trunk_features(frozen, samples, folder / f"{split}.npy", size, mean, std,
                                                 cfg.crop_bottom, setup.device, cfg.batch_size, cfg.num_workers,
                                                 emit, control, split, setup.ctx)
        arrays[split] = feature_cache.FeatureDataset(rows, [s.label for s in samples], flip=cfg.augment and split == "train",
                                                     skip=list(bad))
        # Photos that could not be decoded are left out here too, so labels, sampler and geo targets agree.
        kept[split] = [samples[i] for i in arrays[split].rows]
    if setup.ctx.is_main:
        feature_cache.write_cache_note(folder, {"arch": cfg.arch, "image_size": size,
                                                "shape": list(shape), "bytes": need})
    return _Data(model.head, arrays["train"], arrays["val"], kept["train"], kept["val"])


class _FineTune:
    """The epoch loop of a fine-tune. `__init__` builds everything it steps (datasets, under the open run
    log since building a feature cache reports and can be stopped; sampler, DDP wrapper, optimizer, loss)
    and restores a resumed run's state; `run()` trains."""

    def __init__(self, setup: RunSetup, log: RunLog, state: LoopState, control: Control) -> None:
        cfg, device, ctx = setup.cfg, setup.device, setup.ctx
        self.setup, self.cfg, self.log, self.state, self.control = setup, cfg, log, state, control
        self.device, self.ctx, self.emit = device, ctx, log.emit
        self.skipped: dict[str, set[int]] = {"train": set(), "val": set()}
        self.use_amp: bool = cfg.amp and device.type == "cuda"
        self.scaler: torch.amp.GradScaler | None = torch.amp.GradScaler("cuda") if self.use_amp else None
        data = _datasets(setup, log.emit, control)
        self.net: nn.Module = data.net
        self.samples: dict[str, list[Sample]] = {"train": data.train_samples, "val": data.val_samples}
        self.train_set: Dataset = data.train_set
        self.val_loader = DataLoader(data.val_set, batch_size=cfg.batch_size, shuffle=False,
                                     num_workers=0 if cfg.cache_features else cfg.num_workers)
        labels = [s.label for s in data.train_samples]
        num_classes = len(setup.classes)
        self.sampler: distributed.ResumableSampler = (
            BalancedSampler(data.train_set, ctx, cfg.seed, labels, num_classes) if cfg.class_balance == "sampler"
            else distributed.ResumableSampler(data.train_set, ctx, seed=cfg.seed))
        self.ddp: nn.Module = nn.parallel.DistributedDataParallel(
            self.net, device_ids=[device.index] if device.type == "cuda" else None) if ctx.enabled else self.net
        self.optimizer: torch.optim.Optimizer = make_optimizer(self.net, cfg, setup.lr)
        geo = None
        if cfg.geo_smoothing:
            assert cfg.geo_tau_km is not None  # set_up derived it
            geo = geo_targets(labels, [(s.lat, s.lon) for s in data.train_samples], setup.classes, cfg.geo_tau_km)
        weights = torch.from_numpy(balance_weights(labels, num_classes)).float() \
            if cfg.class_balance == "weighted" else None
        self.loss_fn = TrainingLoss(cfg.label_smoothing, geo, weights)
        state.steps_per_epoch = math.ceil(self.sampler.num_samples / cfg.batch_size)
        if cfg.max_steps:
            state.steps_per_epoch = min(state.steps_per_epoch, cfg.max_steps)
        if setup.raw is not None:
            self.optimizer.load_state_dict(setup.raw.extra["optimizer"])
            if self.scaler is not None and setup.raw.extra.get("scaler"):
                self.scaler.load_state_dict(setup.raw.extra["scaler"])
            state.restore(setup.raw.extra, ctx)

    def _skip(self, split: str, i: int) -> None:
        """Sample `i` of `split` could not be decoded: named once in the run log, counted, left out."""
        if i not in self.skipped[split]:
            self.skipped[split].add(i)
            path = self.samples[split][i].path
            self.emit(Event(WARNING, f"skipped {path}: {undecodable_reason(path)}", scope="training"))

    def _extra(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict() if self.scaler else {},
                **self.state.saved(self.ctx)}

    def _save(self, which: str, metrics: Mapping[str, Any]) -> None:
        self.log.save(which, self.setup.model, self.setup.meta, metrics, self.state.epoch, self.state.global_step,
                      self._extra)

    def _autocast(self) -> Any:
        if self.use_amp:
            return torch.autocast("cuda", dtype=torch.float16)
        return torch.autocast(self.device.type, enabled=False)

    # ------------------------------------------------------------------ loop
    def run(self) -> TrainResult:
        cfg, st, setup = self.cfg, self.state, self.setup
        total = cfg.epochs * st.steps_per_epoch
        self.emit(Event(LOG, f"{setup.arch} on {self.device}, {len(setup.classes)} cities, "
                             f"{len(self.samples['train'])} train / {len(self.samples['val'])} val images, "
                             f"{cfg.epochs} epochs x {st.steps_per_epoch} steps"
                             + (f", geo smoothing tau {cfg.geo_tau_km} km" if cfg.geo_smoothing else "")))
        if setup.raw is not None:  # mark where the redone steps begin, instead of repeating records silently
            self.emit(Event(Kind.RESUME, f"resumed at epoch {st.epoch}, iteration {st.global_step}",
                            data={"epoch": st.epoch, "iteration": st.global_step}))
        # Re-seed here: building the feature cache (only on a run that finds no cache) draws from the global
        # generator, and dropout / augmentation must not depend on whether the cache already existed.
        torch.manual_seed(cfg.seed + st.global_step)
        status, reason = "finished", f"{cfg.epochs} epochs done"
        epoch_times: list[float] = []
        last_metrics: dict[str, Any] = {}
        try:
            while st.epoch < cfg.epochs:
                self._train_epoch(total)
                started = time.perf_counter()
                train_loss, correct, seen = distributed.all_sum(self.ctx, st.running)
                val = evaluate(self.net, self.val_loader, self.device, len(setup.classes), self._autocast,
                               partial(self._skip, "val")) \
                    if self.ctx.is_main else None
                val = distributed.broadcast(self.ctx, val)
                elapsed = st.epoch_elapsed + time.perf_counter() - started
                st.epoch += 1
                st.step_in_epoch, st.running, st.epoch_elapsed = 0, [0.0, 0.0, 0.0], 0.0
                epoch_times.append(elapsed)
                improved = st.best_val_acc is None or val["val_acc"] > st.best_val_acc
                if improved:
                    st.best_val_acc = val["val_acc"]
                if val["val_loss"] < st.best_val_loss - 1e-4:
                    st.best_val_loss, st.bad_epochs = val["val_loss"], 0
                else:
                    st.bad_epochs += 1
                last_metrics = {"train_loss": train_loss / max(1, seen), "train_acc": correct / max(1, seen), **val,
                                "best_val_acc": st.best_val_acc}
                if improved:
                    self._save("best", last_metrics)
                self._save("last", last_metrics)
                eta = (cfg.epochs - st.epoch) * (sum(epoch_times) / len(epoch_times))
                done = EpochMetrics(epoch=st.epoch, epochs=cfg.epochs, **last_metrics, epoch_time=elapsed, eta_s=eta)
                line = (f"epoch {st.epoch}/{cfg.epochs}  train loss {done.train_loss:.4f} acc {done.train_acc:.3f}"
                        f"  val loss {done.val_loss:.4f} acc {done.val_acc:.3f} F1 {done.val_macro_f1:.3f}"
                        f"  {elapsed:.1f}s" + ("  *best*" if improved else ""))
                self.emit(done.event(line, done=st.epoch, total=cfg.epochs, scope="epoch"))
                self.emit(Event(LOG, line))
                if cfg.patience and st.bad_epochs >= cfg.patience and st.epoch < cfg.epochs:
                    status, reason = "finished", f"early stop: val loss did not improve for {cfg.patience} epochs"
                    self.emit(Event(LOG, reason))
                    break
        except Cancelled:
            status, reason = "stopped", "stopped by the user"
            self._save("last", last_metrics)
        except BaseException as exc:
            self.log.fail(exc)
            raise
        skipped = sum(len(s) for s in self.skipped.values())
        if skipped:
            self.emit(Event(LOG, f"{skipped} photos could not be decoded and were skipped (each named above)",
                            data={"skipped": skipped}))
        return _result(setup, self.log, st, status, reason)

    def _train_epoch(self, total: int) -> None:
        cfg, st = self.cfg, self.state
        self.sampler.set_epoch(st.epoch)
        self.sampler.set_start(st.step_in_epoch * cfg.batch_size)
        generator = torch.Generator().manual_seed(cfg.seed * 100_003 + st.epoch * 101 + self.ctx.rank)
        loader = DataLoader(self.train_set, batch_size=cfg.batch_size, sampler=self.sampler,
                            num_workers=0 if cfg.cache_features else cfg.num_workers, generator=generator,
                            pin_memory=self.device.type == "cuda", drop_last=False)
        warmup = int(cfg.warmup_epochs * st.steps_per_epoch)
        take_request: Callable[[], bool] = self.control.take_checkpoint_request \
            if isinstance(self.control, TrainControl) else (lambda: False)
        self.net.train()
        tick = time.perf_counter()
        epoch_start = tick
        try:
            self._iterate(loader, total, warmup, take_request, tick)
        finally:
            st.epoch_elapsed += time.perf_counter() - epoch_start

    def _checkpoint(self) -> None:
        """`Control.checkpoint`, agreed by every rank under DDP: a stop or pause seen by one rank (rank 0's
        control.json relay, Ctrl+C in one terminal) holds all of them before the same iteration, so none is
        left waiting alone in a gradient all-reduce; a pause polls that agreement every 0.2 s, which also
        keeps the process group's collective timeout from expiring during a long pause."""
        if self.log.relay is not None:
            self.log.relay.check()  # control.json between iterations, not only on the relay thread's tick
        paused_at = time.time() if self.control.paused else None
        if not self.ctx.enabled:
            self.control.checkpoint()
        else:
            while True:
                cancelled, paused = distributed.any_rank(self.ctx, [self.control.cancelled, self.control.paused],
                                                         self.device)
                if cancelled:
                    raise Cancelled()
                if not paused:
                    break
                paused_at = paused_at or time.time()
                time.sleep(0.2)
        if paused_at is not None:
            self._note_pause(time.time() - paused_at)

    def _note_pause(self, seconds: float) -> None:
        """Record where a pause in this process ended, as a ``resume`` record that redoes nothing: a run's
        wall-time axis leaves the wait out (`series.RunSeries.elapsed`), in the live plots and when the run
        is drawn again from metrics.jsonl, as it does for a stopped run resumed later."""
        st = self.state
        self.emit(Event(Kind.RESUME, f"continued after a pause of {seconds:.0f} s at epoch {st.epoch}, "
                                     f"iteration {st.global_step}",
                        data={"epoch": st.epoch, "iteration": st.global_step, "paused_s": round(seconds, 1)}))

    def _iterate(self, loader: DataLoader, total: int, warmup: int, take_request: Callable[[], bool],
                 tick: float) -> None:
        cfg, st = self.cfg, self.state
        for images, labels, index in loader:
            if st.step_in_epoch >= st.steps_per_epoch:
                break
            self._checkpoint()  # pause blocks here; stop raises Cancelled before any half step
            images, labels, index = decoded_only(images, labels, index, partial(self._skip, "train"))
            if not len(labels):
                continue
            lr = self.setup.lr * lr_factor(st.global_step, total, warmup, cfg, st.steps_per_epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            images, targets = to_device(images, self.device), labels.to(self.device, non_blocking=True)
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
                raise GeoSpottrError(f"the loss became {value} at iteration {st.global_step}: lower --lr")
            n = len(labels)
            st.running[0] += value * n
            st.running[1] += (logits.detach().argmax(1) == targets).sum().item()
            st.running[2] += n
            st.step_in_epoch += 1
            st.global_step += 1
            now = time.perf_counter()
            ips = n * self.ctx.world_size / max(now - tick, 1e-9)
            tick = now
            self.emit(Iteration(iteration=st.global_step, loss=value, lr=lr, images_per_s=ips, epoch=st.epoch + 1,
                                step=st.step_in_epoch, steps=st.steps_per_epoch).event(scope="train"))
            self.emit(Event(PROGRESS, f"epoch {st.epoch + 1}/{cfg.epochs} loss {value:.3f}", done=st.global_step,
                            total=total, scope="training"))
            if take_request():
                self._save("last", {"train_loss": st.running[0] / max(1, st.running[2])})
