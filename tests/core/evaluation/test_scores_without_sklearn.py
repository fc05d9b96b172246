"""`evaluate` scores precision, recall and F1 with numpy (importing scikit-learn cost 1.1 s of every run):
the figures are scikit-learn's, ``zero_division=0`` included, on labels where some cities are never
predicted, never true, or absent from the split altogether."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from core.evaluation.metrics import _macro_f1, confusion_counts, precision_recall_f1


@pytest.mark.parametrize("seed", range(6))
def test_per_city_and_averaged_scores_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n = 7
    truth = rng.integers(0, n - 2, 60)  # the last two cities have no photo in the split
    pred = np.where(rng.random(60) < 0.5, truth, rng.integers(0, n - 1, 60))  # the last is never predicted
    labels = list(range(n))
    confusion = confusion_counts(truth, pred, n)
    assert confusion.tolist() == confusion_matrix(truth, pred, labels=labels).tolist()
    p, r, f, s = precision_recall_f1(confusion)
    want = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    for mine, theirs in zip((p, r, f, s), want):
        assert np.allclose(mine, theirs)
    macro = precision_recall_fscore_support(truth, pred, labels=labels, average="macro", zero_division=0)
    assert np.allclose((p.mean(), r.mean(), f.mean()), macro[:3])
    weighted = precision_recall_fscore_support(truth, pred, labels=labels, average="weighted", zero_division=0)
    assert np.allclose([v @ (s / s.sum()) for v in (p, r, f)], weighted[:3])


def test_macro_f1_over_city_names_matches_scikit_learn():
    truth = ["zagreb", "split", "split", "rijeka", "osijek", "zagreb"]
    pred = ["zagreb", "zagreb", "split", "split", "osijek", "vienna"]  # "vienna" is no project city
    labels = ["osijek", "rijeka", "split", "zagreb", "pula"]
    assert _macro_f1(truth, pred, labels) == pytest.approx(
        f1_score(truth, pred, labels=labels, average="macro", zero_division=0))
