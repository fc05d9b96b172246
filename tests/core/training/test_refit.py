"""Every labelled photo trains the saved probe (refit on train + val), and no recipe ever reads a test photo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.inference.prediction import Predictor
from core.training import runs
from core.training import transforms as training_transforms
from core.training.data import split_samples, training_classes
from core.training.probe import fit_probe, refit_probe
from core.training.runlabels import val_acc_text
from core.training.trainer import train

from .helpers import fast_config
from .test_probe_balance import TINY_ENSEMBLE, TINY_PROBE

RECIPES = {
    "probe": dict(arch="efficientnet-lite0-probe", image_size=48, arch_kwargs=TINY_PROBE),
    "ensemble probe": dict(arch="efficientnet-lite-ensemble-probe", image_size=48, arch_kwargs=TINY_ENSEMBLE),
    "probe, no refit": dict(arch="efficientnet-lite0-probe", image_size=48, arch_kwargs=TINY_PROBE, refit=False),
    "fine-tune": dict(arch="baseline", epochs=1),
    "fine-tune, cached features": dict(arch="efficientnet-lite0", head="finetune", epochs=1, cache_features=True,
                                       image_size=32),
}


def _classifiers(predictor: Predictor) -> np.ndarray:
    """Every member's fitted linear layer, flattened (the part a probe run fits)."""
    return np.concatenate([t.numpy().ravel() for name, t in predictor.model.state_dict().items() if "classifier" in name])


def test_probe_is_refit_on_train_and_val_and_reports_the_train_only_val_figures(small_project):
    logs: list[str] = []
    # The ensemble's colour member has informative features even with a random-init backbone beside it.
    refit = train(small_project, fast_config(**RECIPES["ensemble probe"]),
                  on_event=lambda e: logs.append(e.message) if e.kind == "log" else None)
    kept = train(small_project, fast_config(**RECIPES["ensemble probe"], refit=False))
    with_refit, without = Predictor.load(refit.best_checkpoint), Predictor.load(kept.best_checkpoint)
    classes = training_classes(small_project)
    n_labelled = len(split_samples(small_project, "train", classes)) + len(split_samples(small_project, "val", classes))
    assert with_refit.meta.metrics["refit_images"] == n_labelled and without.meta.metrics["refit_images"] == 0
    # The val figures are the same train-only fit's in both runs; the saved probes differ (more images).
    for key in ("val_acc", "val_macro_f1", "val_loss"):
        assert with_refit.meta.metrics[key] == pytest.approx(without.meta.metrics[key])
    assert not np.allclose(_classifiers(with_refit), _classifiers(without))
    assert any("before the refit" in line and f"{n_labelled} images" in line for line in logs)
    # The run says so in its config and in the runs list.
    infos = {i.run_id: i for i in runs.list_runs(small_project)}
    assert json.loads((Path(refit.run_dir) / runs.CONFIG).read_text())["refit"] is True
    assert val_acc_text(infos[refit.run_id]).endswith("before refit")
    assert "refit" not in val_acc_text(infos[kept.run_id])


def test_refit_fits_every_image_and_chooses_c_over_them_all():
    rng = np.random.default_rng(0)
    y = np.tile(np.repeat(np.arange(3), 2), 10)  # two images per place, the three cities in turn
    x = rng.normal(0, 1, (60, 2, 5)) + y[:, None, None]
    groups = np.arange(60) // 2
    final = refit_probe(x, y, groups, 3)
    direct = fit_probe(x, y, groups, 3)  # the same grouped inner CV over every image
    assert final.C == direct.C and final.inner_scores == direct.inner_scores
    assert np.allclose(final.coef, direct.coef) and np.allclose(final.mean, x.mean(axis=1).mean(axis=0))


@pytest.mark.parametrize("recipe", RECIPES)
def test_no_recipe_reads_a_test_photo(small_project, monkeypatch, recipe):
    """Every image training decodes goes through `transforms.load_image`: record them all."""
    read: list[str] = []
    real = training_transforms.load_image

    def spy(path, *args, **kwargs):
        read.append(str(Path(path).resolve()))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(training_transforms, "load_image", spy)
    # A fresh feature cache: a cached run would read nothing at all and prove nothing.
    monkeypatch.setattr(type(small_project), "cache_dir", property(lambda self: self.root / f"cache-{recipe}"))
    torch.manual_seed(0)
    result = train(small_project, fast_config(**RECIPES[recipe]))
    assert result.status == "finished"
    by_split = {split: {str(small_project.image_path(r).resolve()) for r in small_project.images(split=split)}
                for split in ("train", "val", "test")}
    assert by_split["test"] and not by_split["test"] & set(read)
    assert by_split["train"] <= set(read) and by_split["val"] <= set(read)
