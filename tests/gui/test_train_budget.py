"""The Train form's Time budget reaches the trainer as `TrainConfig.time_budget` (seconds)."""

from __future__ import annotations

from geospottr_gui.views.train.train_form import TIME_BUDGETS, TrainForm


def test_the_time_budget_field_becomes_the_configs_time_budget(qtbot):
    from core.training.trainer import TrainConfig

    form = TrainForm()
    qtbot.addWidget(form)
    assert form.config()["time_budget"] is None  # no limit by default: the trainer's own guard warns
    form.time_budget.setCurrentIndex(form.time_budget.findText("30 min"))
    assert form.config()["time_budget"] == 1800.0
    assert TrainConfig.from_dict({"time_budget": form.config()["time_budget"]}).time_budget == 1800.0
    assert [label for label, _ in TIME_BUDGETS][0] == "no limit"
