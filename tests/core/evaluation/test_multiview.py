"""The multi-view combination rule: the mean of the views' probability distributions."""

from __future__ import annotations

import numpy as np
import pytest

from core.inference.results import combine_views


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


def test_one_certain_dissenter_does_not_outvote_a_moderately_sure_majority():
    """The case that decided against the mean of log-probabilities (which picks city 1 here)."""
    views = np.array([[0.7, 0.3, 0.0]] * 3 + [[0.0, 1.0, 0.0]])
    assert combine_views(views).argmax() == 0
    logmean = np.log(np.clip(views, 1e-2, 1)).mean(axis=0)
    assert logmean.argmax() == 1


def test_no_view_can_veto_a_city():
    views = np.array([[0.0, 1.0], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]])
    combined = combine_views(views)
    assert combined[0] == pytest.approx(0.675) and combined.argmax() == 0


def test_known_value():
    np.testing.assert_allclose(combine_views(np.array([[0.5, 0.5], [0.8, 0.2]])), [0.65, 0.35])


def test_no_views_is_an_error():
    with pytest.raises(ValueError):
        combine_views(np.zeros((0, 3)))
