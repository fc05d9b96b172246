"""Splits (stratified, grouped, deterministic) and export / re-import round trips."""

import csv
import json

import pytest

from core.data import catalog
from core.data.exporting import export
from core.data.importing import import_source
from core.data.project import Project
from core.data.splitting import parse_ratios, split_project
from core.errors import GeoSpottrError

from ..conftest import CROATIA_CITIES


def test_split_keeps_places_whole_and_ratios_per_city(tiny_project):
    records = tiny_project.images()
    by_loc = {}
    for r in records:
        by_loc.setdefault(r.location_id, set()).add(r.split)
    assert all(len(s) == 1 for s in by_loc.values())
    for city in tiny_project.cities():
        splits = [r.split for r in tiny_project.images(city=city.slug)]
        assert splits.count("train") >= splits.count("val") >= 1 and splits.count("test") >= 1


def test_split_is_deterministic_and_skips_rejected(tiny_project):
    first = {r.id: r.split for r in tiny_project.images()}
    split_project(tiny_project, seed=0)
    assert {r.id: r.split for r in tiny_project.images()} == first
    victim = tiny_project.images()[0].id
    tiny_project.set_status([victim], "rejected", "bad")
    split_project(tiny_project, seed=0)
    assert tiny_project.image(victim).split is None
    split_project(tiny_project, seed=1)
    assert {r.id: r.split for r in tiny_project.images()} != first
    assert tiny_project.get_setting("split")["seed"] == 1


def test_bad_ratios_are_rejected():
    assert parse_ratios("3,1,1") == pytest.approx((0.6, 0.2, 0.2))
    for bad in ("0.5,0.5", "a,b,c", "-1,1,1"):
        with pytest.raises(GeoSpottrError):
            parse_ratios(bad)


def test_imagefolder_round_trip_keeps_everything(tmp_path, tiny_project):
    out = tmp_path / "export"
    n = export(tiny_project, "imagefolder", out)
    assert n == len(tiny_project.images())
    assert json.loads((out / "cities.json").read_text())[0]["slug"] == "osijek"
    other = Project.init(tmp_path / "other")
    report = import_source(other, out, trust_status=True)  # our own export: its splits are trusted
    assert report.added == n and sorted(report.cities_added) == sorted(c.slug for c in tiny_project.cities())
    key = lambda r: (r.sha256, r.city_slug, r.split, r.location_id, round(r.lat, 6))
    assert sorted(map(key, other.images())) == sorted(map(key, tiny_project.images()))
    with pytest.raises(GeoSpottrError, match="not empty"):
        export(tiny_project, "imagefolder", out)


def test_csv_and_geojson_exports(tmp_path, tiny_project):
    export(tiny_project, "csv", tmp_path / "all.csv", split="test")
    rows = list(csv.DictReader((tmp_path / "all.csv").open()))
    assert rows and {r["split"] for r in rows} == {"test"}
    export(tiny_project, "geojson", tmp_path / "all.geojson")
    features = json.loads((tmp_path / "all.geojson").read_text())["features"]
    assert len(features) == len(tiny_project.images())
    assert features[0]["geometry"]["type"] == "Point"


def test_gsv_croatia_import_split_export_reimport(tmp_path, gsv_croatia):
    """The real photos: nearest-city labels, split by location, export, re-import, compare."""
    project = Project.init(tmp_path / "hr", [catalog.resolve(q) for q in CROATIA_CITIES])
    report = import_source(project, gsv_croatia / "manifest.csv")
    assert report.added == 400 and not report.rejected
    counts = {slug: n for slug, n in project.city_counts().items()}
    assert sum(counts.values()) == 400 and all(n > 0 for n in counts.values())
    split_project(project, seed=0, group_by="location")
    places = {}
    for r in project.images():
        places.setdefault(r.location_id, set()).add(r.split)
    assert len(places) == 100 and all(len(s) == 1 for s in places.values())
    export(project, "csv", tmp_path / "hr.csv")
    again = Project.init(tmp_path / "hr2", [catalog.resolve(q) for q in CROATIA_CITIES])
    # Our CSV carries a city column: labels come back exactly, coordinates and places too.
    import_source(again, tmp_path / "hr.csv", trust_status=True)  # our own export: splits are trusted
    key = lambda r: (r.sha256, r.city_slug, r.location_id, r.lat, r.lon, r.split)
    assert sorted(map(key, again.images())) == sorted(map(key, project.images()))
