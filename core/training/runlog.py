"""The run folder's side of a run: config.json, metrics.jsonl, status.json, checkpoints and the relay.

Everything a run writes or tells others goes through one `RunLog`, opened once the run is resolved
(`runsetup.set_up`), so the probe and the epoch loop report the same way and the setup never writes. Only
rank 0 writes; other ranks get a log whose events go nowhere.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

from torch import nn

from ..errors import Cancelled
from ..events import DONE, ERROR, LOG, WARNING, Control, Event, EventCallback, ignore_events
from ..models.bundle import BundleMeta, save_bundle
from . import runcontrol, runs
from .metrics import Checkpoint, RunStarted
from .runsetup import RunSetup

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


class _Emitter:
    """Fans events out to the caller's listener and metrics.jsonl; silent on non-zero ranks."""

    def __init__(self, on_event: EventCallback, writer: runs.MetricsWriter | None) -> None:
        self.on_event, self.writer = on_event, writer

    def __call__(self, event: Event) -> None:
        if self.writer is not None:
            self.writer(event)
        self.on_event(event)


class RunLog:
    """An open run folder. `open` writes config.json, starts metrics.jsonl and the control relay (which
    publishes ``progress()`` in status.json from its own thread) and emits ``RUN_STARTED``; `finish` or
    `fail` closes it."""

    def __init__(self, setup: RunSetup, on_event: EventCallback, control: Control,
                 progress: Callable[[], dict[str, Any]]) -> None:
        project, cfg, ctx, run_id = setup.project, setup.cfg, setup.ctx, setup.run_id
        # runs/ and the run folder are checked to stay inside the project (a symlink out is refused).
        self.dir: Path = runs.new_run_dir(project.runs_dir, run_id) if ctx.is_main else project.runs_dir / run_id
        self.is_main = ctx.is_main
        self.writer: runs.MetricsWriter | None = None
        self.relay: runcontrol.ControlRelay | None = None
        if ctx.is_main:
            created = (runs.read_run_json(self.dir / runs.CONFIG, "run config").str("created")
                       or datetime.now(timezone.utc).isoformat(timespec="seconds"))
            runs.write_json(runs.run_file(self.dir, runs.CONFIG), {
                **asdict(cfg), "refit": setup.refit, "model": setup.arch, "lr": setup.lr, "created": created,
                "classes": [c.slug for c in setup.classes], "world_size": ctx.world_size,
                "train_images": len(setup.train_samples), "val_images": len(setup.val_samples)})
            self.writer = runs.MetricsWriter(self.dir / runs.METRICS)
            # Rank 0 relays control.json commands (pause/resume/stop/save from other processes) to `control`
            # and keeps status.json's heartbeat; it also writes the first "running" status.
            self.relay = runcontrol.ControlRelay(self.dir, control, progress,
                                                 on_command=partial(say_command, on_event, run_id)).start()
        self.progress = progress
        self.emit = _Emitter(on_event if ctx.is_main else ignore_events, self.writer)

    @classmethod
    def open(cls, setup: RunSetup, on_event: EventCallback, control: Control,
             progress: Callable[[], dict[str, Any]]) -> "RunLog":
        """The run folder of `setup`, written and announced (see the class)."""
        log = cls(setup, on_event, control, progress)
        log.emit(RunStarted(setup.run_id, str(setup.device), setup.ctx.world_size).event(
            f"run {setup.run_id} ({setup.started_as})"))
        if setup.plan_note:
            log.emit(Event(LOG if setup.cfg.time_budget else WARNING, setup.plan_note, scope="time budget"))
        return log

    def save(self, which: str, model: nn.Module, meta: BundleMeta, metrics: Mapping[str, Any], epoch: int,
             iteration: int, extra: Callable[[], Mapping[str, Any]]) -> Path | None:
        """Write ``best.pt`` or ``last.pt`` (with the resume state `extra()`) and say so (rank 0 only)."""
        if not self.is_main:
            return None
        meta.metrics = {**metrics, "epoch": epoch}
        target = runs.run_file(self.dir, runs.LAST if which == "last" else runs.BEST)
        save_bundle(target, model, meta, extra() if which == "last" else {})
        self.emit(Checkpoint(str(target), which, epoch, iteration).event(f"saved {which} checkpoint", scope="checkpoint"))
        return target

    def checkpoint_path(self, name: str) -> str | None:
        """`name` (best.pt, last.pt) in the run folder when it was written, else None."""
        return str(self.dir / name) if (self.dir / name).is_file() else None

    def finish(self, status: str, reason: str, result: Mapping[str, Any]) -> None:
        """The run ended (finished or stopped): final status.json, the ``DONE`` event, metrics.jsonl closed."""
        if self.is_main:
            assert self.relay is not None and self.writer is not None
            self.relay.stop()
            runs.set_status(self.dir, status, reason=reason, **self.progress())
            self.emit(Event(DONE, reason, scope="training", data=dict(result)))
            self.writer.close()

    def fail(self, exc: BaseException) -> None:
        """The run ended with `exc` (which the caller raises): status.json and metrics.jsonl say so."""
        if self.is_main:
            assert self.relay is not None and self.writer is not None
            self.relay.stop()
            status = "stopped" if isinstance(exc, Cancelled) else "failed"
            runs.set_status(self.dir, status, error=str(exc)[:300])
            self.writer(Event(ERROR, f"training {status}: {exc}"))  # the caller gets the exception itself
            self.writer.close()
