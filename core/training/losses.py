"""Training targets: plain cross-entropy with optional label smoothing, and haversine (geo) smoothing.

Geo smoothing (PIGEON, Haas et al. 2024) makes a near miss cost less than a far one: the target of class
c for an image is ``exp(-(d_c - d_true) / tau)`` normalised over classes, where d_c is the distance from
the image's location to city c and d_true the distance to its own city (the city centre stands in for
images without coordinates). PIGEON used tau = 75 km over world-wide geocells; for a set of cities the
default here is a third of the median nearest-neighbour distance between the class cities, so a
neighbouring city gets about e^-3 = 5% of the true city's weight and a city twice as far about 0.25%.
"""

from __future__ import annotations

import statistics
from typing import Sequence

import torch
import torch.nn.functional as F

from ..geo import haversine_km
from ..models.bundle import ClassInfo


def default_geo_tau_km(classes: Sequence[ClassInfo]) -> float:
    """A third of the median distance from each class city to its nearest other class city (km, >= 1)."""
    nearest = [min(haversine_km(a.lat, a.lon, b.lat, b.lon) for b in classes if b is not a) for a in classes]
    return max(1.0, statistics.median(nearest) / 3.0)


def geo_targets(labels: Sequence[int], coords: Sequence[tuple[float | None, float | None]],
                classes: Sequence[ClassInfo], tau_km: float) -> torch.Tensor:
    """(N, C) soft targets; each row sums to 1 and peaks at the true class (see the module docstring)."""
    if tau_km <= 0:
        raise ValueError("tau must be positive")
    rows = []
    for label, (lat, lon) in zip(labels, coords):
        if lat is None or lon is None:
            lat, lon = classes[label].lat, classes[label].lon
        d = torch.tensor([haversine_km(lat, lon, c.lat, c.lon) for c in classes], dtype=torch.float64)
        # The true city is the nearest by construction for nearest-city labels; clamp keeps it the peak
        # for hand-labelled photos taken nearer another class city.
        excess = (d - d[label]).clamp(min=0.0)
        excess[label] = 0.0
        w = torch.exp(-excess / tau_km)
        rows.append(w / w.sum())
    return torch.stack(rows).float()


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy against per-sample target distributions: the mean, or the `weights`-weighted mean."""
    per_sample = -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1)
    if weights is None:
        return per_sample.mean()
    return (weights * per_sample).sum() / weights.sum()


def smooth(targets: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """Mix uniform mass into soft targets (what label smoothing does to one-hot ones)."""
    if label_smoothing <= 0:
        return targets
    return targets * (1 - label_smoothing) + label_smoothing / targets.shape[1]


class TrainingLoss:
    """loss(logits, labels, sample indices): hard-label CE, or CE against the precomputed geo targets;
    with `class_weights` each sample counts by its true class's weight (a weighted mean)."""

    def __init__(self, label_smoothing: float = 0.0, geo: torch.Tensor | None = None,
                 class_weights: torch.Tensor | None = None) -> None:
        self.label_smoothing = label_smoothing
        self.geo = smooth(geo, label_smoothing) if geo is not None else None
        self.class_weights = class_weights

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        weights = self.class_weights.to(logits.device) if self.class_weights is not None else None
        if self.geo is None:
            return F.cross_entropy(logits.float(), labels, weight=weights, label_smoothing=self.label_smoothing)
        targets = self.geo[indices.cpu()].to(logits.device)
        return soft_cross_entropy(logits, targets, None if weights is None else weights[labels])
