"""Shared fixtures: generated images, a tiny project, and the path to ../shared when present."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if hasattr(os, "geteuid") and os.geteuid() == 0:
    os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
#: The 400 development Street View photos (manifest.csv + images/); GEOSPOTTR_TEST_DATA points elsewhere.
GSV_CROATIA = Path(os.environ.get("GEOSPOTTR_TEST_DATA") or SHARED / "data" / "gsv-croatia")


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Never touch the real user's default project or settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("GEOSPOTTR_PROJECT", raising=False)
    monkeypatch.delenv("GOOGLE_MAPS_API_KEY", raising=False)
    monkeypatch.delenv("MAPILLARY_ACCESS_TOKEN", raising=False)


@pytest.fixture
def one_torch_thread():
    """Keep a torch-heavy test on one core: the test machine is shared, and one thread is deterministic."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def load_script(relative: str):
    """A script of the repository (docs/, packaging/: folders of scripts, not packages) as a module."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_photo(path: Path, seed: int, size: tuple[int, int] = (96, 72), kind: int | None = None) -> Path:
    """A textured JPEG: random blocks in a palette that depends on `kind`, so classes are learnable."""
    rng = np.random.default_rng(seed)
    k = seed % 4 if kind is None else kind
    base = np.array([[200, 60, 60], [60, 180, 60], [60, 60, 200], [200, 200, 60]][k % 4], dtype=np.float64)
    h, w = size[1], size[0]
    img = base + rng.normal(0, 25, (h, w, 3))
    stripes = (np.arange(w)[None, :] // (4 + 4 * (k % 3))) % 2
    img[:, :, (k + 1) % 3] += stripes * 60
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(path, "JPEG", quality=90)
    return path


@pytest.fixture
def photo_factory(tmp_path):
    """Call with (name, seed, kind=None) to get a fresh generated JPEG under tmp_path/src."""
    def make(name: str, seed: int, kind: int | None = None, size: tuple[int, int] = (96, 72)) -> Path:
        return make_photo(tmp_path / "src" / name, seed, size, kind)
    return make


@pytest.fixture
def gsv_croatia() -> Path:
    if not (GSV_CROATIA / "manifest.csv").exists():
        pytest.skip(f"development photos not found at {GSV_CROATIA}: copy the gsv-croatia folder (manifest.csv "
                    "and images/, from shared/data/ on a development machine) and set GEOSPOTTR_TEST_DATA to it")
    return GSV_CROATIA


CROATIA_CITIES = ["Zagreb,HR", "Osijek,HR", "Rijeka,HR", "Split,HR"]


def build_tiny_project(root: Path, per_city: int = 12, size: tuple[int, int] = (96, 72)):
    """A project of 4 Croatian cities whose generated photos have a per-city palette (learnable), with
    coordinates near each city, two views per location, and a persisted location-grouped split."""
    import csv

    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project
    from core.data.splitting import split_project

    project = Project.init(root / "project", [catalog.resolve(q) for q in CROATIA_CITIES], target_count=per_city)
    src = root / "tiny-src"
    rows = []
    for k, city in enumerate(project.cities()):
        for i in range(per_city):
            path = make_photo(src / city.slug / f"{i}.jpg", seed=1000 * k + i, size=size, kind=k)
            rows.append({"path": str(path), "lat": city.lat + 0.001 * i, "lon": city.lon - 0.001 * i,
                         "location_id": f"{city.slug}-{i // 2}"})
    manifest = src / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "lat", "lon", "location_id"])
        writer.writeheader()
        writer.writerows(rows)
    import_source(project, manifest)
    split_project(project, seed=0)
    return project


@pytest.fixture
def tiny_project(tmp_path):
    project = build_tiny_project(tmp_path)
    yield project
    project.close()


@pytest.fixture
def random_bundle(tiny_project):
    """A randomly initialised baseline bundle over the tiny project's cities, saved as run r1: enough for
    UI plumbing (rankings, markers, challenge rounds); accuracy is tested elsewhere."""
    import torch

    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo, save_bundle

    torch.manual_seed(0)
    cities = tiny_project.cities()
    meta = BundleMeta(arch="baseline", image_size=32, run_id="r1",
                      classes=[ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in cities])
    (tiny_project.runs_dir / "r1").mkdir(parents=True, exist_ok=True)  # a run folder, as the trainer leaves it
    (tiny_project.runs_dir / "r1" / "config.json").write_text('{"arch": "baseline", "created": "2026-01-01T00:00:00"}')
    return save_bundle(tiny_project.runs_dir / "r1" / "best.pt", registry.build("baseline", len(cities)).eval(), meta)
