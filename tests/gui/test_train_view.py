"""The Train workspace drives the real trainer on a generated project: plots fill, pause/stop/resume work,
runs are read back from disk after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from geospottr_gui.context import AppContext
from geospottr_gui.views.train.run_panel import fmt_duration
from geospottr_gui.views.train.train_view import TrainView

TIMEOUT_MS = 60_000


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_view(qtbot, project) -> TrainView:
    view = TrainView(AppContext(project))
    qtbot.addWidget(view)
    view.resize(1280, 800)
    with qtbot.waitSignal(view.ready, timeout=TIMEOUT_MS):
        view.show()
    return view


def tiny_settings(view: TrainView, epochs: int, batch: int = 8) -> None:
    form = view.form
    form.model.setCurrentIndex(form.model.findData("baseline"))
    form.epochs.setValue(epochs)
    form.batch_size.setValue(batch)
    form.image_size.setValue(32)
    form.weights.setCurrentIndex(form.weights.findData("none"))
    form.device.setCurrentIndex(form.device.findText("cpu"))
    form.num_workers.setValue(0)


def settle(qtbot, view, quiet_ms: int = 300) -> int:
    """Wait until no new iteration has arrived for `quiet_ms`; return the count."""
    count = -1
    for _ in range(50):
        if len(view.plots.current.iteration) == count:
            return count
        count = len(view.plots.current.iteration)
        qtbot.wait(quiet_ms)
    raise AssertionError("iterations never stopped arriving")


@pytest.fixture
def view(qtbot, tiny_project):
    v = make_view(qtbot, tiny_project)
    yield v
    v.shutdown()


def test_form_has_working_defaults_from_the_registry(view):
    from core.models import registry

    form = view.form
    assert [form.model.itemData(i) for i in range(form.model.count())] == registry.names()
    assert registry.spec(form.model.currentData()).description in form.model_note.text()
    cfg = form.config()
    assert cfg["epochs"] >= 1 and cfg["batch_size"] >= 1 and cfg["device"] == "auto"
    assert view.start_button.isEnabled() and not view.pause_button.isEnabled()


def test_head_and_class_balance_follow_the_trainer_and_reach_the_run_config(view):
    from core.training.balance import CLASS_BALANCES
    from core.training.probe import HEADS

    form = view.form
    assert {form.head.itemData(i) for i in range(form.head.count())} == set(HEADS)
    assert {form.class_balance.itemData(i) for i in range(form.class_balance.count())} == set(CLASS_BALANCES)
    cfg = form.config()
    assert cfg["head"] == "auto" and cfg["class_balance"] == "weighted"  # the cross-validated defaults
    form.model.setCurrentIndex(form.model.findData("efficientnet-lite0"))
    assert form.head.isEnabled() and "efficientnet-lite-ensemble-probe" in form.head.itemText(form.head.findData("probe"))
    form.head.setCurrentIndex(form.head.findData("finetune"))
    form.class_balance.setCurrentIndex(form.class_balance.findData("sampler"))
    cfg = form.config()
    assert cfg["head"] == "finetune" and cfg["class_balance"] == "sampler"
    form.model.setCurrentIndex(form.model.findData("baseline"))
    assert not form.head.isEnabled()  # trained from scratch: there is no probe to choose


def test_a_tiny_model_trains_from_the_gui_and_the_plots_receive_points(qtbot, view, tiny_project):
    tiny_settings(view, epochs=2)
    chosen = []
    view.context.model_changed.connect(chosen.append)
    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        view.start_button.click()
    result = blocker.args[0]
    assert result is not None and result.status == "finished" and result.epochs_done == 2
    plots = view.plots
    n = len(plots.current.iteration)
    assert n >= 2 and list(plots.current.iteration.view) == list(range(1, n + 1))
    assert len(plots.smoothed_loss()) == n
    x, y = plots.raw_curve.getOriginalDataset()
    assert len(x) == n
    assert list(plots.current.epoch.view) == [1, 2]
    assert len(plots.val_acc_curve.getOriginalDataset()[0]) == 2
    assert "2/2" in view.info.values["epoch"].text() and view.info.values["device"].text() == "cpu"
    assert view.info.values["best"].text().endswith("%")
    qtbot.waitUntil(lambda: chosen == [result.best_checkpoint], timeout=10_000)  # the model rule runs in a job
    qtbot.waitUntil(lambda: [(r.run_id, r.status) for r in view.runs.runs] == [(result.run_id, "finished")],
                    timeout=10_000)  # the runs list is read in a worker
    assert view.state == "idle" and view.start_button.isEnabled()


def test_crop_bottom_from_the_form_reaches_the_trainer_and_the_model(qtbot, view, tiny_project):
    """Set in the form, the bottom crop is what the run trained with and what its model predicts with."""
    import json

    from core.inference.prediction import Predictor

    form = view.form
    assert form.crop_bottom.value() == 0 and form.crop_bottom.text() == "off"
    assert "watermark" in form.crop_bottom.toolTip()
    tiny_settings(view, epochs=1)
    form.crop_bottom.setValue(0.12)
    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        view.start_button.click()
    result = blocker.args[0]
    assert result is not None and result.status == "finished"
    run_dir = Path(result.best_checkpoint).parent
    assert json.loads((run_dir / "config.json").read_text())["crop_bottom"] == pytest.approx(0.12)
    assert Predictor.load(result.best_checkpoint).meta.crop_bottom == pytest.approx(0.12)


def test_pause_stop_and_resume_a_run(qtbot, view, tiny_project):
    tiny_settings(view, epochs=500, batch=4)
    view.start_button.click()
    qtbot.waitUntil(lambda: view.state == "running", timeout=TIMEOUT_MS)
    view.pause_button.click()
    assert view.state == "paused" and view.resume_button.isEnabled() and not view.pause_button.isEnabled()
    frozen = settle(qtbot, view)  # the iteration in flight and the queued events arrive
    qtbot.wait(800)
    assert len(view.plots.current.iteration) == frozen, "iterations continued while paused"
    # Paused says so, in the strip (no stale speed or time left) and in the runs list.
    assert [view.info.values[k].text() for k in ("speed", "eta_epoch", "eta_run")] == ["paused"] * 3
    assert live_status(view) == "paused"

    view.save_button.click()  # honoured after the next iteration
    view.resume_button.click()
    assert view.state == "running" and live_status(view) == "running"
    qtbot.waitUntil(lambda: len(view.plots.current.iteration) > frozen + 2, timeout=TIMEOUT_MS)
    assert view.info.values["speed"].text() != "paused"
    run_dir = Path(tiny_project.runs_dir / view.run_id)
    qtbot.waitUntil(lambda: (run_dir / "last.pt").is_file(), timeout=TIMEOUT_MS)

    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        view.stop_button.click()
    result = blocker.args[0]
    assert result.status == "stopped" and result.last_checkpoint
    stopped_at = int(view.plots.current.iteration.view[-1])
    qtbot.waitUntil(lambda: getattr(view.runs.run(result.run_id), "status", None) == "stopped", timeout=10_000)

    # Resume from the runs list with fewer epochs: it continues the same run and curve.
    view.form.epochs.setValue(1 + stopped_at // 8)
    view.runs.select_run(result.run_id)
    assert view.runs.resume_button.isEnabled()
    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        view.runs.resume_button.click()
    resumed = blocker.args[0]
    assert resumed.run_id == result.run_id and resumed.status == "finished"
    its = list(view.plots.current.iteration.view)
    assert its == sorted(its) and len(set(its)) == len(its) and its[-1] > stopped_at


def live_status(view) -> str:
    """The Status cell of the run being trained, as the runs list shows it."""
    row = next(r for r, run in enumerate(view.runs.runs) if run.run_id == view.run_id)
    return view.runs.table.item(row, 1).text()


def test_feature_caching_shows_progress_with_time_left_and_pauses(qtbot, view):
    tiny_settings(view, epochs=1, batch=4)
    form = view.form
    form.model.setCurrentIndex(form.model.findData("efficientnet-lite0"))  # weights ship with GeoSpottr
    form.weights.setCurrentIndex(form.weights.findData("imagenet"))
    form.image_size.setValue(64)
    form.cache_features.setChecked(True)
    shown = []
    view.prep_progress.valueChanged.connect(lambda _v: shown.append(view.prep_progress.format()))
    view.start_button.click()
    assert view.state == "starting" and view.pause_button.isEnabled()  # pausable before the first iteration
    view.pause_button.click()
    assert view.state == "paused" and view.resume_button.isEnabled()
    qtbot.wait(1500)
    assert len(view.plots.current.iteration) == 0, "work went on while paused"
    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        view.resume_button.click()
    assert blocker.args[0].status == "finished"
    caching = [text for text in shown if text.startswith("caching train features")]
    assert caching and any(" / " in text and " images" in text for text in caching)
    assert any(text.endswith(" left") for text in caching), shown
    assert not view.prep_progress.isVisible()


def test_weights_that_cannot_download_offer_the_offline_model_in_one_click(qtbot, view, tmp_path, monkeypatch):
    # Offline for real: an empty weights cache and every HTTPS request refused by a dead local proxy.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    tiny_settings(view, epochs=1)
    form = view.form
    form.model.setCurrentIndex(form.model.findData("resnet50-linear"))
    form.weights.setCurrentIndex(form.weights.findData("imagenet"))
    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS):
        view.start_button.click()
    text = view.message.text()
    assert "--weights" not in text and "--arch" not in text   # no command-line advice in the window
    assert "File…" in text and "None (random init)" in text and "efficientnet-lite0" in text
    assert view.switch_button.isVisible()
    monkeypatch.undo()
    form.image_size.setValue(32)
    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        view.switch_button.click()
    assert form.model.currentData() == "efficientnet-lite0" and blocker.args[0].status == "finished"
    assert not view.switch_button.isVisible()


def test_runs_are_read_back_after_a_restart_and_overlaid(qtbot, tiny_project):
    first = make_view(qtbot, tiny_project)
    tiny_settings(first, epochs=1)
    with qtbot.waitSignal(first.run_finished, timeout=TIMEOUT_MS) as blocker:
        first.start_button.click()
    run_id = blocker.args[0].run_id
    n = len(first.plots.current.iteration)
    first.shutdown()

    again = make_view(qtbot, tiny_project)  # a fresh view: state comes from runs/<id>/ only
    try:
        qtbot.waitUntil(lambda: [r.run_id for r in again.runs.runs] == [run_id], timeout=10_000)
        with qtbot.waitSignal(again.runs.overlays_changed, timeout=TIMEOUT_MS) as blocker:
            again.runs.set_checked(run_id)
        series = blocker.args[0][run_id]
        assert len(series.iteration) == n and len(series.epoch) == 1
        assert again.plots.overlay_ids() == [run_id]
        with qtbot.waitSignal(again.runs.overlays_changed, timeout=TIMEOUT_MS):
            again.runs.set_checked(run_id, False)
        assert again.plots.overlay_ids() == []
    finally:
        again.shutdown()


def test_fmt_duration():
    assert [fmt_duration(s) for s in (None, 5, 65, 3725)] == ["—", "5s", "1m 05s", "1h 02m"]


def test_train_follows_the_run_folder_when_a_monitor_or_a_terminal_pauses_and_resumes(qtbot, view, tiny_project):
    """One truth for run state: the trainer's status.json. Pause here and resume in a monitor window (or
    from a terminal's `runs --send`): the Train workspace, its runs list and the status bar follow."""
    from core.training import runcontrol
    from geospottr_gui.jobs_indicator import job_text
    from geospottr_gui.views.train.monitor_window import open_monitor

    tiny_settings(view, epochs=500, batch=4)
    view.start_button.click()
    qtbot.waitUntil(lambda: view.state == "running" and view.run_id is not None, timeout=TIMEOUT_MS)
    run_dir = tiny_project.runs_dir / view.run_id
    view.pause_button.click()
    assert "paused" in job_text(view._job)  # the status bar's job line says so
    view.pop_out_button.click()
    monitor = open_monitor(run_dir)
    qtbot.waitUntil(lambda: monitor.state is not None and monitor.state.paused, timeout=TIMEOUT_MS)
    monitor.controls.resume_button.click()  # Resume in the monitor...
    qtbot.waitUntil(lambda: view.state == "running", timeout=TIMEOUT_MS)  # ...and Train follows
    assert view.pause_button.isEnabled() and not view.resume_button.isEnabled() and live_status(view) == "running"
    assert "paused" not in job_text(view._job)
    runcontrol.send_command(run_dir, "pause")  # a terminal's `geospottr runs --send pause`
    qtbot.waitUntil(lambda: view.state == "paused", timeout=TIMEOUT_MS)
    assert view.resume_button.isEnabled() and live_status(view) == "paused" and "monitor window" in view.message.text()
    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS):
        view.stop_button.click()
    monitor.close()
