"""core.maps writes offline pages: local Leaflet only, escaped labels, the basemap, no class mutation."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import folium
import pytest

from core import maps
from core.inference.results import CityScore as Score
from core.resources import resource_path

EVIL = 'Zagreb</script><script>alert("x")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture
def assets(tmp_path):
    return maps.write_assets(tmp_path / "pages")


def layer_args(page: str, name: str) -> dict:
    """The arguments a page hands to ``GeoSpottr.layer(map, name, args)`` (one JSON object on one line)."""
    return json.loads(re.search(r'GeoSpottr\.layer\(\w+, "' + name + r'", (\{.*\})\);\n', page).group(1))


def remote_loads(page: str) -> list[str]:
    """Scripts, stylesheets and images the page would fetch from the network."""
    return re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(https?:[^"]+)"', page)


def test_assets_come_from_the_installed_package_and_the_basemap(assets):
    assert (assets / "leaflet.js").read_text().lstrip().startswith("/* @preserve")
    assert "Leaflet 1." in (assets / "leaflet.js").read_text()[:200]
    world = (assets / "world.js").read_text()
    assert world.startswith("window.GEOSPOTTR_WORLD = ")
    data = json.loads(world[len("window.GEOSPOTTR_WORLD = "):].rstrip().rstrip(";"))
    assert len(data["features"]) > 150
    names = {f["properties"]["name"] for f in data["features"]}
    assert {"Croatia", "Brazil", "Japan"} <= names
    before = {p.name: p.stat().st_mtime_ns for p in assets.iterdir()}
    maps.write_assets(assets.parent)  # a second call rewrites nothing
    assert before == {p.name: p.stat().st_mtime_ns for p in assets.iterdir()}


def test_basemap_has_no_antimeridian_stripes():
    data = json.loads(resource_path("maps", maps.BASEMAP_FILE).read_text())
    for feature in data["features"]:
        geom = feature["geometry"]
        polygons = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        for ring in (r for poly in polygons for r in poly):
            jumps = [(a, b) for a, b in zip(ring, ring[1:]) if abs(a[0] - b[0]) > 180 and abs(a[1]) != 90]
            assert not jumps, feature["properties"]["name"]
            assert ring[0] == ring[-1]


def test_prediction_page_is_local_escaped_and_leaves_folium_defaults_alone(tmp_path, assets):
    defaults = (list(folium.Map.default_js), list(folium.Map.default_css))
    ranking = [Score("zagreb", EVIL, "HR", 45.81, 15.98, 0.7), Score("split", "Split", "HR", 43.5, 16.44, 0.2),
               Score("rijeka", "Rijeka", "HR", 45.33, 14.44, 0.1)]
    page = maps.prediction_map(ranking, tmp_path / "pages" / "p.html", assets).read_text()
    assert remote_loads(page) == []
    assert 'src="leaflet-' in page and "leaflet.js" in page
    assert "<script>alert" not in page and "<img src=x" not in page and "</script><script>" not in page
    data = layer_args(page, "candidates")["data"]
    assert len(data) == 3 and sum(d["top"] for d in data) == 1
    top = next(d for d in data if d["top"])
    assert "&lt;/script&gt;" in top["popup"] and "&amp;" in top["popup"]
    assert top["radius"] > max(d["radius"] for d in data if not d["top"])
    assert maps.OSM_TILES in page and "OpenStreetMap" in page and maps.BASEMAP_ATTRIBUTION in page
    assert (list(folium.Map.default_js), list(folium.Map.default_css)) == defaults
    offline = maps.prediction_map(ranking, tmp_path / "pages" / "q.html", assets, online_tiles=False).read_text()
    assert maps.OSM_TILES not in offline


def test_dataset_page_clusters_only_when_many(tmp_path, assets, tiny_project):
    cities = tiny_project.cities()
    few = [maps.ImagePoint(f"id{i}", 45.0 + i * 1e-3, 15.0, cities[i % 4].slug) for i in range(10)]
    page = maps.dataset_map(cities, few, tmp_path / "pages" / "d.html", assets).read_text()
    assert "markercluster.js" not in page and layer_args(page, "dataset")["cluster"] is False
    assert remote_loads(page) == []
    many = few * (maps.CLUSTER_MIN_POINTS // 10 + 1)
    page = maps.dataset_map(cities, many, tmp_path / "pages" / "e.html", assets).read_text()
    assert "markercluster.js" in page and layer_args(page, "dataset")["cluster"] is True


def test_reveal_and_pick_pages_escape_labels(tmp_path, assets, tiny_project):
    pick = maps.pick_map(tiny_project.cities(), tmp_path / "pages" / "pick.html", assets).read_text()
    assert remote_loads(pick) == [] and [c["slug"] for c in layer_args(pick, "pick")["cities"]] == [
        c.slug for c in tiny_project.cities()]
    points = [maps.RevealPoint("truth", 45.8, 16.0, EVIL), maps.RevealPoint("human", 43.5, 16.4, "You: 250 km")]
    page = maps.reveal_map(points, tmp_path / "pages" / "r.html", assets).read_text()
    assert "<img src=x" not in page and "&lt;img src=x" in page.replace("\\u0026", "&").replace("\\u003c", "<")


def test_js_json_cannot_close_a_script():
    text = maps.js_json({"a": "</script><!-- \u2028 &"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- \u2028 &"}


def test_colour_and_size_scales_are_monotonic():
    sizes = [maps.probability_radius(p / 10) for p in range(11)]
    assert sizes == sorted(sizes) and sizes[0] >= 6
    assert maps.probability_color(0) != maps.probability_color(1)
    assert len(set(maps.city_colors(20))) == 20


def test_place_labels_name_the_biggest_places_around_the_data_first(tiny_project):
    cities = tiny_project.cities()
    rows = [[c.lat, c.lon, i, f"id{i}"] for i, c in enumerate(cities)]
    labels = maps.place_labels(cities, rows)
    names = [name for name, _lat, _lon, _zoom in labels]
    assert "Zagreb" in names[:5] and len(labels) <= maps.MAX_PLACE_LABELS
    zooms = [zoom for *_rest, zoom in labels]
    assert zooms == sorted(zooms) and zooms[0] == 0   # the biggest are named at every zoom
    lats = [c.lat for c in cities]
    assert all(min(lats) - 3 < lat < max(lats) + 3 for _n, lat, _lon, _z in labels)
    assert maps.place_labels([], []) == []


def test_page_script_is_plain_javascript_with_every_layer_the_pages_call(tmp_path, assets):
    """The map code is one shipped JS file (no code in Python strings): it parses, it defines each layer
    core/maps.py draws, and a page refers to it by a relative URL next to Leaflet."""
    script = resource_path("maps", maps.PAGE_SCRIPT)
    text = script.read_text()
    assert "{{" not in text and "{%" not in text  # no template left in it
    for name in ("candidates", "dataset", "pick", "reveal", "recap"):
        assert f"layers.{name} = function (map, args)" in text
    assert (assets / maps.PAGE_SCRIPT).read_text() == text and (assets / maps.PAGE_STYLES).exists()
    page = maps.recap_map([], tmp_path / "pages" / "recap.html", assets).read_text()
    assert f'src="{assets.name}/{maps.PAGE_SCRIPT}"' in page and layer_args(page, "recap")["rounds"] == []
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the syntax check (`node --check`) needs it")
    proc = subprocess.run([node, "--check", str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
