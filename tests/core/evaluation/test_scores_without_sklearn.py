"""Precision, recall and F1 are scored with numpy (`core.scores`; importing scikit-learn cost 1.1 s of every
`evaluate`): the figures are scikit-learn's, ``zero_division=0`` included, on labels where some cities are
never predicted, never true, or absent from the split altogether; a macro average is scikit-learn's default,
over the cities true or predicted at least once. Evaluation, the fine-tune's validation, the probe and the
learning curve all give that one figure for the same guesses."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from core.evaluation.metrics import _macro_f1
from core.scores import confusion_counts, precision_recall_f1


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
    counted = sorted(set(truth.tolist()) | set(pred.tolist()))  # scikit-learn's default labels
    macro = precision_recall_fscore_support(truth, pred, labels=counted, average="macro", zero_division=0)
    assert np.allclose((p[counted].mean(), r[counted].mean(), f[counted].mean()), macro[:3])
    weighted = precision_recall_fscore_support(truth, pred, labels=labels, average="weighted", zero_division=0)
    assert np.allclose([v @ (s / s.sum()) for v in (p, r, f)], weighted[:3])


def test_macro_f1_over_city_names_matches_scikit_learn():
    truth = ["zagreb", "split", "split", "rijeka", "osijek", "zagreb"]
    pred = ["zagreb", "zagreb", "split", "split", "osijek", "vienna"]  # "vienna" is no project city
    labels = ["osijek", "rijeka", "split", "zagreb", "pula"]
    counted = [c for c in labels if c in truth or c in pred]  # "pula": never true, never guessed
    assert _macro_f1(truth, pred, labels) == pytest.approx(
        f1_score(truth, pred, labels=counted, average="macro", zero_division=0))


def test_every_macro_f1_of_the_app_is_the_one_rule():
    """One set of guesses in which Rijeka is never true but guessed twice and Pula neither: the report's,
    the fine-tune validation's, the probe's and the learning curve's macro F1 are one number, scikit-learn's."""
    import contextlib

    import torch

    from core.evaluation.curves import f1_intervals
    from core.training.probe import _metrics
    from core.training.validation import evaluate as validate

    classes = 5  # osijek, rijeka, split, zagreb, pula
    truth = np.array([0, 0, 2, 2, 2, 3, 3, 3, 0, 3])
    pred = np.array([0, 1, 2, 3, 2, 3, 1, 0, 0, 3])
    want = f1_score(truth, pred, average="macro", zero_division=0)

    probs = np.eye(classes)[pred] * 0.9 + 0.02
    assert _metrics(probs, truth, "val")["val_macro_f1"] == pytest.approx(want)

    logits = torch.from_numpy(np.log(probs)).float()
    net = torch.nn.Identity()  # the "images" are the logits themselves
    batch = (logits, torch.from_numpy(truth), torch.arange(len(truth)))
    got = validate(net, [batch], torch.device("cpu"), classes, contextlib.nullcontext)
    assert got["val_macro_f1"] == pytest.approx(want)

    _, macro = f1_intervals(truth, pred, np.arange(len(truth)), classes, resamples=20)
    assert macro.value == pytest.approx(want)

    names = ["osijek", "rijeka", "split", "zagreb", "pula"]
    assert _macro_f1([names[i] for i in truth], [names[i] for i in pred], names) == pytest.approx(want)
