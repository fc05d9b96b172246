"""Ctrl+C before a run's first checkpoint (issue 27 item 1): the run stays resumable (it starts again in its
own folder with its own settings, reusing the features it cached), the printed hint runs as printed, and
the command exits 130 like every interrupted command."""

from __future__ import annotations

import shlex
import signal

from core.cli import render
from core.cli.main import main
from core.events import PROGRESS
from core.training import runs
from core.training.trainer import TrainControl, train

from .helpers import fast_config
from .test_probe_balance import TINY_PROBE


def _interrupt_at_first_cache_progress(monkeypatch) -> None:
    """Press Ctrl+C (a real SIGINT to this process) when feature caching reports its first progress."""
    original = render.ProgressPrinter.__call__
    pressed = []

    def call(self, event):
        if event.kind == PROGRESS and event.scope.startswith("cache") and not pressed:
            pressed.append(True)
            signal.raise_signal(signal.SIGINT)
        return original(self, event)

    monkeypatch.setattr(render.ProgressPrinter, "__call__", call)


def test_ctrl_c_while_caching_exits_130_and_the_hint_restarts_the_run(small_project, capsys, monkeypatch):
    base = ["--project", str(small_project.root), "train"]
    flags = ["--arch", "efficientnet-lite0", "--head", "finetune", "--cache-features", "--weights", "none",
             "--image-size", "32", "--epochs", "1", "--batch-size", "8", "--workers", "0", "--device", "cpu"]
    _interrupt_at_first_cache_progress(monkeypatch)
    assert main([*base, *flags]) == 130
    out = capsys.readouterr().out
    assert "best checkpoint: None" not in out
    hint_line = next(line for line in out.splitlines() if "train --resume" in line)
    assert hint_line.startswith("stopped before its first checkpoint; start it again with the same settings: ")
    hint = shlex.split(hint_line.split(": ", 1)[1])
    assert hint[:3] == ["geospottr", "--project", str(small_project.root)]
    monkeypatch.undo()
    assert main(hint[1:]) == 0  # the hint runs as printed, and finishes the run in its own folder
    out = capsys.readouterr().out
    run_id = hint[-1]
    assert f"run {run_id}: finished" in out and f"best checkpoint: {small_project.runs_dir / run_id}" in out


def test_a_probe_stopped_while_caching_is_started_again_by_resume(small_project):
    control = TrainControl()
    config = fast_config(arch="efficientnet-lite0-probe", image_size=48, arch_kwargs=TINY_PROBE)

    def on_event(event):
        if event.kind == PROGRESS and event.scope == "cache train":
            control.cancel()  # honoured before the next batch of photos

    stopped = train(small_project, config, on_event=on_event, control=control)
    assert stopped.status == "stopped" and stopped.last_checkpoint is None
    assert runs.run_info(small_project.runs_dir / stopped.run_id).status == "stopped"
    again = train(small_project, resume=stopped.run_id)
    assert again.run_id == stopped.run_id and again.status == "finished" and again.best_checkpoint
    assert runs.run_info(small_project.runs_dir / stopped.run_id).status == "finished"


def test_runs_follow_on_a_run_stopped_before_its_checkpoint_gives_the_same_hint(tmp_path, capsys):
    from tests.core.training.test_best_model import make_run

    assert main(["init", str(tmp_path / "p")]) == 0
    run = make_run(tmp_path / "p" / "runs", "20261207-100000-efficientnet-lite0", "stopped", [], "2026-12-07T10:00:00",
                   best=False)
    (run / "last.pt").unlink()
    capsys.readouterr()
    assert main(["--project", str(tmp_path / "p"), "runs", "--follow", run.name]) == 0
    out = capsys.readouterr().out
    assert f"run {run.name}: stopped" in out
    hint = next(line for line in out.splitlines() if "--resume" in line)
    assert hint.startswith("stopped before its first checkpoint; start it again with the same settings: geospottr "
                           f"--project {tmp_path / 'p'} train --resume {run.name}")
