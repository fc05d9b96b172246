"""The learning curve: grouped CV at growing shares of the labelled places, its power law, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.cli.main import main
from core.evaluation.curves import (
    CURVE_FILE,
    FRACTIONS,
    LearningCurve,
    fit_exponent,
    fit_level,
    load_curve,
    reports_folder,
)
from core.evaluation.learning import learning_curve, nested_subsets
from core.training import transforms as training_transforms
from core.training.trainer import TrainConfig, train

from .helpers import fast_config
from .test_refit import RECIPES


def tiny_recipe() -> TrainConfig:
    """The tiny ensemble probe of the training tests (random-init Lite0 + colour statistics, 48 px)."""
    return fast_config(**RECIPES["ensemble probe"])


def test_power_law_recovers_its_exponent_and_cities_share_it():
    ns = np.array([50, 100, 200, 400])
    law = fit_exponent(ns, 1 - 0.8 * ns ** -0.3)
    assert law.exponent == pytest.approx(0.3, abs=1e-6) and law.scale == pytest.approx(0.8, rel=1e-6)
    weak = fit_level(ns / 4, 1 - 1.5 * (ns / 4) ** -0.3, law.exponent)
    assert weak.scale == pytest.approx(1.5, rel=1e-6)
    # A curve that falls (noise) promises no gain instead of a loss.
    assert fit_exponent(ns, [0.6, 0.55, 0.5, 0.45]).exponent == 0.0


def test_nested_subsets_keep_every_city_and_grow():
    places = np.repeat(np.arange(20), 2)
    labels = (places % 2)
    kept = nested_subsets(places, labels, FRACTIONS, np.random.default_rng(0))
    assert kept[0.25] <= kept[0.5] <= kept[0.75] <= kept[1.0] == set(range(20))
    assert {p % 2 for p in kept[0.25]} == {0, 1} and len(kept[0.25]) == 6  # ceil(0.25 * 10) per city


def test_learning_curve_scores_every_labelled_photo_out_of_fold_and_never_reads_test(small_project, monkeypatch):
    read: list[str] = []
    real = training_transforms.load_image
    monkeypatch.setattr(training_transforms, "load_image",
                        lambda path, *a, **kw: read.append(str(Path(path).resolve())) or real(path, *a, **kw))
    curve = learning_curve(small_project, tiny_recipe())
    labelled = small_project.images(split=("train", "val"))
    assert curve.labelled == len(labelled) and set(curve.predictions) == {r.id for r in labelled}
    assert set(curve.predictions.values()) <= set(curve.cities)
    test = {str(small_project.image_path(r).resolve()) for r in small_project.images(split="test")}
    assert read and not test & set(read)
    assert [p.fraction for p in curve.points] == list(FRACTIONS)
    images = [p.images for p in curve.points]
    assert images == sorted(images) and images[0] < images[-1]
    for p in curve.points:
        assert p.macro_f1.low <= p.macro_f1.value <= p.macro_f1.high
        assert set(p.city_f1) == set(curve.cities)
    assert 0 <= curve.predicted_macro(1) <= curve.predicted_macro(2) <= curve.predicted_macro(4) <= 1
    text = "\n".join(curve.lines())
    assert "2x" in text and "4x" in text and "test untouched" in text
    # A second curve reuses the cached features: nothing is decoded again.
    read.clear()
    again = learning_curve(small_project, tiny_recipe())
    assert not read and again.points == curve.points
    assert LearningCurve.from_dict(json.loads(json.dumps(curve.to_dict()))).points == curve.points


def test_cli_learning_curve_uses_the_runs_recipe_and_saves_the_curve(small_project, capsys):
    run = train(small_project, tiny_recipe())
    code = main(["--project", str(small_project.root), "evaluate", "--learning-curve", "--run", run.run_id])
    out = capsys.readouterr().out
    assert code == 0 and "macro F1" in out and "with 2x photos" in out
    curve = load_curve(reports_folder(small_project) / CURVE_FILE)
    assert curve.arch == "efficientnet-lite-ensemble-probe" and len(curve.points) == len(FRACTIONS)
    assert main(["--project", str(small_project.root), "evaluate", "--learning-curve", "--model", "x.pt"]) == 1
    assert "--run ID" in capsys.readouterr().err
