"""Dataset > Looks (issue 28): a free-hand lasso picks exactly the dots it encloses, and "Correctness"
colours each dot by the stored guess of "Predict all" (right, wrong, unlabelled, not predicted)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from core.inference.dataset_predictions import correctness
from core.quality.embedding_map import EmbeddingMap
from geospottr_gui.views.dataset.embedding_view import CORRECTNESS_COLOURS, EmbeddingView, points_in_polygon

from .conftest import context_for


def grid_map(project) -> EmbeddingMap:
    """The project's images on a regular grid in the unit square (no embedding job needed)."""
    records = project.images()
    side = int(np.ceil(np.sqrt(len(records))))
    xy = np.array([((i % side + 0.5) / side, (i // side + 0.5) / side) for i in range(len(records))])
    return EmbeddingMap([r.id for r in records], [r.city_slug for r in records], xy)


def looks_view(qtbot, project, tmp_path) -> EmbeddingView:
    view = EmbeddingView(context_for(project, tmp_path))
    qtbot.addWidget(view)
    view.resize(700, 600)
    view.show()
    qtbot.waitExposed(view)
    view.show_map(grid_map(project))
    qtbot.wait(200)  # laid out and ranged
    return view


def test_points_in_polygon_even_odd():
    xy = np.array([[0.5, 0.5], [1.5, 0.5], [0.2, 0.9], [0.9, 0.2], [0.5, 1.0001], [-0.1, 0.5]])
    triangle = [(0, 0), (1, 0), (0, 1)]
    assert points_in_polygon(xy, triangle).tolist() == [False, False, False, False, False, False]
    assert points_in_polygon(xy, [(0, 0), (2, 0), (2, 1), (0, 1)]).tolist() == [True, True, True, True, False, False]
    assert points_in_polygon(np.array([[0.2, 0.2], [0.6, 0.6]]), triangle).tolist() == [True, False]
    # A concave outline (a U): the dot in its notch is outside.
    u = [(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)]
    assert points_in_polygon(np.array([[0.5, 2], [1.5, 2], [2.5, 2], [1.5, 0.5]]), u).tolist() == [
        True, False, True, True]
    assert not points_in_polygon(xy, [(0, 0), (1, 1)]).any()  # two points enclose nothing


def test_a_lasso_drawn_with_the_mouse_selects_exactly_the_enclosed_dots(qtbot, tiny_project, tmp_path):
    view = looks_view(qtbot, tiny_project, tmp_path)
    xy, ids = view.map.xy, view.map.ids
    # A lower-left triangle (a shape no rectangle can pick), inside the visible range: the dots with
    # x + y < 0.965 (none lies near its edges).
    outline = [(0.035, 0.035), (0.93, 0.035), (0.035, 0.93)]
    assert xy.min() > 0.045 and not np.any(np.abs(xy.sum(axis=1) - 0.965) < 0.01)
    expected = sorted(i for i, (x, y) in zip(ids, xy) if x + y < 0.965)
    assert 0 < len(expected) < len(ids)
    assert sorted(view.select_polygon(outline)) == expected

    view.select_mode.setCurrentText("Lasso")
    plot = view.plot

    def at(x: float, y: float):
        return plot.mapFromScene(view.view_point(x, y))

    corners = [at(*p) for p in outline] + [at(*outline[0])]
    with qtbot.waitSignal(view.selected, timeout=5000) as chosen:
        qtbot.mousePress(plot.viewport(), Qt.MouseButton.LeftButton, pos=corners[0])
        for start, end in zip(corners, corners[1:]):  # along each edge, as a hand would trace it
            for step in range(1, 9):
                QTest.mouseMove(plot.viewport(), start + (end - start) * step / 8)
                qtbot.wait(5)
        qtbot.mouseRelease(plot.viewport(), Qt.MouseButton.LeftButton, pos=corners[-1])
    assert sorted(chosen.args[0]) == expected
    assert not view.box._path.isVisible()  # the outline goes once the lasso is drawn

    view.select_mode.setCurrentText("Rectangle")  # the rectangle still works after a lasso
    assert view.box.lasso is False


def test_correctness_colours_dots_by_the_stored_predictions(qtbot, tiny_project, tmp_path):
    records = tiny_project.images()
    slugs = [c.slug for c in tiny_project.cities()]
    labelled = [r for r in records if r.city_slug]
    right, wrong = labelled[:3], labelled[3:5]
    guesses = {r.id: (r.city_slug, 0.9) for r in right}
    guesses |= {r.id: (next(s for s in slugs if s != r.city_slug), 0.6) for r in wrong}
    tiny_project.store_predictions("run r1 (val 45%)", guesses)

    view = looks_view(qtbot, tiny_project, tmp_path)
    view.colour_by.setCurrentText("Correctness")
    legend = [label.text for _sample, label in view.legend.items]
    missing = len(records) - len(guesses)
    assert legend == [f"right ({len(right)})", f"wrong ({len(wrong)})", f"no prediction ({missing})"]
    colour = {spot.data(): spot.brush().color() for spot in view.dots.points()}
    for group, wanted in ((right, "right"), (wrong, "wrong")):
        assert all(colour[r.id] == QColor(CORRECTNESS_COLOURS[wanted]) for r in group)
    unpredicted = [r.id for r in records if r.id not in guesses]
    assert all(colour[i] == QColor(CORRECTNESS_COLOURS["no prediction"]) for i in unpredicted)
    assert len(view.dots.points()) == len(records)


def test_correctness_rule():
    guesses = {"a": ("zagreb", 0.9), "b": ("split", 0.5), "c": ("osijek", 0.4)}
    assert correctness(["zagreb", "zagreb", None, "rijeka"], ["a", "b", "c", "d"], guesses) == [
        "right", "wrong", "unlabelled", "no prediction"]
