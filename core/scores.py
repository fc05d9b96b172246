"""Per-city and macro precision, recall and F1: one definition for every figure the app reports.

Why one module: evaluation, the fine-tune's validation, the probe's inner CV and the learning curve each
had their own macro F1, and they disagreed whenever a city was missing from the photos scored (a val
split without Rijeka, a bootstrap resample without a place of it): one counted the city as 0, one left it
out, one left out only the cities never true. The rule, here only:

* per city, a ratio of 0 / 0 is 0 (scikit-learn's ``zero_division=0``);
* a macro average is over the cities that *count*: true or predicted at least once in what was scored
  (scikit-learn's default labels). A city never seen and never guessed says nothing about the model; a
  city guessed but absent is a false alarm and scores 0.

Pure numpy (no scikit-learn import: it cost 1.1 s of every ``evaluate``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_counts(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted (labels outside 0..n-1 ignored)."""
    t, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    keep = (t >= 0) & (t < n_classes) & (p >= 0) & (p < n_classes)
    return np.bincount(t[keep] * n_classes + p[keep], minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def precision_recall_f1(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support of a confusion matrix (0 where a ratio is 0 / 0)."""
    tp = np.diag(confusion).astype(float)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    return precision, recall, _ratio(2 * precision * recall, precision + recall), support


def counted(confusion: np.ndarray) -> np.ndarray:
    """Which classes a macro average is over: true or predicted at least once."""
    return (confusion.sum(axis=0) + confusion.sum(axis=1)) > 0


def macro(values: np.ndarray, mask: np.ndarray) -> float:
    """Mean of per-class `values` over the classes in `mask`; 0.0 when none counts."""
    return float(values[mask].mean()) if mask.any() else 0.0


def f1_counted(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 of each class of a confusion matrix, and which classes count (`counted`)."""
    return precision_recall_f1(confusion)[2], counted(confusion)


def per_class_f1(truth: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray,
                 classes: int) -> tuple[np.ndarray, np.ndarray]:
    """`f1_counted` of integer labels."""
    return f1_counted(confusion_counts(truth, predicted, classes))


def macro_f1(truth: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray, classes: int) -> float:
    """Macro F1 of integer labels over the classes that count."""
    return macro(*per_class_f1(truth, predicted, classes))
