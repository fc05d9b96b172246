"""`download --plan`: a plan's cities, counts and sub-areas run through the ordinary downloader (loopback
APIs), resumably; a damaged plan is one line; the weighted sampler keeps to the city's area."""

from __future__ import annotations

import json

import pytest

from core.acquisition.plan import DownloadPlan, PlannedArea, PlannedCity, save_plan
from core.acquisition.sampling import Area, weighted_points
from core.cli.main import main
from core.errors import GeoSpottrError

from .conftest import RADIUS_KM
from .test_download_cli import ARGS


def _north_east(city) -> tuple[float, float, float, float]:
    """The north-east quarter of the city's 1 km disc (the fake world has panoramas in its east half)."""
    min_lon, min_lat, max_lon, max_lat = Area(city.lat, city.lon, radius_km=RADIUS_KM).bounds
    return city.lon, city.lat, max_lon, max_lat


def test_download_plan_fills_the_planned_cities_in_their_sub_areas_and_resumes(project, apis, monkeypatch, capsys,
                                                                            tmp_path):
    monkeypatch.setenv("GEOSPOTTR_STREETVIEW_URL", apis.streetview_url)
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", apis.world.key)
    zagreb, split = project.city("zagreb"), project.city("split")
    plan = DownloadPlan("streetview", (PlannedCity("zagreb", 5, 5, (PlannedArea(_north_east(zagreb), 1.0),)),
                                       PlannedCity("split", 3, 3, (PlannedArea(_north_east(split), 0.5),))))
    path = save_plan(plan, tmp_path / "plan.json")
    flags = [a for a in ARGS if a not in ("--provider", "streetview", "--all", "--per-city", "20")]
    assert main(["download", "--project", str(project.root), "--plan", str(path), *flags]) == 0
    out = capsys.readouterr().out
    assert project.city_counts() == {"zagreb": 5, "split": 3, "rijeka": 0}
    for slug, city in (("zagreb", zagreb), ("split", split)):
        for r in project.images(city=slug):
            # a point drawn in the north-east quarter snaps (<= 300 m) to a panorama of the east half
            assert r.lon >= city.lon and r.lat >= city.lat - 0.003
    assert "8 images" in out or "to download 5" in out
    requests = apis.world.counts["image"]
    assert main(["download", "--project", str(project.root), "--plan", str(path), *flags]) == 0
    assert apis.world.counts["image"] == requests  # the targets are absolute: a rerun has nothing left to do


@pytest.mark.parametrize("damage, message", [
    ({"version": 9}, "not a download plan"),
    ({"provider": "flickr"}, "provider must be one of"),
    ({"cities": [{"slug": "zagreb", "new": -1, "target": 5, "areas": []}]}, "whole numbers"),
    ({"cities": [{"slug": "zagreb", "new": 1, "target": 5, "areas": [{"bbox": [16, 46, 15, 45], "weight": 1}]}]},
     "an area needs a bbox"),
    ({"cities": []}, "names no city"),
])
def test_a_damaged_plan_is_one_line(project, tmp_path, capsys, damage, message):
    data = {"version": 1, "provider": "streetview", "cities": [{"slug": "zagreb", "new": 1, "target": 1, "areas": []}]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({**data, **damage}))
    assert main(["download", "--project", str(project.root), "--plan", str(path), "--yes"]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_plan_and_city_options_exclude_each_other(project, tmp_path, capsys):
    path = save_plan(DownloadPlan("mapillary", (PlannedCity("zagreb", 1, 1),)), tmp_path / "plan.json")
    assert main(["download", "--project", str(project.root), "--plan", str(path), "--all"]) == 1
    assert "give --plan, or --cities" in capsys.readouterr().err
    with pytest.raises(GeoSpottrError, match="--plan or --addresses"):
        from core.acquisition.jobs import DownloadConfig

        DownloadPlan("mapillary", (PlannedCity("zagreb", 1, 1),)).configure(DownloadConfig(addresses=path))


def test_weighted_points_follow_the_weights_and_stay_in_the_city():
    city = Area(45.0, 16.0, radius_km=5)
    west = Area(45.0, 15.97, bbox=(15.93, 44.98, 16.0, 45.02))
    east = Area(45.0, 16.03, bbox=(16.0, 44.98, 16.07, 45.02))
    points = [p for p, _ in zip(weighted_points([(west, 1.0), (east, 3.0)], city, seed=1), range(2000))]
    assert all(city.contains(*p) for p in points)
    share_east = sum(lon >= 16.0 for _, lon in points) / len(points)
    assert 0.7 < share_east < 0.8
    # A sub-area wholly outside the city yields nothing instead of spinning forever.
    far = Area(50.0, 20.0, bbox=(19.9, 49.9, 20.1, 50.1))
    assert list(weighted_points([(far, 1.0)], city, seed=0, max_misses=50)) == []
