"""What the issue 29 scale fixes keep working: the clustered dataset map (bulk-added points with shared
event handlers) still opens an image on a click and shows its thumbnail on hover, and a grid tile that is
repainted while its thumbnail is being made still gets it (its request is made once, not on every paint)."""

from __future__ import annotations

from core import maps
from geospottr_gui.views.dataset.image_grid import ThumbnailProvider
from geospottr_gui.views.widgets.map_view import evaluate_js


def test_a_clustered_map_opens_a_point_on_click_and_shows_its_thumbnail_on_hover(qtbot, tiny_project, monkeypatch,
                                                                                 request):
    monkeypatch.setattr(maps, "CLUSTER_MIN_POINTS", 0)  # cluster even the tiny project's points
    view = request.getfixturevalue("dataset_map")  # built after the patch
    page = view.map
    qtbot.waitUntil(lambda: evaluate_js(page, "window.geospottrReady === true"), timeout=20000)
    assert evaluate_js(page, "typeof L.markerClusterGroup") == "function"
    images = [r for r in tiny_project.images(status=("pending", "accepted")) if r.lat is not None]
    assert evaluate_js(page, "geospottrPointCount") == len(images)
    # Zoomed in on one image, its point stands alone out of its cluster.
    one = images[0]
    page.run_js(f"geospottrMap.setView([{one.lat}, {one.lon}], 18, {{animate: false}})")
    qtbot.waitUntil(lambda: evaluate_js(page, "document.querySelectorAll('.gs-point').length") > 0, timeout=10000)
    with qtbot.waitSignal(view.image_clicked, timeout=10000) as clicked:
        page.run_js("document.querySelector('.gs-point').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    assert clicked.args[0] in {r.id for r in images}
    page.run_js("document.querySelector('.gs-point').dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))")
    shown = "(document.querySelector('.gs-thumb img') || {src: ''}).src.slice(0, 23)"
    qtbot.waitUntil(lambda: evaluate_js(page, shown) == "data:image/jpeg;base64,", timeout=20000)
    assert page.script_errors == []


def test_a_tile_painted_again_while_waiting_gets_its_thumbnail_from_one_request(qtbot, tiny_project, monkeypatch):
    provider = ThumbnailProvider()
    record = tiny_project.images()[0]
    paths = []
    real = type(tiny_project).image_path
    monkeypatch.setattr(type(tiny_project), "image_path", lambda self, r: paths.append(r.id) or real(self, r))
    with qtbot.waitSignal(provider.ready, timeout=20000):
        for _ in range(20):  # the tile repainted (scrolling, other thumbnails arriving) before it is made
            assert provider.get(tiny_project, record, 128) is None
    qtbot.waitUntil(lambda: provider.get(tiny_project, record, 128) is not None, timeout=20000)
    assert provider.get(tiny_project, record, 128).width() > 0
    assert paths.count(record.id) == 1
    provider.stop()
