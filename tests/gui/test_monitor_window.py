"""Monitor windows follow runs trained by another process (`python -m core train`): the plots gain points,
the status follows the run to its end, and the window's buttons pause, resume and stop it through the run's
control file. Also: a rewritten metrics file, the runs list's live rows, and ``geospottr-gui --monitor``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.training import runcontrol, runs
from geospottr_gui.views.train.monitor_window import MonitorWindow, open_monitor, open_monitors
from geospottr_gui.views.train.runs_list import RunsList
from tests.conftest import REPO, build_tiny_project

TRAIN_ARGS = ["train", "--arch", "baseline", "--image-size", "32", "--weights", "none", "--device", "cpu",
              "--workers", "0", "--batch-size", "8", "--patience", "0", "--max-steps", "2"]
TIMEOUT_MS = 120_000


@pytest.fixture
def project(tmp_path):
    p = build_tiny_project(tmp_path, per_city=10, size=(48, 36))
    yield p
    p.close()


@pytest.fixture
def trainer(project):
    """Start `python -m core train` with extra args; yields (start, run folder getter); kills leftovers."""
    procs: list[subprocess.Popen] = []

    def start(*args: str):
        env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **{k: v for k, v in __import__("os").environ.items()
                                                                    if k not in ("PYTHONPATH",)}}
        proc = subprocess.Popen([sys.executable, "-m", "core", "--project", str(project.root), *TRAIN_ARGS, *args],
                                env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(proc)
        run_id = proc.stdout.readline().strip().removeprefix("run id: ")
        assert run_id, "the trainer printed no run id"
        return proc, project.runs_dir / run_id

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture(autouse=True)
def _close_monitors():
    yield
    for window in open_monitors():
        window.close()


def status_of(window: MonitorWindow) -> str:
    return window.state.status if window.state else ""


def test_a_monitor_follows_another_process_and_its_resume_button_lets_a_paused_run_finish(qtbot, trainer):
    proc, run = trainer("--epochs", "3")
    runcontrol.send_command(run, "pause")  # from a terminal: the run holds before (or at) its first steps
    window = open_monitor(run)
    assert window.isWindow() and window.windowTitle().startswith(run.name)
    qtbot.waitUntil(lambda: window.state is not None and window.state.paused, timeout=TIMEOUT_MS)
    assert window.status.text().startswith("Paused")
    assert window.controls.resume_button.isEnabled() and not window.controls.pause_button.isEnabled()
    paused_at = len(window.plots.current.iteration)
    assert paused_at <= 2
    qtbot.wait(1500)
    assert len(window.plots.current.iteration) == paused_at  # the trainer really waits

    window.controls.resume_button.click()
    qtbot.waitUntil(lambda: status_of(window) == "finished", timeout=TIMEOUT_MS)
    assert proc.wait(60) == 0
    qtbot.waitUntil(lambda: len(window.plots.current.epoch) == 3, timeout=10_000)
    window.plots.flush()
    series = window.plots.current
    assert list(series.iteration.view) == [1, 2, 3, 4, 5, 6]  # every iteration, once, in order
    x, _ = window.plots.raw_curve.getOriginalDataset()
    assert len(x) == 6
    assert window.status.text().startswith("Finished") and "3 epochs done" in window.status.text()
    assert "3/3" in window.info.values["epoch"].text() and window.info.values["best"].text() != "—"
    assert window.info.values["eta_run"].text() == "—"  # nothing left to wait for
    assert not any(b.isEnabled() for b in window.controls.buttons)
    assert not window.resume_run_button.isVisible()


def test_pause_resume_and_stop_from_the_monitor_steer_another_process_and_the_runs_list_follows(qtbot, trainer, project):
    runs_list = RunsList(project)
    qtbot.addWidget(runs_list)
    proc, run = trainer("--epochs", "500")
    resumed: list[str] = []
    window = open_monitor(run, resumed.append)
    qtbot.waitUntil(lambda: status_of(window) == "running" and len(window.plots.current.epoch) >= 1,
                    timeout=TIMEOUT_MS)
    window.controls.pause_button.click()
    qtbot.waitUntil(lambda: window.state.paused, timeout=TIMEOUT_MS)
    window.controls.resume_button.click()
    qtbot.waitUntil(lambda: not window.state.paused, timeout=TIMEOUT_MS)
    count = len(window.plots.current.iteration)
    qtbot.waitUntil(lambda: len(window.plots.current.iteration) > count, timeout=TIMEOUT_MS)  # live points
    with qtbot.waitSignal(runs_list.refreshed, timeout=TIMEOUT_MS):  # runs are listed in a worker
        runs_list.refresh()
    row = [r.run_id for r in runs_list.runs].index(run.name)
    qtbot.waitUntil(lambda: runs_list.table.item(row, 1).text().startswith("running "),  # e.g. "running 1%"
                    timeout=TIMEOUT_MS)
    runs_list.select_run(run.name)
    assert runs_list.monitor_button.isEnabled()

    window.controls.stop_button.click()
    assert not window.controls.stop_button.isEnabled()  # "stopping" until the trainer confirms
    qtbot.waitUntil(lambda: status_of(window) == "stopped", timeout=TIMEOUT_MS)
    assert proc.wait(60) == 0
    assert "stopped by the user" in window.status.text()
    qtbot.waitUntil(window.resume_run_button.isVisible, timeout=10_000)
    window.resume_run_button.click()
    assert resumed == [run.name]
    qtbot.waitUntil(lambda: runs_list.run(run.name).status == "stopped", timeout=10_000)  # the live timer noticed
    assert runs_list.table.item([r.run_id for r in runs_list.runs].index(run.name), 1).text() == "stopped"

    # Closing the monitor stops watching only; opening it again shows the same run from disk.
    window.close()
    again = open_monitor(run)
    qtbot.waitUntil(lambda: status_of(again) == "stopped", timeout=TIMEOUT_MS)
    assert len(again.plots.current.iteration) == len(runs.read_metrics(run, ("iteration",)))


def line(kind: str, **data) -> str:
    return json.dumps({"kind": kind, "message": "", "done": None, "total": None, "scope": "", "data": data,
                       "time": 1.0}) + "\n"


def test_a_rewritten_metrics_file_and_a_half_written_line_are_drawn_right(qtbot, tmp_path):
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    runs.write_json(run / runs.CONFIG, {"arch": "baseline", "epochs": 2})
    metrics = run / runs.METRICS
    metrics.write_text("".join(line("iteration", iteration=i, loss=1.0, lr=0.1) for i in range(1, 6))
                       + line("iteration", iteration=6, loss=1.0, lr=0.1)[:25])
    window = open_monitor(run)
    qtbot.waitUntil(lambda: len(window.plots.current.iteration) == 5, timeout=TIMEOUT_MS)
    assert window.status.text() == "Starting"  # no status.json yet
    with metrics.open("a") as fh:
        fh.write(line("iteration", iteration=6, loss=1.0, lr=0.1)[25:])
    qtbot.waitUntil(lambda: len(window.plots.current.iteration) == 6, timeout=10_000)
    metrics.write_text(line("iteration", iteration=1, loss=3.0, lr=0.1)
                       + line("epoch", epoch=1, train_loss=2.0, train_acc=0.5, val_loss=2.0, val_acc=0.5))
    qtbot.waitUntil(lambda: len(window.plots.current.iteration) == 1, timeout=10_000)
    assert list(window.plots.current.loss.view) == [3.0] and len(window.plots.current.epoch) == 1
    assert open_monitor(run) is window  # one window per run: asking again raises it


def test_a_resume_record_drops_the_redone_tail_of_the_curves(qtbot, tmp_path):
    """A run stopped after its last checkpoint and resumed: the plot loses the steps it will redo at once,
    and a monitor opened later draws the history the way `runs.read_metrics` reads it."""
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    runs.write_json(run / runs.CONFIG, {"arch": "baseline", "epochs": 2})
    metrics = run / runs.METRICS
    metrics.write_text("".join(line("iteration", iteration=i, loss=9.0, lr=0.1) for i in range(1, 7)))
    window = open_monitor(run)
    qtbot.waitUntil(lambda: len(window.plots.current.iteration) == 6, timeout=TIMEOUT_MS)
    with metrics.open("a") as fh:
        fh.write(line("resume", epoch=0, iteration=3))
    qtbot.waitUntil(lambda: len(window.plots.current.iteration) == 3, timeout=10_000)
    with metrics.open("a") as fh:
        fh.write(line("iteration", iteration=4, loss=1.0, lr=0.1))
    qtbot.waitUntil(lambda: len(window.plots.current.iteration) == 4, timeout=10_000)
    assert list(window.plots.current.loss.view) == [9.0, 9.0, 9.0, 1.0]
    window.close()
    again = open_monitor(run)
    qtbot.waitUntil(lambda: len(again.plots.current.iteration) == 4, timeout=TIMEOUT_MS)
    assert list(again.plots.current.loss.view) == [9.0, 9.0, 9.0, 1.0]


def test_geospottr_gui_monitor_opens_only_monitor_windows(qtbot, project, tmp_path):
    from PySide6.QtCore import QSettings

    from geospottr_gui.app import open_monitor_windows
    from geospottr_gui.arguments import monitor_arguments, parse

    run = project.runs_dir / "20260101-000000-baseline"
    run.mkdir(parents=True)
    runs.write_json(run / runs.CONFIG, {"arch": "baseline"})
    argv = ["geospottr-gui", "--monitor", run.name, f"--monitor={run}", str(project.root)]
    args, refs = monitor_arguments(argv)
    assert args == ["geospottr-gui", str(project.root)] and refs == [run.name, str(run)]
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    windows = open_monitor_windows(parse(argv), settings)
    assert len(windows) == 2 and windows[0] is windows[1] and windows[0].isVisible()
    assert windows[0].on_resume is not None  # the run lives in a project: resume is possible


def test_open_monitor_in_the_runs_list_and_pop_out_open_windows_of_their_own(qtbot, project, tmp_path):
    from geospottr_gui.views.train.train_view import TrainView
    from tests.gui.conftest import context_for

    run = project.runs_dir / "20260101-000000-baseline"
    run.mkdir(parents=True)
    runs.write_json(run / runs.CONFIG, {"arch": "baseline", "epochs": 2})
    runs.write_json(run / runs.STATUS, {"status": "stopped", "reason": "stopped by the user"})
    (run / runs.LAST).write_bytes(b"placeholder")  # only its presence matters to "Resume run"
    view = TrainView(context_for(project, tmp_path))
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.runs.refreshed, timeout=TIMEOUT_MS):  # runs are listed in a worker
        view.runs.refresh()
    view.runs.select_run(run.name)
    view.runs.monitor_button.click()
    window = next(w for w in open_monitors() if w.run_dir == run)
    assert window.isVisible() and window is not view.window()  # a top-level window, not a panel
    assert window.on_resume == view.resume_from_monitor
    qtbot.waitUntil(window.resume_run_button.isVisible, timeout=TIMEOUT_MS)  # stopped with last.pt
    assert not view.pop_out_button.isEnabled()  # nothing trains here yet
    view.run_id = run.name
    view._set_state("idle")
    view.pop_out_button.click()
    assert open_monitors() == [window]  # the same run: the open window is raised, not a second one
