"""Bundles trained once per session on the planted-shortcut photos (and a control without the shortcut),
and a project whose test split holds planted photos."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from .planted import CITIES, IMAGE_SIZE, planted_photo, train_planted


@dataclass(frozen=True)
class Planted:
    bundle: Path           # learned the corner patch
    control: Path          # learned a whole-scene tint: no shortcut
    photos: list[Path]     # held-out planted photos, five per city
    labels: list[int]


def _meta(crop_bottom: float = 0.0):
    from core.models.bundle import BundleMeta, ClassInfo

    classes = [ClassInfo(s, s.title(), "HR", 45.0 + i * 0.5, 15.0 + i) for i, s in enumerate(CITIES)]
    return BundleMeta(arch="baseline", classes=classes, image_size=IMAGE_SIZE, crop_bottom=crop_bottom)


#: The trained bundles, made once per test session even when another test package imports this fixture.
_MADE: list[Planted] = []


@pytest.fixture(scope="session")
def planted(tmp_path_factory) -> Planted:
    if not _MADE:
        _MADE.append(_make(tmp_path_factory))
    return _MADE[0]


def _make(tmp_path_factory) -> Planted:
    import torch

    from core.models.bundle import save_bundle

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("planted")
    meta = _meta()
    bundle = save_bundle(root / "planted.pt", train_planted(meta, steps=40), meta)
    control = save_bundle(root / "control.pt", train_planted(meta, steps=20, patch=False, tint=True), meta)
    photos, labels = [], []
    for k in range(len(CITIES)):
        for i in range(5):
            path = root / "photos" / f"{CITIES[k]}-{i}.jpg"
            path.parent.mkdir(exist_ok=True)
            planted_photo(90_000 + 10 * k + i, k).save(path, "JPEG", quality=95)
            photos.append(path)
            labels.append(k)
    return Planted(bundle, control, photos, labels)


@pytest.fixture
def planted_meta():
    return _meta


@pytest.fixture
def planted_project(planted, tmp_path):
    """A project of the four cities whose photos are the planted ones (all of them in every split's
    reach: a fixed 60/20/20 split), with the planted model as run ``planted``."""
    import shutil

    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project
    from core.data.splitting import split_project

    project = Project.init(tmp_path / "project", [catalog.resolve(q) for q in
                                                  ("Osijek,HR", "Rijeka,HR", "Split,HR", "Zagreb,HR")])
    rows = [{"path": str(p), "city": CITIES[k]} for p, k in zip(planted.photos, planted.labels)]
    manifest = tmp_path / "planted.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "city"])
        writer.writeheader()
        writer.writerows(rows)
    import_source(project, manifest)
    split_project(project, seed=0)
    run = project.runs_dir / "planted"
    run.mkdir(parents=True)
    (run / "config.json").write_text('{"arch": "baseline"}')  # a run folder, as the trainer leaves it
    shutil.copy(planted.bundle, run / "best.pt")
    yield project
    project.close()
