"""The Challenge workspace plays a real 3-round game on the tiny project's test split."""

from __future__ import annotations

import pytest

from core.evaluation.challenge import Challenge
from geospottr_gui.views.challenge.challenge_view import ChallengeView
from geospottr_gui.views.widgets.map_view import evaluate_js
from tests.gui.conftest import context_for


@pytest.fixture
def view(qtbot, tmp_path, tiny_project, random_bundle):
    v = ChallengeView(context_for(tiny_project, tmp_path))
    qtbot.addWidget(v)
    v.resize(1200, 800)
    v.show()
    v.set_model(str(random_bundle))
    yield v
    v.shutdown()
    v.deleteLater()
    qtbot.wait(50)  # pages must be gone before QtWebEngine's profile at exit


def test_three_rounds_by_list_city_marker_and_map_point(qtbot, view, tiny_project):
    view.rounds.setValue(3)
    view.player.setText("Ana <b>")
    with qtbot.waitSignal(view.round_shown, timeout=30000):
        view.new_game(seed=7)
    assert view.panel.currentIndex() == 0 and view.photo.pixmap() is not None
    assert "Round 1/3" in view.score.text()

    # Round 1: search the list and press Enter.
    view.search.setText("osij")
    assert sum(not view.cities.item(i).isHidden() for i in range(view.cities.count())) == 1
    view.search.returnPressed.emit()
    with qtbot.waitSignal(view.revealed, timeout=10000) as reveal:
        view.guess_button.click()
    first = reveal.args[0]
    assert first.human.city == "osijek" and first.human.kind == "city"
    assert view.panel.currentIndex() == 1 and "km" in view.result.text()
    qtbot.waitUntil(lambda: view.map.is_loaded, timeout=20000)
    assert evaluate_js(view.map, "document.querySelectorAll('.gs-reveal').length") == 3

    # Round 2: click a city marker on the map.
    with qtbot.waitSignal(view.round_shown, timeout=10000):
        view.next_button.click()
    qtbot.waitUntil(lambda: view.map.is_loaded, timeout=20000)
    assert evaluate_js(view.map, "typeof L") == "object"
    assert evaluate_js(view.map, "document.querySelectorAll('.gs-city').length") == len(tiny_project.cities())
    view.map.run_js("geospottrMap.eachLayer(function (l) {"
                    " if (l.getTooltip && l.getTooltip() && l.getTooltip().getContent().indexOf('Split') === 0)"
                    " l.fire('click'); })")
    qtbot.waitUntil(lambda: view._pending == ("city", "split"), timeout=10000)
    with qtbot.waitSignal(view.revealed, timeout=10000) as reveal:
        view.guess_button.click()
    assert reveal.args[0].human.city == "split"

    # Round 3: click a point of the map (near Rijeka).
    with qtbot.waitSignal(view.round_shown, timeout=10000):
        view.next_button.click()
    qtbot.waitUntil(lambda: view.map.is_loaded, timeout=20000)
    view.map.run_js("geospottrMap.fire('click', {latlng: L.latLng(45.3, 14.5)})")
    qtbot.waitUntil(lambda: view._pending is not None and view._pending[0] == "point", timeout=10000)
    with qtbot.waitSignal(view.revealed, timeout=10000) as reveal:
        view.guess_button.click()
    third = reveal.args[0]
    assert third.human.kind == "point" and third.human.city == "rijeka"

    with qtbot.waitSignal(view.game_over, timeout=10000) as over:
        view.next_button.click()
    summary = over.args[0]
    assert summary.rounds_played == 3 and summary.player == "Ana <b>"
    assert view.panel.currentIndex() == 2
    assert "Past games" in view.summary.text() and "Ana &lt;b&gt;" in view.summary.text()
    stored = Challenge(tiny_project, summary.challenge_id).summary()
    assert stored.human.total_points == summary.human.total_points


