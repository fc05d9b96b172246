"""Following a run from outside: the metrics tail (partial, damaged, truncated and replaced files), the
run state from status.json (dead process, stale heartbeat), and the control.json protocol."""

from __future__ import annotations

import json
import os
import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest

from core.errors import GeoSpottrError
from core.events import Control
from core.training import runcontrol, runs
from core.training.follow import MetricsTail, RunFollower, RunState, parse_lines
from core.training.trainer import TrainControl


def line(kind: str, **data) -> bytes:
    return (json.dumps({"kind": kind, "message": "", "done": None, "total": None, "scope": "", "data": data,
                        "time": 1.0}) + "\n").encode()


def test_the_tail_returns_only_new_complete_lines_and_keeps_a_partial_one_for_later(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line("iteration", iteration=1) + line("iteration", iteration=2)[:20])
    tail = MetricsTail(path)
    records, reset, _ = tail.read()
    assert [r["data"]["iteration"] for r in records] == [1] and not reset
    assert tail.read()[:2] == ([], False)  # the half line is still being written
    with path.open("ab") as fh:
        fh.write(line("iteration", iteration=2)[20:] + line("epoch", epoch=1))
    records, reset, _ = tail.read()
    assert [r["kind"] for r in records] == ["iteration", "epoch"] and records[0]["data"]["iteration"] == 2
    assert not reset


def test_a_damaged_line_is_skipped_and_the_rest_kept(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line("iteration", iteration=1) + b'{"kind": "iterat\xff\n' + b"[1, 2]\n"
                     + line("iteration", iteration=3))
    records, _, _ = MetricsTail(path).read()
    assert [r["data"]["iteration"] for r in records] == [1, 3]


def test_a_truncated_or_replaced_file_is_read_again_from_the_start(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"".join(line("iteration", iteration=i) for i in range(1, 6)))
    tail = MetricsTail(path)
    assert len(tail.read()[0]) == 5
    path.write_bytes(line("iteration", iteration=7))  # truncated and rewritten: smaller
    records, reset, _ = tail.read()
    assert reset and [r["data"]["iteration"] for r in records] == [7]
    # Replaced by another file of the same size (a new inode), then rewritten in place with other first bytes.
    other = tmp_path / "other.jsonl"
    other.write_bytes(line("iteration", iteration=8))
    os.replace(other, path)
    records, reset, _ = tail.read()
    assert reset and [r["data"]["iteration"] for r in records] == [8]
    with path.open("r+b") as fh:
        fh.write(line("epoch", epoch=9)[:len(line("iteration", iteration=8))])
    assert tail.read().reset
    path.unlink()
    assert tail.read()[:2] == ([], True)


def test_of_many_progress_records_only_the_newest_is_kept_in_place():
    chunk = b"".join([line("progress", n=1), line("iteration", iteration=1), line("progress", n=2),
                      line("log"), line("done")])
    assert [(r["kind"], r["data"].get("n")) for r in parse_lines(chunk)[0]] == [
        ("iteration", None), ("progress", 2), ("log", None), ("done", None)]
    assert len(parse_lines(chunk, coalesce=frozenset())[0]) == 5


def test_a_history_brings_its_iterations_as_columns_whatever_their_layout(tmp_path):
    """The fast pattern path and the JSON fallback (a line in another layout) give the same numbers."""
    import math

    from core.events import Event
    from core.training.metrics import Iteration

    def write(folder, old_layout: bool):
        """The trainer's records; `old_layout`: as runs written before the typed payloads (loss first)."""
        folder.mkdir()
        writer = runs.MetricsWriter(folder / runs.METRICS)
        for i, loss in enumerate([2.0, float("nan"), 1e-7, float("inf")], start=1):
            point = Iteration(iteration=i, loss=loss, lr=0.01 / i, images_per_s=3.0, epoch=1, step=i, steps=4)
            if old_layout:
                writer(Event("iteration", data={"loss": loss, "lr": 0.01 / i, "images_per_s": 3.0, "epoch": 1,
                                                "iteration": i, "step": i, "steps": 4}))
            else:
                writer(point.event(scope="train"))
            writer(Event("progress", done=i, total=4, scope="training"))
        writer(Event("epoch", data={"epoch": 1}))
        writer.close()
        return folder / runs.METRICS

    for old_layout in (False, True):
        tail = MetricsTail(write(tmp_path / str(old_layout), old_layout))
        read = tail.read(columns=True)
        rows = read.iterations.tolist()
        assert [r[0] for r in rows] == [1, 2, 3, 4] and rows[0][1:3] == [2.0, 0.01] and rows[0][3] > 0  # + its time
        assert math.isnan(rows[1][1]) and rows[2][1] == 1e-7 and rows[3][1] == float("inf")
        assert [r["kind"] for r in read.records] == ["iteration", "progress", "epoch"]  # the newest of each
        assert read.records[0]["data"]["iteration"] == 4
        # A foreign line makes the reader pick lines one by one instead of by pattern: same result.
        data = tail.path.read_bytes()
        records, iterations = parse_lines(b"not a record\n" + data, columns=True)
        assert records == read.records and iterations.tolist()[0] == rows[0]
    odd = line("iteration", iteration=5, lr=0.5, loss=0.25)  # keys in another order: decoded as JSON
    assert parse_lines(odd + line("iteration", iteration=6, loss=1.0, lr=2.0), columns=True)[1][:, :3].tolist() == [
        [5.0, 0.25, 0.5], [6.0, 1.0, 2.0]]
    with tail.path.open("ab") as fh:
        fh.write(odd)
    assert tail.read(columns=True).iterations is None  # later reads are small: plain records


