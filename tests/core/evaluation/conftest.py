"""A small model really trained on the tiny project's train split, made once per test session.

The tiny project's cities have distinct colour palettes, so a few dozen steps of the baseline CNN at
48 px learn them; the evaluation and challenge tests then check real behaviour, not a mock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tests.conftest import build_tiny_project

IMAGE_SIZE = 48


@dataclass(frozen=True)
class TrainedModel:
    project_root: Path
    bundle: Path
    run_id: str


def _train(project, steps: int = 60) -> tuple[torch.nn.Module, "object"]:
    from core.imaging import load_image
    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo
    from core.training.transforms import eval_transform

    cities = project.cities()
    meta = BundleMeta(arch="baseline", image_size=IMAGE_SIZE, run_id="tiny",
                      classes=[ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in cities])
    transform = eval_transform(meta)
    index = {c.slug: i for i, c in enumerate(cities)}
    records = project.images(split="train")
    x = torch.stack([transform(load_image(project.image_path(r))) for r in records])
    y = torch.tensor([index[r.city_slug] for r in records])
    torch.manual_seed(0)
    model = registry.build("baseline", len(cities))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return model.eval(), meta


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> TrainedModel:
    """A tiny project (4 Croatian cities) and a baseline bundle trained on it, saved as run ``tiny``."""
    from core.models.bundle import save_bundle

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("trained")
    project = build_tiny_project(root)
    try:
        model, meta = _train(project)
        bundle = save_bundle(project.runs_dir / "tiny" / "best.pt", model, meta)
        # The run folder as the trainer leaves it: a run is a folder with config.json (`runs.run_dir`).
        (bundle.parent / "config.json").write_text(json.dumps({"arch": "baseline", "epochs": 1,
                                                                "created": "2026-01-01T00:00:00"}))
        (bundle.parent / "status.json").write_text(json.dumps({"status": "finished"}))
        return TrainedModel(project.root, bundle, "tiny")
    finally:
        project.close()


@pytest.fixture
def project(trained):
    """The trained model's project, opened for one test."""
    from core.data.project import Project

    with Project.open(trained.project_root) as p:
        yield p


@pytest.fixture(scope="session")
def predictor(trained):
    from core.inference.prediction import Predictor

    return Predictor.load(trained.bundle)
