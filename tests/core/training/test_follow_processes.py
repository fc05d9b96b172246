"""A run trained by one `geospottr train` process, watched and steered from other processes:
`geospottr runs --follow` prints its epoch lines live, `geospottr runs --send` pauses and stops it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from core.training import runcontrol, runs
from core.training.follow import RunFollower
from tests.conftest import REPO
from tests.core.training.test_processes import TRAIN_ARGS, _env, project  # noqa: F401 - fixture


def wait_for(predicate, timeout=120.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_follow_prints_epoch_lines_live_and_send_pauses_and_stops_another_process(project):  # noqa: F811
    cmd = [sys.executable, "-m", "core", "--project", str(project.root)]
    trainer = subprocess.Popen(cmd + TRAIN_ARGS + ["--epochs", "500", "--max-steps", "2"], env=_env(), cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    follower = None
    try:
        run_id = trainer.stdout.readline().strip().removeprefix("run id: ")
        follower = subprocess.Popen(cmd + ["runs", "--follow", run_id], env=_env(), cwd=REPO,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        err_lines: list[str] = []  # the follower's terminal, read live
        reader = threading.Thread(target=lambda: err_lines.extend(line.rstrip("\n") for line in follower.stderr),
                                  daemon=True)
        reader.start()
        run = project.runs_dir / run_id
        wait_for(lambda: runs.run_info(run).epochs_done >= 2, what="two epochs")
        out = subprocess.run(cmd + ["runs", "--send", "pause", run_id], env=_env(), cwd=REPO,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and f"sent pause (#1) to run {run_id}" in out.stdout
        tail = RunFollower(run)
        wait_for(lambda: tail.poll() is not None and tail.state.paused, what="the paused acknowledgement")
        assert runs.run_info(run).paused
        # A user watching sees "paused" before deciding to stop (the follower looks every 0.5 s).
        wait_for(lambda: "paused" in err_lines, what="the follower's paused line")
        subprocess.run(cmd + ["runs", "--send", "stop", run_id], env=_env(), cwd=REPO, check=True, timeout=60)
        trainer.wait(120)
        assert f"run {run_id}: stopped" in trainer.stdout.read()  # a paused run stops at once, cleanly
        follower.wait(60)
        reader.join(10)
        out = follower.stdout.read()
    finally:
        for proc in (trainer, follower):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert follower.returncode == 0, err_lines
    # The same lines `geospottr train` prints, in order, from the same run's file.
    epoch_lines = [line for line in err_lines if line.startswith("epoch ")]
    assert epoch_lines[0].startswith("epoch 1/500  train loss") and epoch_lines[1].startswith("epoch 2/500")
    assert "paused" in err_lines
    assert f"run {run_id}: stopped (stopped by the user)" in out and f"train --resume {run_id}" in out


def test_follow_and_monitor_name_an_unknown_run_in_one_line(project):  # noqa: F811
    from core.cli.train_cmds import monitor_command

    cmd = [sys.executable, "-m", "core", "--project", str(project.root)]
    for args in (["runs", "--follow", "nope"], ["monitor", "nope"], ["runs", "--send", "stop", "nope"]):
        out = subprocess.run(cmd + args, env=_env(), cwd=REPO, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and out.stderr.strip().startswith("geospottr: error: no run 'nope' in this project")
    assert monitor_command(project.runs_dir / "r")[-2:] == ["--monitor", str(project.runs_dir / "r")]


def test_under_torchrun_every_rank_pauses_and_stops_at_the_same_iteration(project):  # noqa: F811
    """DDP with 2 CPU processes: rank 0 reads control.json, all ranks agree, no rank is left waiting alone."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "core", "--project", str(project.root)] + TRAIN_ARGS + ["--epochs", "500", "--max-steps", "2"]
    proc = subprocess.Popen(cmd, env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = wait_for(lambda: next(iter(project.runs_dir.iterdir()), None) if project.runs_dir.is_dir() else None,
                       what="the run folder")
        wait_for(lambda: runs.run_info(run).epochs_done >= 1, what="an epoch")
        runcontrol.send_command(run, "pause")
        tail = RunFollower(run)
        wait_for(lambda: tail.poll() is not None and tail.state.paused, what="the paused acknowledgement")
        held = len(runs.read_metrics(run, ("iteration",)))
        time.sleep(1.5)
        assert len(runs.read_metrics(run, ("iteration",))) <= held + 1
        runcontrol.send_command(run, "stop")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert f"run {run.name}: stopped" in out
    assert runs.run_info(run).status == "stopped" and (run / runs.LAST).is_file()
