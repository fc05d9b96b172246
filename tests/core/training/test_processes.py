"""Real processes: `geospottr train` killed with SIGKILL then resumed, and DDP with 2 CPU processes (gloo)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import pytest

from core.models.bundle import load_bundle
from core.training import runs
from tests.conftest import REPO, build_tiny_project

TRAIN_ARGS = ["train", "--arch", "baseline", "--image-size", "32", "--weights", "none", "--device", "cpu",
              "--workers", "0", "--batch-size", "8", "--patience", "0"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


@pytest.fixture
def project(tmp_path):
    p = build_tiny_project(tmp_path, per_city=10, size=(48, 36))
    yield p
    p.close()


def _wait_for_checkpoint(runs_dir, proc, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for run in runs_dir.iterdir() if runs_dir.is_dir() else []:
            if any(e["data"].get("which") == "last" for e in runs.read_metrics(run, ("checkpoint",))):
                return run
        assert proc.poll() is None, "training ended before its first checkpoint"
        time.sleep(0.05)
    raise AssertionError("no checkpoint within the timeout")


def test_a_killed_run_resumes_from_its_last_checkpoint(project):
    cmd = [sys.executable, "-m", "core", "--project", str(project.root)]
    proc = subprocess.Popen(cmd + TRAIN_ARGS + ["--epochs", "500"], env=_env(), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = _wait_for_checkpoint(project.runs_dir, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stdout.readline().strip() == f"run id: {run.name}"
    info = {r.run_id: r for r in runs.list_runs(project)}[run.name]
    assert info.status == "stopped" and info.last_checkpoint  # a dead "running" run reads as stopped
    done = info.epochs_done
    assert done >= 1
    out = subprocess.run(cmd + ["train", "--resume", run.name, "--epochs", str(done + 2)], env=_env(), cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"best checkpoint: {run / 'best.pt'}" in out.stdout
    epochs = [d.epoch for d in runs.iter_epochs(run)]
    assert epochs == list(range(1, done + 3))
    assert runs.run_info(run).status == "finished"
    model, meta = load_bundle(run / "best.pt")
    assert meta.run_id == run.name


def test_ddp_with_two_cpu_processes(project):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "core", "--project", str(project.root)] + TRAIN_ARGS + ["--epochs", "2"]
    out = subprocess.run(cmd, env=_env(), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    all_runs = runs.list_runs(project)
    assert len(all_runs) == 1  # rank 0 alone made the run folder and checkpoints
    info = all_runs[0]
    assert info.status == "finished" and info.epochs_done == 2
    config = runs.read_json(runs.run_dir(project.runs_dir, info.run_id) / runs.CONFIG)
    assert config["world_size"] == 2
    iterations = [e for e in runs.read_metrics(info.path, ("iteration",))]
    logs = [e["message"] for e in runs.read_metrics(info.path, ("log",))]
    steps = math.ceil(math.ceil(config["train_images"] / 2) / 8)  # each rank takes half of every epoch
    assert len(iterations) == 2 * steps and iterations[0]["data"]["steps"] == steps  # rank 0 alone logs
    assert sum(f"{config['train_images']} train" in m for m in logs) == 1
    load_bundle(info.best_checkpoint)