def status(tmp_path, **fields):
    runs.write_json(tmp_path / runs.STATUS, fields)
    return RunState.from_status(runs.read_json(tmp_path / runs.STATUS))


def test_a_running_run_whose_process_is_gone_reads_as_stopped(tmp_path):
    now = datetime.now(timezone.utc)
    here = socket.gethostname()
    assert status(tmp_path, status="running", pid=os.getpid(), host=here).status == "running"
    dead = status(tmp_path, status="running", pid=2**22 + 12345, host=here)
    assert dead.status == "stopped" and dead.recorded == "running" and "resume" in dead.reason
    assert status(tmp_path, status="running", pid=0, host=here).status == "stopped"
    # Another machine (a shared folder): the heartbeat decides.
    fresh = status(tmp_path, status="running", pid=1, host="elsewhere", updated=now.isoformat(), paused=True)
    assert fresh.status == "running" and fresh.paused
    old = (now - timedelta(seconds=runs.STALE_S + 5)).isoformat()
    assert status(tmp_path, status="running", pid=1, host="elsewhere", updated=old).status == "stopped"
    assert status(tmp_path, status="finished", pid=1, host="elsewhere").ended
    assert RunState.from_status({}).status == "starting"


def test_the_follower_reports_records_and_state_changes_once(tmp_path):
    runs.write_json(tmp_path / runs.CONFIG, {"arch": "baseline"})
    follower = RunFollower(tmp_path)
    first = follower.poll()
    assert first.state.status == "starting" and not first.records
    assert not follower.poll()  # nothing new
    runs.set_status(tmp_path, "running", epoch=0, epochs=3)
    (tmp_path / runs.METRICS).write_bytes(line("iteration", iteration=1))
    update = follower.poll()
    assert update.state.status == "running" and update.state.epochs == 3 and len(update.records) == 1
    runs.set_status(tmp_path, "finished", reason="3 epochs done")
    assert follower.poll().state.ended


# ---- control.json --------------------------------------------------------------------------------------------

def test_commands_reach_the_control_once_each_and_history_is_ignored(tmp_path):
    runs.write_json(tmp_path / runs.CONFIG, {})
    runcontrol.send_command(tmp_path, "stop")  # from an earlier session of this run
    control = TrainControl()
    relay = runcontrol.ControlRelay(tmp_path, control, lambda: {"epoch": 1})
    assert not relay.poll() and not control.cancelled
    assert runcontrol.send_command(tmp_path, "pause") == 2
    runcontrol.send_command(tmp_path, "save")
    assert relay.poll() and control.paused and control.take_checkpoint_request()
    relay.write_status()
    state = runs.read_json(tmp_path / runs.STATUS)
    assert state["paused"] is True and state["control_seq"] == 3 and state["epoch"] == 1
    assert not relay.poll() and not control.take_checkpoint_request()  # applied once
    runcontrol.send_command(tmp_path, "resume")
    runcontrol.send_command(tmp_path, "stop")
    relay.poll()
    assert not control.paused and control.cancelled


def test_a_bad_command_or_folder_is_refused_in_one_line(tmp_path):
    with pytest.raises(GeoSpottrError, match="not a training run"):
        runcontrol.send_command(tmp_path, "stop")
    runs.write_json(tmp_path / runs.CONFIG, {})
    with pytest.raises(GeoSpottrError, match="unknown run command"):
        runcontrol.send_command(tmp_path, "explode")
    (tmp_path / runcontrol.CONTROL).write_text("{not json")
    assert runcontrol.send_command(tmp_path, "pause") == 1  # a damaged file is replaced, not fatal


