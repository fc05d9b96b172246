"""Class balance for macro F1: inverse-frequency class weights for the loss, or a balanced sampler.

With Zagreb holding half the photos, plain cross-entropy learns to say "Zagreb" and a minority city can
end up (almost) never predicted (issue 18: Rijeka F1 0.03). ``weighted`` multiplies each sample's loss
by ``n / (k * count[class])``; ``sampler`` instead draws training images with replacement with those
weights, so every batch sees the cities about equally often. Which one is the default is decided by
cross-validation (`benchmarks/bench_accuracy.py`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .distributed import DistContext, ResumableSampler

CLASS_BALANCES = ("none", "weighted", "sampler")


def balance_weights(labels: Sequence[int], num_classes: int) -> np.ndarray:
    """Per-class weights ``n / (k * count)`` (scikit-learn's "balanced"; k = classes present); absent: 0."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = max(1, int((counts > 0).sum()))
    return np.where(counts > 0, len(labels) / (present * np.maximum(counts, 1)), 0.0)


class BalancedSampler(ResumableSampler):
    """An epoch of `len(dataset)` draws with replacement, each image weighted by its class's weight.

    Deterministic per (seed, epoch) and sharded over ranks like `ResumableSampler`, so resuming mid-epoch
    and multi-process training keep working.
    """

    def __init__(self, dataset, ctx: DistContext, seed: int, labels: Sequence[int], num_classes: int) -> None:
        super().__init__(dataset, ctx, seed=seed)
        self.weights = torch.from_numpy(balance_weights(labels, num_classes)[np.asarray(labels, dtype=np.int64)])

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        drawn = torch.multinomial(self.weights, self.total_size, replacement=True, generator=generator).tolist()
        return iter(drawn[self.rank:self.total_size:self.num_replicas][self.start:])
