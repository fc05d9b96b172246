"""The linear probe (fit, export into a normal bundle, Predictor round trip) and class balance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import GeoSpottrError
from core.inference.prediction import Predictor
from core.models import registry
from core.models.probe import EnsembleProbeNet, ProbeNet, crop_view
from core.training import runs
from core.training.balance import BalancedSampler, balance_weights
from core.training.distributed import DistContext
from core.training.losses import TrainingLoss
from core.training.probe import export_probe, fit_probe, fuse_probabilities
from core.training.trainer import train

from .helpers import fast_config

#: A tiny probe: random-init backbone, 32 px views of a 48 px frame (seconds on one core).
TINY_PROBE = {"view_size": 32, "views": ["full", "tl", "br"], "crop_fraction": 0.6, "flip": True}


def _separable(n_per_class: int, classes: int, dim: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    centres = rng.normal(0, 3, (classes, dim))
    x = centres[y][:, None, :] + rng.normal(0, 1, (len(y), 2, dim))  # (N, 2 views, dim)
    return x, y, np.arange(len(y)) // 2  # two images per place


def test_fitted_probe_exports_as_a_linear_layer_with_the_same_probabilities():
    x, y, groups = _separable(12, 3)
    probe = fit_probe(x, y, groups, 3)
    assert probe.C in probe.inner_scores  # chosen by the inner CV
    model = ProbeNet(3, view_size=32)
    model.classifier = torch.nn.Linear(6, 3)  # the tiny features stand in for the 1280 real ones
    export_probe(model, probe)
    logits = model.classifier(torch.from_numpy(x.mean(axis=1)).float())
    assert np.allclose(torch.softmax(logits, 1).detach().numpy(), probe.probabilities(x.mean(axis=1)), atol=1e-4)
    assert (probe.probabilities(x.mean(axis=1)).argmax(1) == y).mean() > 0.9


def test_binary_probe_keeps_one_logit_per_class():
    x, y, groups = _separable(10, 2)
    probe = fit_probe(x, y, groups, 2, c_grid=(1.0,))
    assert probe.coef.shape == (2, 6) and (probe.probabilities(x.mean(axis=1)).argmax(1) == y).mean() > 0.9


def test_crop_views_cut_the_named_corner_and_resize():
    x = torch.arange(16.0).view(1, 1, 4, 4).expand(1, 3, 4, 4)
    assert crop_view(x, "tl", 0.5, 2)[0, 0].tolist() == [[0.0, 1.0], [4.0, 5.0]]
    assert crop_view(x, "br", 0.5, 2)[0, 0].tolist() == [[10.0, 11.0], [14.0, 15.0]]
    assert crop_view(x, "full", 0.5, 4).equal(x)


def test_probe_run_trains_in_one_step_and_its_bundle_predicts_like_any_other(small_project):
    events = []
    result = train(small_project, fast_config(arch="efficientnet-lite0-probe", image_size=48,
                                              arch_kwargs=TINY_PROBE), on_event=events.append)
    assert result.status == "finished" and result.epochs_done == 1
    epoch = [e.data for e in events if e.kind == "epoch"]
    assert len(epoch) == 1 and 0 <= epoch[0]["val_acc"] <= 1
    config = json.loads((small_project.runs_dir / result.run_id / runs.CONFIG).read_text())
    assert config["class_balance"] == "weighted"
    predictor = Predictor.load(result.best_checkpoint)  # torch.load(weights_only=True) inside
    assert predictor.meta.arch_kwargs["views"] == TINY_PROBE["views"] and predictor.meta.metrics["C"] > 0
    assert isinstance(predictor.model, ProbeNet)
    path = next(p for p in small_project.images_dir.rglob("*.jpg"))
    assert len(predictor.predict(path).ranking) == 4
    # A rerun reuses the cached view features: same probe, same predictions.
    again = train(small_project, fast_config(arch="efficientnet-lite0-probe", image_size=48, arch_kwargs=TINY_PROBE))
    assert np.allclose(Predictor.load(again.best_checkpoint).predict(path).probabilities,
                       predictor.predict(path).probabilities, atol=1e-5)


def test_balance_weights_make_every_class_count_the_same():
    labels = [0] * 6 + [1] * 2 + [2] * 4
    w = balance_weights(labels, 4)
    assert np.allclose(np.bincount(labels, minlength=4) * w, [4, 4, 4, 0])


def test_balanced_sampler_draws_cities_about_equally_and_is_reproducible():
    labels = [0] * 90 + [1] * 10
    sampler = BalancedSampler(list(range(100)), DistContext(), 0, labels, 2)
    sampler.set_epoch(3)
    drawn = list(sampler)
    assert len(drawn) == 100 and drawn == list(sampler)
    assert 30 <= sum(labels[i] for i in drawn) <= 70  # about half minority draws instead of 10%


def test_weighted_loss_counts_each_sample_by_its_class_weight():
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 0, 1])
    idx = torch.arange(3)
    plain = TrainingLoss()(logits, labels, idx)
    weighted = TrainingLoss(class_weights=torch.tensor([1.0, 1.0]))(logits, labels, idx)
    assert torch.isclose(plain, weighted)
    geo = torch.eye(2)[labels]
    assert torch.isclose(TrainingLoss(geo=geo, class_weights=torch.tensor([0.5, 3.0]))(logits, labels, idx),
                         TrainingLoss(class_weights=torch.tensor([0.5, 3.0]))(logits, labels, idx))


@pytest.mark.parametrize("balance", ["sampler", "weighted"])
def test_sgd_runs_record_their_class_balance(small_project, balance):
    result = train(small_project, fast_config(epochs=1, class_balance=balance))
    assert json.loads((small_project.runs_dir / result.run_id / runs.CONFIG).read_text())["class_balance"] == balance


def test_unknown_class_balance_is_a_one_line_error(small_project):
    with pytest.raises(GeoSpottrError, match="--class-balance"):
        train(small_project, fast_config(class_balance="oversample"))


def test_probe_is_in_the_registry():
    assert "efficientnet-lite0-probe" in registry.names()


def test_head_auto_trains_the_probe_while_cities_are_small():
    from core.training.data import Sample
    from core.training.probe import trained_arch
    from core.training.trainer import TrainConfig

    def samples(per_city: int) -> list:
        return [Sample(f"{c}-{i}.jpg", c, None, None) for c in range(4) for i in range(per_city)]

    assert trained_arch(TrainConfig(arch="efficientnet-lite0"), samples(60), 4) == "efficientnet-lite-ensemble-probe"
    assert trained_arch(TrainConfig(arch="efficientnet-lite0-probe", head="probe"), samples(60), 4) == \
        "efficientnet-lite0-probe"
    # A local weights file fits one backbone: the single Lite0 probe takes it, not the ensemble.
    assert trained_arch(TrainConfig(arch="efficientnet-lite0", weights="/data/lite0.pth"), samples(60), 4) == \
        "efficientnet-lite0-probe"
    assert trained_arch(TrainConfig(arch="efficientnet-lite0"), samples(300), 4) == "efficientnet-lite0"
    assert trained_arch(TrainConfig(arch="efficientnet-lite0", head="finetune"), samples(60), 4) == "efficientnet-lite0"
    assert trained_arch(TrainConfig(arch="resnet50-linear", head="probe"), samples(300), 4) == "resnet50-probe"
    assert trained_arch(TrainConfig(arch="geospottr"), samples(60), 4) == "geospottr"  # its head is the design
    with pytest.raises(GeoSpottrError, match="no linear-probe variant"):
        trained_arch(TrainConfig(arch="baseline", head="probe"), samples(60), 4)


def test_resnet50_probe_builds_without_downloaded_weights():
    model = registry.build("resnet50-probe", 3, weights="none", view_size=32)
    assert model.classifier.in_features == 2048
    assert model.eval()(torch.randn(1, 3, 48, 48)).shape == (1, 3)


#: A tiny two-member ensemble (random-init Lite0 + colour statistics) on 48 px frames.
TINY_ENSEMBLE = {"view_size": 32, "views": ["full"], "crop_fraction": 0.6, "flip": False,
                 "backbones": ["efficientnet-lite0", "colour"]}


def test_ensemble_probe_fits_each_member_and_its_bundle_predicts_the_fused_probabilities(small_project):
    events = []
    result = train(small_project, fast_config(arch="efficientnet-lite-ensemble-probe", image_size=48,
                                              arch_kwargs=TINY_ENSEMBLE), on_event=events.append)
    assert result.status == "finished"
    predictor = Predictor.load(result.best_checkpoint)  # weights_only
    model = predictor.model
    assert isinstance(model, EnsembleProbeNet) and len(model.members) == 2
    metrics = predictor.meta.metrics
    assert metrics["C_efficientnet-lite0"] > 0 and metrics["C_colour"] > 0 and "C" not in metrics
    logs = [e.message for e in events if e.kind == "log"]
    assert any("C efficientnet-lite0 " in line and ", colour " in line for line in logs)
    # Members were fitted separately; the bundle's forward pass is their normalised geometric mean.
    path = next(p for p in small_project.images_dir.rglob("*.jpg"))
    with Image.open(path) as img:
        x = predictor.transform(img.convert("RGB"))[None]
    with torch.no_grad():
        members = [torch.softmax(m(x), 1).numpy() for m in model.members]
        fused = torch.softmax(model(x), 1).numpy()
    assert np.allclose(fused, fuse_probabilities(members), atol=1e-5)
    assert np.allclose(predictor.predict(path).probabilities, fused[0], atol=1e-4)


def test_fused_probabilities_are_a_normalised_geometric_mean():
    a, b = np.array([[0.8, 0.2]]), np.array([[0.5, 0.5]])
    expected = np.sqrt(a * b) / np.sqrt(a * b).sum()
    assert np.allclose(fuse_probabilities([a, b]), expected) and fuse_probabilities([a]) is a


def test_ensemble_probe_refuses_a_weights_file_and_a_single_backbone():
    with pytest.raises(GeoSpottrError, match="imagenet' or 'none'"):
        EnsembleProbeNet(3, weights="/tmp/some.pth")
    with pytest.raises(GeoSpottrError, match="two or more"):
        EnsembleProbeNet(3, backbones=["colour"])
