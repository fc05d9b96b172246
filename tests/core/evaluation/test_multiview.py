"""The multi-view combination rule: mean of floored log-probabilities, renormalised."""

from __future__ import annotations

import numpy as np
import pytest

from core.prediction import VIEW_FLOOR, combine_views


def test_one_view_is_that_view():
    view = np.array([0.7, 0.2, 0.1, 0.0])
    np.testing.assert_allclose(combine_views(view[None]), view)


def test_result_is_a_distribution_and_ignores_view_order():
    rng = np.random.default_rng(1)
    views = rng.dirichlet(np.ones(5), size=4)
    combined = combine_views(views)
    assert combined.sum() == pytest.approx(1.0) and (combined >= 0).all()
    np.testing.assert_allclose(combine_views(views[::-1]), combined)


def test_identical_views_are_not_sharpened():
    """Views of one place are correlated: repeating a view adds no confidence."""
    view = np.array([0.6, 0.3, 0.1])
    np.testing.assert_allclose(combine_views(np.stack([view] * 4)), view)


def test_a_city_every_view_finds_plausible_beats_one_that_a_view_rules_out():
    views = np.array([[0.3, 0.7, 0.0], [0.3, 0.0, 0.7]])
    assert views.mean(axis=0).argmax() != 0          # the arithmetic mean would pick city 1 or 2
    assert combine_views(views).argmax() == 0


def test_one_certain_dissenter_cannot_veto_agreeing_views():
    agree = [[0.9, 0.1, 0.0]] * 3
    dissent = [[0.0, 1.0, 0.0]]
    assert combine_views(np.array(agree + dissent)).argmax() == 0


def test_known_value():
    views = np.array([[0.5, 0.5], [0.8, 0.2]])
    g = np.sqrt(views.prod(axis=0))
    np.testing.assert_allclose(combine_views(views), g / g.sum())
    floored = combine_views(np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert floored[1] == pytest.approx(VIEW_FLOOR / (1 + VIEW_FLOOR))


def test_no_views_is_an_error():
    with pytest.raises(ValueError):
        combine_views(np.zeros((0, 3)))
