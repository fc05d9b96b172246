"""Fixtures for the acquisition tests: the loopback fake APIs with three covered cities, a project with
those cities, and a fast download configuration (tiny images, millisecond backoff, short timeouts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.acquisition.http import RetryPolicy
from core.acquisition.jobs import DownloadConfig
from core.acquisition.streetview import StreetViewParams
from core.data import catalog
from core.data.project import Project

from .fake_apis import FakeApis, MlyImage, World

CITIES = ["Zagreb,HR", "Split,HR", "Rijeka,HR"]
RADIUS_KM = 1.0
FAST_RETRY = RetryPolicy(max_retries=5, base_delay_s=0.005, max_delay_s=0.02, timeout_s=0.5)


def make_world() -> World:
    """Panoramas every 200 m over the east half of each city's 1 km disc (the west half has none);
    Mapillary images every 150 m over the whole disc, every fifth one a 360 panorama."""
    world = World()
    for query in CITIES:
        city = catalog.resolve(query)
        world.add_panos_around(city.lat, city.lon, RADIUS_KM, 200, city.slug)
        for k, pano in enumerate(_grid(city.lat, city.lon)):
            world.mly.append(MlyImage(f"{city.slug}{k:04d}", pano[0], pano[1], creator=f"user{k % 3}", is_pano=k % 5 == 0))
    return world


def _grid(lat: float, lon: float) -> list[tuple[float, float]]:
    scratch = World()
    scratch.add_panos_around(lat, lon, RADIUS_KM, 150, "m", covered_half_only=False)
    return [(p.lat, p.lon) for p in scratch.panos]


@pytest.fixture
def apis():
    with FakeApis(make_world()) as server:
        yield server


def make_project(root: Path) -> Project:
    project = Project.init(root)
    for query in CITIES:
        project.add_city(catalog.resolve(query), target_count=20, radius_km=RADIUS_KM)
    return project


@pytest.fixture
def project(tmp_path):
    p = make_project(tmp_path / "project")
    yield p
    p.close()


@pytest.fixture
def sv_config(apis) -> DownloadConfig:
    return DownloadConfig(provider="streetview", per_city=20, workers=4, seed=1, key=apis.world.key,
                          base_url=apis.streetview_url, streetview=StreetViewParams(size=64, radius_m=300),
                          retry=FAST_RETRY, qps=None)


@pytest.fixture
def mly_config(apis) -> DownloadConfig:
    return DownloadConfig(provider="mapillary", per_city=8, workers=3, seed=2, key=apis.world.token,
                          base_url=apis.mapillary_url, retry=FAST_RETRY, qps=None)


REPO_ROOT = Path(__file__).resolve().parents[3]
