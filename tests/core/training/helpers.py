"""Helpers shared by the training tests."""

from __future__ import annotations


def fast_config(**kw):
    """A TrainConfig that finishes in seconds on one core (tiny images, few steps, no workers)."""
    from core.training.trainer import TrainConfig

    base = dict(arch="baseline", epochs=2, batch_size=8, image_size=32, weights="none", device="cpu",
                num_workers=0, warmup_epochs=0, patience=0, head="finetune")
    base.update(kw)
    return TrainConfig(**base)


def train_split_loss(model, project, meta) -> float:
    """Eval-mode cross-entropy of `model` over the project's train split (no augmentation, no dropout):
    a deterministic measure of what the model has learned."""
    import torch
    import torch.nn.functional as F

    from core.training.data import split_samples
    from core.training.transforms import eval_transform, load_for_model

    samples = split_samples(project, "train", meta.classes)
    transform = eval_transform(meta)
    x = torch.stack([load_for_model(s.path, meta.image_size, transform) for s in samples])
    y = torch.tensor([s.label for s in samples])
    with torch.no_grad():
        return F.cross_entropy(model.eval()(x), y).item()
