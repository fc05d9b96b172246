"""Predict's Explain toggle: the heat map over the photo, per ranked city, computed in the worker."""

from __future__ import annotations

from tests.gui.test_predict_view import drop, shown_with_map, view  # noqa: F401  (the view fixture)


def _shown(view):  # noqa: F811
    return view.drop.pixmap().toImage()


def test_explain_overlays_the_heat_map_and_follows_the_clicked_city(qtbot, view, photo_factory):  # noqa: F811
    photo = photo_factory("street.jpg", seed=3, size=(160, 120))
    with shown_with_map(qtbot, view):
        drop(view, [photo])
    plain = _shown(view)
    bar = view.explain_bar
    assert not bar.opacity.isEnabled()
    with qtbot.waitSignal(bar.overlay, timeout=30000):
        bar.toggle.setChecked(True)        # the map of the top guess, computed in a worker
    top = view.current.result.top
    assert bar.shown.city.slug == top.slug and f"evidence for {top.name}" in bar.note.text()
    assert bar.shown.heatmap.shape == (120, 160)
    assert _shown(view) != plain

    second = view.current.result.ranking[1]
    with qtbot.waitSignal(bar.overlay, timeout=30000):
        view.ranking.cellClicked.emit(1, 1)   # the second city in the ranking
    assert bar.shown.city.slug == second.slug and second.name in bar.note.text()

    qtbot.waitUntil(lambda: bar._job is None, timeout=10000)  # the worker has ended
    qtbot.waitUntil(lambda: bar._job is None, timeout=30000)  # the map arrives before its job has ended
    before = _shown(view)
    with qtbot.waitSignal(bar.overlay, timeout=2000):
        bar.opacity.setValue(10)           # redrawn from the kept map: no new job
    assert bar._job is None and _shown(view) != before

    bar.toggle.setChecked(False)
    assert _shown(view) == plain and bar.note.text() == ""


def test_explain_on_before_the_photo_arrives_waits_for_its_prediction(qtbot, view, photo_factory):  # noqa: F811
    view.explain_bar.toggle.setChecked(True)
    with qtbot.waitSignal(view.explain_bar.overlay, timeout=30000):
        drop(view, [photo_factory("later.jpg", seed=4)])
    assert view.explain_bar.shown.source.endswith("later.jpg")
