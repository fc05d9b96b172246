"""A short run on the real gsv-croatia photos (skips when ../shared is absent)."""

from __future__ import annotations

import pytest

from core.data import catalog
from core.data.importing import import_source
from core.data.project import Project
from core.data.splitting import split_project
from core.models.bundle import load_bundle
from core.training.trainer import train

from .helpers import fast_config


@pytest.mark.slow
def test_efficientnet_lite0_trains_on_real_street_photos(gsv_croatia, tmp_path):
    with Project.init(tmp_path / "hr", [catalog.resolve(q) for q in ("Zagreb,HR", "Osijek,HR", "Rijeka,HR", "Split,HR")]) as project:
        import_source(project, gsv_croatia / "manifest.csv")
        split_project(project, seed=0)  # grouped by location: the 4 headings of a place stay together
        result = train(project, fast_config(arch="efficientnet-lite0", weights="imagenet", cache_features=True,
                                            image_size=96, epochs=2, batch_size=32, max_steps=3, optimizer="adamw",
                                            lr=1e-3))
        assert result.status == "finished" and result.best_val_acc is not None
        model, meta = load_bundle(result.best_checkpoint)
        assert meta.class_slugs == ["osijek", "rijeka", "split", "zagreb"]
        assert meta.mean == (0.5, 0.5, 0.5) and meta.classes[3].lat == pytest.approx(45.81, abs=0.1)