def test_the_relay_thread_acknowledges_a_pause_from_another_process_in_status_json(tmp_path):
    runs.write_json(tmp_path / runs.CONFIG, {})
    control = Control()
    relay = runcontrol.ControlRelay(tmp_path, control, lambda: {}, poll_s=0.02).start()
    try:
        runcontrol.send_command(tmp_path, "pause")
        done = threading.Event()
        for _ in range(200):
            if runs.read_json(tmp_path / runs.STATUS).get("paused"):
                done.set()
                break
            done.wait(0.02)
        assert done.is_set() and control.paused
    finally:
        relay.stop()


def test_a_training_run_obeys_pause_save_and_stop_sent_through_its_run_folder(small_project):
    """The trainer of another process (here: another thread with its own Control) is steered by files only."""
    from core.training.trainer import train
    from tests.core.training.helpers import fast_config

    result: list = []
    iterations: list[int] = []
    started = threading.Event()

    def on_event(event):
        if event.kind == "iteration":
            iterations.append(event.data["iteration"])
            started.set()

    thread = threading.Thread(target=lambda: result.append(
        train(small_project, fast_config(epochs=1000, max_steps=2), on_event=on_event)))
    thread.start()
    try:
        assert started.wait(120)
        run = next(p for p in small_project.runs_dir.iterdir() if (p / runs.CONFIG).is_file())
        runcontrol.send_command(run, "pause")
        follower = RunFollower(run)
        for _ in range(400):
            state = follower.poll().state or follower.state
            if state.paused:
                break
            threading.Event().wait(0.05)
        assert follower.state.paused and follower.state.status == "running"
        count = len(iterations)
        threading.Event().wait(1.0)
        assert len(iterations) <= count + 1  # at most the iteration in flight finished
        def saved_at() -> list[int]:
            return [e["data"]["iteration"] for e in runs.read_metrics(run, ("checkpoint",))
                    if e["data"].get("which") == "last"]

        before = saved_at()
        runcontrol.send_command(run, "save")
        runcontrol.send_command(run, "resume")
        for _ in range(400):
            if len(iterations) > count + 2 and len(saved_at()) > len(before):
                break
            threading.Event().wait(0.05)
        assert count + 1 in saved_at()  # "save" wrote last.pt right after the iteration in flight
        runcontrol.send_command(run, "stop")
        thread.join(120)
    finally:
        if thread.is_alive():
            runcontrol.send_command(run, "stop")
            thread.join(120)
    assert result and result[0].status == "stopped" and result[0].last_checkpoint
    assert len(iterations) > count
    final = RunFollower(run).poll().state
    assert final.status == "stopped" and not final.paused and final.iteration == iterations[-1]


def test_a_resumed_runs_superseded_records_are_dropped_as_the_readers_drop_them(tmp_path):
    """The follower applies the resume rule of `runs.drop_redone`: a history read in one piece, and a resume
    record arriving later, leave the curves with what the run actually did."""
    import numpy as np

    from core.training.metrics import EpochMetrics
    from core.training.series import RunSeries

    metrics = tmp_path / runs.METRICS
    epoch = dict(train_loss=1.0, train_acc=0.5, val_loss=1.0, val_acc=0.5)
    old = [line("iteration", iteration=i, loss=9.0, lr=0.1) for i in range(1, 7)]   # 6 steps, 2 epochs
    metrics.write_bytes(b"".join(old[:3]) + line("epoch", epoch=1, **epoch) + b"".join(old[3:])
                        + line("epoch", epoch=2, **{**epoch, "val_acc": 0.1})
                        + line("resume", epoch=1, iteration=3)              # stopped; its checkpoint was epoch 1
                        + b"".join(line("iteration", iteration=i, loss=1.0, lr=0.1) for i in (4, 5)))
    follower = RunFollower(tmp_path)
    update = follower.poll()
    assert update.iterations[:, 0].tolist() == [1, 2, 3, 4, 5]
    assert update.iterations[:, 1].tolist() == [9.0, 9.0, 9.0, 1.0, 1.0]
    assert [r["data"]["epoch"] for r in update.records if r["kind"] == "epoch"] == [1]
    assert update.iterations[:, 0].tolist() == [e["data"]["iteration"] for e in runs.read_metrics(tmp_path, ("iteration",))]

    series = RunSeries()
    series.extend_iterations(update.iterations)
    series.add_epoch(EpochMetrics.from_data(update.records[0]["data"]))
    with metrics.open("ab") as fh:  # stopped again, resumed from iteration 4: step 5 will be redone
        fh.write(line("resume", epoch=1, iteration=4))
    records = follower.poll().records
    assert [r["kind"] for r in records] == ["resume"]
    series.drop_redone(runs.ResumePoint.of(records[0]))
    assert series.iteration.view.tolist() == [1, 2, 3, 4] and series.epoch.view.tolist() == [1]
    series.drop_redone(runs.ResumePoint(epoch=0, iteration=2))
    assert np.array_equal(series.iteration.view, [1, 2]) and len(series.epoch) == 0 and len(series.val_acc) == 0
