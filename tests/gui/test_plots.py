"""The training plots as a user reads them: one legend beside (never over) the curves, overlays named by
their short run names, and epoch axes that tick whole epochs only."""

from __future__ import annotations

from core.training.metrics import EpochMetrics, Iteration
from core.training.series import RunSeries
from geospottr_gui.views.widgets.plots import EpochAxis, TrainingPlots


def run_series(label: str, epochs: int) -> RunSeries:
    series = RunSeries(label=label)
    for i in range(1, 40 * epochs + 1):
        series.add_iteration(Iteration(iteration=i, loss=3.0 / i ** 0.3, lr=0.01))
    for e in range(1, epochs + 1):
        series.add_epoch(EpochMetrics(epoch=e, train_loss=2.0 / e, val_loss=2.2 / e, train_acc=0.2 * e,
                                      val_acc=0.18 * e))
    return series


def test_legend_sits_outside_every_plot_and_names_overlays_shortly(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    qtbot.waitExposed(plots)
    for e in range(1, 4):
        plots.add_epoch(EpochMetrics(epoch=e, train_loss=1.0 / e, val_loss=1.1 / e, train_acc=0.3 * e,
                                     val_acc=0.25 * e))
    plots.set_overlays({"20261130-221005-resnet50-linear": run_series("20261130-221005-resnet50-linear", 3)})
    plots.flush()
    qtbot.wait(50)
    names = [label.text for _sample, label in plots.legend.items]
    assert "11-30 22:10 resnet50-linear" in names and "train" in names and "val" in names
    assert all("20261130" not in name for name in names)
    legend = plots.legend.sceneBoundingRect()
    for plot in (plots.loss_plot, plots.val_loss_plot, plots.acc_plot, plots.lr_plot):
        area = plot.getViewBox().sceneBoundingRect()
        assert not legend.intersects(area), "the legend covers a plot's curves"
    plots.set_overlays({})
    assert [label.text for _s, label in plots.legend.items if label.text.startswith("11-30")] == []


def test_epoch_axes_tick_whole_epochs_only(qtbot):
    axis = EpochAxis("bottom")
    for low, high in ((0.8, 3.2), (0.9, 1.1), (0.0, 57.0)):
        values = [v for _spacing, level in axis.tickValues(low, high, 400) for v in level]
        assert values and all(float(v).is_integer() for v in values), (low, high, values)
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    assert isinstance(plots.val_loss_plot.getAxis("bottom"), EpochAxis)
    assert isinstance(plots.acc_plot.getAxis("bottom"), EpochAxis)


def test_hover_reads_values_log_loss_and_reset_view(qtbot):
    """What TensorBoard users reach for: values under the pointer, a log loss axis, zoom undone."""
    from PySide6.QtCore import QPointF

    from core.training.metrics import Iteration

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    qtbot.waitExposed(plots)
    for i in range(1, 101):
        plots.add_iteration(Iteration(iteration=i, loss=2.0 / i, lr=0.1))
    for e in (1, 2, 3):
        plots.add_epoch(EpochMetrics(epoch=e, train_loss=1.0 / e, val_loss=1.5 / e, train_acc=0.2 * e, val_acc=0.25 * e))
    plots.flush()
    assert plots.read_out(plots.val_loss_plot, 2.2) == "epoch 2: train loss 0.5 · val loss 0.75"
    assert plots.read_out(plots.loss_plot, 49.6).startswith("iteration 50: loss 0.04 ·")
    # The pointer over the accuracy plot's middle reads the epoch under it.
    qtbot.wait(300)  # laid out and ranged
    view = plots.acc_plot.vb
    scene = view.mapViewToScene(QPointF(3.0, 0.5))
    plots.graphics.scene().sigMouseMoved.emit(scene)
    assert plots.readout.text() == "epoch 3: train acc 0.6 · val acc 0.75"
    plots.log_loss.setChecked(True)
    assert plots.loss_plot.getAxis("left").logMode and plots.val_loss_plot.getAxis("left").logMode
    plots.loss_plot.vb.scaleBy((0.1, 0.1))  # zoomed in with the wheel
    zoomed = plots.loss_plot.vb.viewRange()[0]
    plots.reset_view()
    qtbot.waitUntil(lambda: plots.loss_plot.vb.viewRange()[0][1] - plots.loss_plot.vb.viewRange()[0][0]
                    > 5 * (zoomed[1] - zoomed[0]), timeout=3000)


def test_at_1024_px_the_legend_wraps_so_no_plot_is_cut_off(qtbot):
    """The Train workspace gives its plots about 505 px at 1024 x 700: a legend of four columns with an
    overlaid run's long name was 543 px wide and pushed the right-hand plots out of sight."""
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    name = "20261207-105600-efficientnet-lite-ensemble-probe"
    plots.set_overlays({name: run_series(name, 2)})
    for width in (505, 1400):
        plots.resize(width, 520)
        plots.show()
        qtbot.waitUntil(lambda w=width: plots.graphics.viewport().width() == w)
        qtbot.wait(50)
        assert plots.graphics.ci.minimumWidth() <= plots.graphics.viewport().width()
        assert plots.graphics.ci.boundingRect().width() <= plots.graphics.viewport().width() + 1
    assert plots.legend.columnCount == 4  # wide: one row of entries, as before
