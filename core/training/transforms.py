"""Image -> tensor transforms: `eval_transform`, the inference preprocessing as a torch tensor, and the
training augmentation.

The eval rule itself (bottom crop, resize, centre crop, normalise) lives once, torch-free, in
`core.models.preprocessing`; `eval_transform` wraps it as a tensor for the torch side (prediction, evaluation,
the probes' feature caching, the quality networks). Train: street-scene augmentations (random resized
crop, horizontal flip, colour jitter); never a vertical flip (skies are up) or large rotations. Only
the training transform imports torchvision (lazily): the inference path never loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from PIL import Image

from ..imaging import load_image
from ..models.preprocessing import CropBottom, draft_size, eval_array, input_box

__all__ = ["CropBottom", "draft_size", "eval_transform", "input_box", "load_for_model", "train_transform"]


def eval_transform(meta_or_size: Any, mean: Sequence[float] | None = None,
                   std: Sequence[float] | None = None, crop_bottom: float = 0.0,
                   resize: int | None = None) -> Callable[[Image.Image], torch.Tensor]:
    """PIL RGB image -> normalised (3, S, S) tensor, from a `BundleMeta` or from (size, mean, std, crop_bottom).

    `resize`: the shorter side before the centre crop, for a foreign model trained with a margin (Places365:
    256 then 224); our bundles resize straight to S."""
    if isinstance(meta_or_size, int):
        size = meta_or_size
        if mean is None or std is None:
            raise TypeError("eval_transform(size, mean, std) needs mean and std")
    else:
        size, mean, std = meta_or_size.image_size, mean or meta_or_size.mean, std or meta_or_size.std
        crop_bottom = meta_or_size.crop_bottom
    return lambda img: torch.from_numpy(eval_array(img, size, mean, std, crop_bottom, resize))


def train_transform(size: int, mean: Sequence[float], std: Sequence[float],
                    crop_bottom: float = 0.0) -> Callable[[Image.Image], torch.Tensor]:
    """Augmented (3, S, S) tensor: crops keep >= 35% of the frame so the scene stays recognisable."""
    import torchvision.transforms.v2 as T

    return T.Compose([
        *([CropBottom(crop_bottom)] if crop_bottom else []),
        T.RandomResizedCrop(size, scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        T.RandomHorizontalFlip(),
        T.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03),
        T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize(list(mean), list(std)),
    ])


def load_for_model(path: str | Path, size: int, transform: Callable[[Image.Image], torch.Tensor]) -> torch.Tensor:
    """Decode `path` fast (JPEG draft at about the model size) and apply `transform`."""
    return transform(load_image(path, draft=draft_size(size)))
