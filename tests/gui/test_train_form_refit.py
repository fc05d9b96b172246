"""Issue 30: the Train form's "refit on train + val" box reaches the trainer as `TrainConfig.refit`, starts at
the trainer's own default and says what it trades (every labelled photo vs. val curves of the selection fit)."""

from __future__ import annotations

from dataclasses import replace

from geospottr_gui.views.train.train_form import TrainForm


def _probe(defaults) -> dict:
    """What `jobs.probe_job` reports, for one model and the CPU."""
    return {"models": [{"name": "baseline", "description": "a small CNN", "image_size": 64, "pretrained_note": ""}],
            "defaults": defaults, "devices": {"auto": True, "cpu": True}, "cuda_name": None, "probe_of": {}}


def test_toggling_refit_changes_the_train_config_the_form_builds(qtbot):
    from core.training.trainer import TrainConfig

    form = TrainForm()
    qtbot.addWidget(form)
    form.set_choices(_probe(TrainConfig(arch="baseline")))
    before = form.config()
    assert form.refit.isChecked() and TrainConfig.from_dict(before).refit is True  # the trainer's default
    form.refit.click()  # as a user's click: toggles and emits clicked
    after = form.config()
    assert not form.refit.isChecked() and TrainConfig.from_dict(after).refit is False
    assert {key for key in after if after[key] != before[key]} == {"refit"}
    form.refit.click()
    assert TrainConfig.from_dict(form.config()).refit is True
    # Filled from defaults that say no refit (as another trainer default would), the box follows them.
    form.set_choices(_probe(replace(TrainConfig(arch="baseline"), refit=False)))
    assert not form.refit.isChecked() and form.config()["refit"] is False


def test_the_refit_box_says_what_it_trades(qtbot):
    form = TrainForm()
    qtbot.addWidget(form)
    tip = form.refit.toolTip()
    assert "every labelled photo" in tip and "curves" in tip and "train only" in tip and "early stopping" in tip
