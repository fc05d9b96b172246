"""Scene filter: our Places365 category list, CSAIL-style checkpoint loading, and the verdicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import GeoSpottrError
from core.quality.scene import NUM_CATEGORIES, SceneCheck, build_places_model, categories, judge

from .conftest import by_name, street_like


def test_category_list_is_complete_and_in_output_order():
    cats = categories()
    assert len(cats) == NUM_CATEGORIES == len({c.name for c in cats})
    assert [c.name for c in cats] == sorted(c.name for c in cats)  # CSAIL's list is sorted (byte order)
    named = {c.name: c for c in cats}
    assert (cats[319].name, cats[203].name, cats[48].name) == ("street", "kitchen", "beach")
    assert named["street"].street and not named["street"].indoor
    assert named["kitchen"].indoor and not named["kitchen"].street
    assert not any(c.indoor and c.street for c in cats)


def _csail_checkpoint(path, arch: str = "resnet18", outputs: int = NUM_CATEGORIES):
    """A file laid out like CSAIL's release: {'epoch', 'arch', 'state_dict' with 'module.' keys}."""
    from torchvision.models import resnet18

    torch.manual_seed(0)
    state = {f"module.{k}": v for k, v in resnet18(num_classes=outputs).state_dict().items()}
    torch.save({"epoch": 90, "arch": arch, "best_prec1": 54.7, "state_dict": state}, path)
    return path


def test_csail_checkpoint_loads_and_classifies(tmp_path, bad_project):
    model = build_places_model(_csail_checkpoint(tmp_path / "resnet18_places365.pth.tar"))
    check = SceneCheck(model, indoor=0.0)  # a random net: make every image "indoor" to see findings flow
    from core.quality.findings import Sample
    from core.quality.frames import measure

    rec = bad_project.image(by_name(bad_project)["good0"])
    img = street_like(0)
    findings = check.observe([Sample(rec, img, measure(img))])
    assert [f.kind for f in findings] == ["scene"] and "indoor scene" in findings[0].message
    assert set(findings[0].details) == {"p_indoor", "p_street", "top", "p_top"}


def test_wrong_checkpoints_are_one_line_errors(tmp_path):
    with pytest.raises(GeoSpottrError, match="outputs"):
        build_places_model(_csail_checkpoint(tmp_path / "a.pth", outputs=10))
    torch.save({"state_dict": {"features.0.weight": torch.zeros(1)}}, tmp_path / "b.pth")
    with pytest.raises(GeoSpottrError, match="not a Places365 ResNet"):
        build_places_model(tmp_path / "b.pth")
    with pytest.raises(GeoSpottrError, match="no such file"):
        build_places_model(tmp_path / "missing.pth")


def test_judge_indoor_non_street_and_street():
    cats = categories()
    idx = {c.name: c.index for c in cats}

    def dist(**mass):
        p = np.full(NUM_CATEGORIES, 1e-6)
        for name, m in mass.items():
            p[idx[name]] = m
        return p / p.sum()

    assert "indoor" in judge(dist(kitchen=0.7, street=0.3))[0]
    assert "no street" in judge(dist(ocean=0.6, sky=0.4))[0]
    assert judge(dist(street=0.5, forest_road=0.2, ocean=0.3)) is None