def test_enter_guesses_points_fit_the_project_map_and_the_end_shows_a_recap(qtbot, view, tiny_project):
    from PySide6.QtCore import Qt

    from core import geo

    view.rounds.setValue(2)
    view.window().activateWindow()
    qtbot.waitUntil(view.isActiveWindow)
    with qtbot.waitSignal(view.round_shown, timeout=30000):
        view.new_game(seed=3)
    # The spinner covers the map until its page has loaded (no blank white box).
    assert view.map.placeholder.isVisible() or view.map.is_loaded
    qtbot.waitUntil(lambda: view.map.is_loaded and not view.map.placeholder.isVisible(), timeout=30000)
    for _round in range(2):
        view.search.setFocus()
        qtbot.keyClicks(view.search, "split")
        qtbot.keyClick(view.search, Qt.Key.Key_Return)  # picks Split, Dalmatia…
        assert view._pending == ("city", "split") and view.round is not None and not view.round.played
        with qtbot.waitSignal(view.revealed, timeout=10000) as reveal:
            qtbot.keyClick(view.search, Qt.Key.Key_Return)  # …and guesses it
        played = reveal.args[0]
        # Scored on the project's own map (its cities span a few hundred km), and the scale is shown.
        scale = view.challenge.scale_km
        assert scale == geo.play_area_km(tiny_project.cities()) and scale < 1500
        assert played.human.points == geo.scaled_points(played.human.distance_km, scale)
        assert f"{scale:,.0f} km" in view.result.text()
        assert "Split, HR" in view.result.text()
        qtbot.waitUntil(lambda: view.map.is_loaded, timeout=20000)
        assert evaluate_js(view.map, "document.querySelectorAll('.gs-reveal-label').length") == 3
        # Each label is inside the map and covers no other marker (it moves to another side if it would).
        assert evaluate_js(view.map, LABELS_INSIDE_AND_CLEAR) == [0, 0], _round
        signal = view.game_over if _round == 1 else view.round_shown
        with qtbot.waitSignal(signal, timeout=10000):
            qtbot.keyClick(view.next_button, Qt.Key.Key_Return)  # Enter on the reveal: the next round
    qtbot.waitUntil(lambda: view.map.is_loaded, timeout=20000)
    assert "recap-" in view.map.current.name
    assert evaluate_js(view.map, "document.querySelectorAll('.gs-recap').length") == 6  # 2 rounds x 3 points
    assert "your guess" in evaluate_js(view.map, "document.querySelector('.gs-legend').textContent")
    assert f"{view.challenge.scale_km:,.0f} km" in view.summary.text()


#: [labels outside the map, (label, other marker) pairs that overlap] on a reveal page.
LABELS_INSIDE_AND_CLEAR = """(function () {
  var box = function (e) { return e.getBoundingClientRect(); };
  var map = box(document.querySelector('.leaflet-container'));
  var labels = Array.from(document.querySelectorAll('.gs-reveal-label')).map(box);
  var dots = Array.from(document.querySelectorAll('.gs-reveal')).map(box);
  var outside = labels.filter(function (r) {
    return r.left < map.left - 1 || r.right > map.right + 1 || r.top < map.top - 1 || r.bottom > map.bottom + 1;
  }).length;
  var covered = 0;
  labels.forEach(function (r, i) { dots.forEach(function (d, j) {
    if (i !== j && Math.min(r.right, d.right) - Math.max(r.left, d.left) > 2 &&
        Math.min(r.bottom, d.bottom) - Math.max(r.top, d.top) > 2) { covered += 1; }
  }); });
  return [outside, covered];
})()"""


def test_starting_without_a_model_says_so(qtbot, tmp_path, tiny_project):
    v = ChallengeView(context_for(tiny_project, tmp_path))
    assert v.model_path is None
    v.new_game()
    assert "choose a model" in v.summary.text().lower() and v.challenge is None
    v.deleteLater()
    qtbot.wait(50)
