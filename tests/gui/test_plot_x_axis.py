"""The training plots' x axis (issue 28): iteration, epoch (fractional for per-iteration curves) or wall
time, one choice for every plot of the panel, remembered in the settings."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from core.events import Event, Kind
from core.training.metrics import EpochMetrics, Iteration
from core.training.series import RunSeries
from geospottr_gui.settings import PLOTS_X_AXIS
from geospottr_gui.views.widgets.plots import TrainingPlots

T0 = 1_800_000_000.0
STEPS = 10


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def feed(plots: TrainingPlots, epochs: int = 4) -> None:
    """`epochs` epochs of STEPS iterations, one every 0.5 s, each epoch's record 0.2 s after its last step."""
    for i in range(1, epochs * STEPS + 1):
        plots.add_iteration(Iteration(iteration=i, loss=2.0 / i, lr=0.01, epoch=(i - 1) // STEPS + 1,
                                      step=(i - 1) % STEPS + 1, steps=STEPS), T0 + 0.5 * i)
        if i % STEPS == 0:
            e = i // STEPS
            plots.add_epoch(EpochMetrics(epoch=e, train_loss=1.0 / e, val_loss=1.2 / e, train_acc=0.2 * e,
                                         val_acc=0.15 * e), T0 + 0.5 * i + 0.2)
    plots.flush()


def xs(curve) -> list[float]:
    return np.round(curve.getData()[0], 6).tolist()


def test_switching_to_epoch_rescales_every_plot_and_is_remembered(qtbot, settings):
    plots = TrainingPlots(settings=settings)
    qtbot.addWidget(plots)
    assert plots.x_axis == "iteration" and plots.x_axis_combo.currentText() == "Iteration"
    feed(plots)
    assert xs(plots.raw_curve) == list(range(1, 41))
    # Every plot follows the one choice: the epoch points sit at their epoch's last iteration.
    assert xs(plots.epoch_val_loss) == [10, 20, 30, 40] and xs(plots.val_acc_curve) == [10, 20, 30, 40]
    assert plots.loss_plot.getAxis("bottom").labelText == "iteration"
    assert plots.acc_plot.getAxis("bottom").labelText == "iteration"

    plots.x_axis_combo.setCurrentIndex(plots.x_axis_combo.findText("Epoch"))  # as a user picks it
    assert plots.x_axis == "epoch"
    assert xs(plots.raw_curve) == [i / STEPS for i in range(1, 41)]   # fractional epochs
    assert xs(plots.smooth_curve) == xs(plots.raw_curve) and xs(plots.lr_curve) == xs(plots.raw_curve)
    assert xs(plots.epoch_train_loss) == [1, 2, 3, 4]
    for plot in (plots.loss_plot, plots.val_loss_plot, plots.acc_plot, plots.lr_plot):
        assert plot.getAxis("bottom").labelText == "epoch"
    assert plots.read_out(plots.loss_plot, 1.52).startswith("epoch 1.50: loss")
    assert plots.read_out(plots.acc_plot, 2.2).startswith("epoch 2: train acc 0.4")
    assert PLOTS_X_AXIS.get(settings) == "epoch"

    again = TrainingPlots(settings=settings)  # the next window starts on the remembered axis
    qtbot.addWidget(again)
    assert again.x_axis == "epoch" and again.x_axis_combo.currentText() == "Epoch"


def test_wall_time_axis_counts_seconds_since_the_first_iteration(qtbot, settings):
    plots = TrainingPlots(settings=settings)
    qtbot.addWidget(plots)
    feed(plots)
    plots.set_x_axis("time")
    assert xs(plots.raw_curve) == [0.5 * (i - 1) for i in range(1, 41)]
    assert xs(plots.epoch_val_loss) == [4.7, 9.7, 14.7, 19.7]
    assert plots.loss_plot.getAxis("bottom").labelText == "wall time (s)"
    assert not plots.loss_plot.getAxis("bottom").whole  # seconds tick as pyqtgraph does, not whole only
    plots.set_x_axis("iteration")
    assert xs(plots.raw_curve) == list(range(1, 41))
    assert plots.loss_plot.getAxis("bottom").whole


