"""Helpers shared by the training tests."""

from __future__ import annotations


def fast_config(**kw):
    """A TrainConfig that finishes in seconds on one core (tiny images, few steps, no workers)."""
    from core.training.trainer import TrainConfig

    base = dict(arch="baseline", epochs=2, batch_size=8, image_size=32, weights="none", device="cpu",
                num_workers=0, warmup_epochs=0, patience=0)
    base.update(kw)
    return TrainConfig(**base)
