"""The web map widget and the dataset map in a real QtWebEngine, with no network."""

from __future__ import annotations

import pytest

from geospottr_gui.views.widgets.map_view import MapView, evaluate_js


def test_dataset_map_draws_every_point_and_area_and_a_click_opens_the_image(qtbot, dataset_map, tiny_project):
    images = [r for r in tiny_project.images(status=("pending", "accepted")) if r.lat is not None]
    assert evaluate_js(dataset_map.map, "typeof L") == "object"
    assert evaluate_js(dataset_map.map, "geospottrPointCount") == len(images)
    assert evaluate_js(dataset_map.map, "document.querySelectorAll('.gs-point').length") == len(images)
    assert evaluate_js(dataset_map.map, "document.querySelectorAll('.gs-area').length") == len(tiny_project.cities())
    assert f"{len(images)} images in 4 cities" in dataset_map.summary.text()
    with qtbot.waitSignal(dataset_map.image_clicked, timeout=10000) as clicked:
        dataset_map.map.run_js("document.querySelector('.gs-point').dispatchEvent("
                               "new MouseEvent('click', {bubbles: true}))")
    assert clicked.args[0] in {r.id for r in images}
    assert dataset_map.map.script_errors == []


def test_dataset_map_names_places_and_shows_a_thumbnail_on_hover(qtbot, dataset_map):
    view = dataset_map.map
    names = evaluate_js(view, "Array.from(document.querySelectorAll('.gs-place')).map(e => e.textContent)")
    assert "Zagreb" in names and "Split" in names   # tile-less maps still say where a cluster is
    assert "GeoNames" in evaluate_js(view, "document.querySelector('.leaflet-control-attribution').textContent")
    view.run_js("document.querySelector('.gs-point').dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))")
    shown = "(document.querySelector('.gs-thumb img') || {src: ''}).src.slice(0, 23)"
    qtbot.waitUntil(lambda: evaluate_js(view, shown) == "data:image/jpeg;base64,", timeout=20000)
    assert evaluate_js(view, "document.querySelector('.gs-thumb img').naturalWidth") > 0
    assert view.script_errors == []


def test_dataset_map_refreshes_when_images_change_while_visible(qtbot, dataset_map, tiny_project):
    victim = tiny_project.images()[0]
    tiny_project.conn.execute("UPDATE images SET status = 'rejected' WHERE id = ?", (victim.id,))
    with qtbot.waitSignal(dataset_map.refreshed, timeout=30000) as refreshed:
        dataset_map.context.images_changed.emit()
    assert refreshed.args[0] == len(tiny_project.images()) - 1


def test_a_missing_page_is_reported_not_blank(qtbot, tmp_path):
    view = MapView()
    view.show()
    with qtbot.waitSignal(view.load_failed, timeout=20000) as failed:
        view.show_page(tmp_path / "nowhere.html")
    assert "nowhere.html" in failed.args[0]
    view.deleteLater()
    qtbot.wait(50)


def test_many_points_are_clustered_in_city_colours(qtbot, tmp_path, tiny_project):
    from core import maps
    from geospottr_gui.views.widgets.map_view import assets_dir, pages_dir

    cities = tiny_project.cities()
    points = [maps.ImagePoint(f"i{k}", c.lat + (k % 20) * 1e-3, c.lon + (k // 20) * 1e-3, c.slug)
              for c in cities for k in range(maps.CLUSTER_MIN_POINTS // len(cities) + 10)]
    page = maps.dataset_map(cities, points, pages_dir() / "clustered-test.html", assets_dir(), online_tiles=False)
    view = MapView()
    view.resize(800, 600)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=20000):
        view.show_page(page)
    assert evaluate_js(view, "typeof L.markerClusterGroup") == "function"
    assert view.script_errors == []
    assert evaluate_js(view, "geospottrPointCount") == len(points)
    clusters = evaluate_js(view, "Array.from(document.querySelectorAll('.gs-cluster div'))"
                                 ".map(function (d) { return d.style.background; })")
    assert 0 < len(clusters) < len(points) and len(set(clusters)) == len(cities)
    assert evaluate_js(view, "document.body.dataset.tiles") == "none"
    assert view.script_errors == []
    view.deleteLater()
    qtbot.wait(50)


def test_the_project_cities_are_named_above_the_points(dataset_map, tiny_project):
    names = evaluate_js(dataset_map.map, "Array.from(document.querySelectorAll('.gs-city-name')).map(e => e.textContent)")
    assert sorted(names) == sorted(c.label for c in tiny_project.cities())


@pytest.mark.parametrize("guesses", [
    ((45.8, 11.0), (45.8, 21.0)),    # far west and far east: side labels would need more room than the map has
    ((45.85, 16.05), (45.75, 15.95)),  # both next to the truth: labels would cover the other markers
])
def test_reveal_labels_stay_inside_a_small_map_and_off_the_markers(qtbot, tmp_path, guesses):
    from core import maps

    from .test_challenge_view import LABELS_INSIDE_AND_CLEAR

    (hl, ho), (ml, mo) = guesses
    points = [maps.RevealPoint("truth", 45.8, 16.0, "Zagreb, HR"),
              maps.RevealPoint("human", hl, ho, "You · 1,234 km · 1,234 pts"),
              maps.RevealPoint("model", ml, mo, "Model · 1,234 km · 1,234 pts")]
    page = maps.reveal_map(points, tmp_path / "pages" / "reveal.html", maps.write_assets(tmp_path / "pages"),
                           online_tiles=False)
    view = MapView()
    qtbot.addWidget(view)
    view.resize(340, 260)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=30000):
        view.show_page(page)
    # The page settles (fit, then labels placed) within moments of loading; a user sees the settled map.
    qtbot.waitUntil(lambda: evaluate_js(view, LABELS_INSIDE_AND_CLEAR) == [0, 0], timeout=5000)