def test_overlays_follow_the_axis_and_long_runs_read_in_minutes(qtbot, settings):
    plots = TrainingPlots(settings=settings)
    qtbot.addWidget(plots)
    old = RunSeries(label="20261130-221005-resnet50-linear")
    for i in range(1, 21):  # one step a minute: 20 minutes
        old.add_iteration(Iteration(iteration=i, loss=1.0, lr=0.1, steps=STEPS), T0 + 60.0 * i)
    old.add_epoch(EpochMetrics(epoch=1, val_loss=1.0, val_acc=0.5), T0 + 60.0 * 10)
    plots.set_overlays({"old": old})
    plots.set_x_axis("epoch")
    items = plots._overlays["old"][1]
    assert xs(items["loss"])[:3] == [0.1, 0.2, 0.3] and xs(items["val_acc"]) == [1.0]
    plots.set_x_axis("time")
    assert plots.loss_plot.getAxis("bottom").labelText == "wall time (min)"
    assert xs(items["lr"])[:3] == [0.0, 1.0, 2.0] and xs(items["val_loss"]) == [9.0]


def test_without_steps_or_times_a_plot_keeps_its_own_axis(qtbot, settings):
    """Points with no steps per epoch (another tool's file) cannot go on an epoch axis: they stay put and
    the axis title says so."""
    plots = TrainingPlots(settings=settings)
    qtbot.addWidget(plots)
    for i in range(1, 6):
        plots.add_iteration(Iteration(iteration=i, loss=1.0, lr=0.1))
    plots.add_epoch(EpochMetrics(epoch=1, val_loss=1.0))
    plots.set_x_axis("epoch")
    assert xs(plots.raw_curve) == [1, 2, 3, 4, 5]
    assert plots.loss_plot.getAxis("bottom").labelText == "iteration"
    assert plots.val_loss_plot.getAxis("bottom").labelText == "epoch"
    plots.set_x_axis("time")
    assert xs(plots.raw_curve) == [1, 2, 3, 4, 5] and xs(plots.epoch_val_loss) == [1]


def test_wall_time_leaves_out_the_wait_before_a_resume(qtbot, settings):
    """A run stopped after iteration 10 and resumed from its checkpoint at iteration 5 a quarter of an hour
    later (events as the Train workspace gets them): the redone steps replace the old ones and the wait is
    not training time."""
    from core.training.runs import ResumePoint
    from geospottr_gui.views.train.run_panel import RunDisplay

    def step(i: int, when: float) -> Event:
        return Iteration(iteration=i, loss=1.0, lr=0.1, steps=STEPS).event(time=when)

    display = RunDisplay()
    qtbot.addWidget(display.plots)
    display.plots._settings = settings  # the choice below must not reach the user's settings
    for i in range(1, 11):
        display.show(step(i, T0 + i))
    resume = {"kind": "resume", "data": {"epoch": 0, "iteration": 5}, "time": T0 + 1000.0}
    display.plots.drop_redone(ResumePoint.of(resume))
    display.show(Event(Kind.RESUME, data=resume["data"], time=resume["time"]))
    for i in range(6, 11):
        display.show(step(i, T0 + 1000.0 + i - 5))
    assert display.plots.current.iteration.view.tolist() == list(range(1, 11))
    display.plots.set_x_axis("time")
    assert xs(display.plots.raw_curve) == [float(k) for k in range(10)]


def test_history_columns_carry_each_iterations_time(tmp_path):
    """A monitor reads a run's history as columns: the time of each iteration comes with them."""
    from core.training import runs
    from core.training.follow import MetricsTail

    writer = runs.MetricsWriter(tmp_path / runs.METRICS)
    for i in range(1, 4):
        writer(Iteration(iteration=i, loss=1.0, lr=0.1, steps=STEPS).event(time=T0 + 2.0 * i))
    writer(Event(Kind.RESUME, data={"epoch": 0, "iteration": 2}, time=T0 + 500.0))
    writer(Iteration(iteration=3, loss=0.5, lr=0.1, steps=STEPS).event(time=T0 + 502.0))
    writer.close()
    read = MetricsTail(tmp_path / runs.METRICS).read(columns=True)
    assert read.iterations[:, 0].tolist() == [1, 2, 3]
    assert read.iterations[:, 3].tolist() == [T0 + 2.0, T0 + 4.0, T0 + 502.0]
    series = RunSeries()
    series.extend_iterations(read.iterations)
    for record in read.records:
        if record["kind"] == "resume":
            series.note_resume(record["time"])
    assert series.iteration_x("time").tolist() == [0.0, 2.0, 4.0]  # the 498 s wait left out
    assert RunSeries.from_records(runs.read_metrics(tmp_path)).iteration_x("time").tolist() == [0.0, 2.0, 4.0]
