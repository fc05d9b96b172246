"""Label errors with a real bundle file: a model sure of one city contradicts every other label."""

from __future__ import annotations

import torch

from core.models.baseline import BaselineCNN
from core.models.bundle import BundleMeta, ClassInfo, save_bundle
from core.quality import ScanOptions, scan


def _confident_bundle(path, project, city_slug: str):
    """A baseline CNN whose last bias makes it answer `city_slug` with ~100% for every image."""
    classes = [ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in project.cities()]
    model = BaselineCNN(len(classes))
    with torch.no_grad():
        last = model.classifier[-1]
        last.weight.zero_()
        last.bias.fill_(-20.0)
        last.bias[[c.slug for c in classes].index(city_slug)] = 20.0
    return save_bundle(path, model, BundleMeta(arch="baseline", classes=classes, image_size=64))


def test_labels_the_model_contradicts_are_ranked(bad_project, tmp_path):
    bundle = _confident_bundle(tmp_path / "m.pt", bad_project, "zagreb")
    findings = scan(bad_project, "labels", options=ScanOptions(model=bundle))
    records = {r.id: r for r in bad_project.images()}
    flagged = {f.image_id for f in findings}
    assert flagged == {i for i, r in records.items() if r.city_slug != "zagreb"}
    f = findings[0]
    assert f.kind == "label_error" and "model says Zagreb, HR" in f.message and "labelled Split, HR" in f.message
    assert f.details["predicted"] == "zagreb" and f.details["p_predicted"] > 0.99 and f.score > 0.99
