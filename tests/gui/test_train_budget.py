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


def test_a_large_project_without_a_budget_asks_and_takes_the_one_hour_budget(qtbot, tiny_project, monkeypatch):
    """The guard's size is lowered to the tiny project's and the measured costs are a slow CPU's (the
    question and what follows are real: estimate job, dialog answer, run with the chosen recipe)."""
    import json
    from pathlib import Path

    from PySide6.QtWidgets import QMessageBox

    from core.training import costs
    from core.training.budget import Costs
    from geospottr_gui.views.train import train_view
    from tests.gui.test_train_view import TIMEOUT_MS, make_view

    slow = Costs("cpu", 0.01, {"efficientnet-lite0": 60.0, "efficientnet-lite1": 90.0, "efficientnet-lite2": 90.0,
                               "colour": 1.0}, 30.0, 10.0)
    monkeypatch.setattr(costs, "measure", lambda *a, **k: slow)
    monkeypatch.setattr(costs, "GUARD_MIN_PHOTOS", 1)
    monkeypatch.setattr(train_view, "GUARD_MIN_PHOTOS", 1)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.Yes)
    view = make_view(qtbot, tiny_project)
    form = view.form
    form.model.setCurrentIndex(form.model.findData("efficientnet-lite0"))
    form.head.setCurrentIndex(form.head.findData("auto"))
    form.image_size.setValue(32)
    form.weights.setCurrentIndex(form.weights.findData("none"))
    form.device.setCurrentIndex(form.device.findText("cpu"))
    form.num_workers.setValue(0)
    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        view.start_button.click()
    result = blocker.args[0]
    assert asked and "predicted to take about" in asked[0] and "1-hour time budget" in asked[0]
    assert result is not None and result.status == "finished"
    config = json.loads((Path(result.run_dir) / "config.json").read_text())
    assert config["time_budget"] == 3600 and config["model"] == "efficientnet-lite-ensemble-probe"
    assert config["arch_kwargs"]["backbones"] == ["efficientnet-lite0", "colour"]  # what fits the hour
