"""Image -> tensor transforms. `eval_transform` is THE preprocessing of every model input at inference time
(evaluation and prediction import it), so a bundle's model always sees what it saw in validation.

Eval: cut off the bundle's bottom strip (``crop_bottom``, see `CropBottom`), resize the shorter side to
S, center crop S x S, scale to [0, 1], normalise with the bundle's mean/std. `input_box` says which
rectangle of the photo that is (saliency maps are drawn back onto it). Train: street-scene augmentations (random resized crop, horizontal flip, colour jitter); never a
vertical flip (skies are up) or large rotations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torchvision.transforms.v2 as T
from PIL import Image

from ..imaging import load_image


def draft_size(image_size: int) -> tuple[int, int]:
    """The JPEG draft request for a model input of `image_size`: decode at the smallest DCT scale >= it."""
    return (image_size, image_size)


class CropBottom:
    """Cut off the bottom `fraction` of a photo: where Street View frames show the capture car and the
    "(c) Google" watermark, which a model can learn as a shortcut (`geospottr evaluate --shortcuts`).
    A training option (`train --crop-bottom F`) recorded in the bundle, so inference crops the same way."""

    def __init__(self, fraction: float) -> None:
        if not 0 <= fraction < 0.9:
            raise ValueError("crop_bottom must be in [0, 0.9)")
        self.fraction = fraction

    def __call__(self, img: Image.Image) -> Image.Image:
        keep = _kept_height(img.height, self.fraction)
        return img if keep == img.height else img.crop((0, 0, img.width, keep))


def _kept_height(height: int, fraction: float) -> int:
    return max(1, height - round(height * fraction))


def input_box(width: int, height: int, crop_bottom: float = 0.0) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the part of a `width` x `height` photo the eval transform feeds the
    model: the bottom crop, then the centred square of the shorter side."""
    kept = _kept_height(height, crop_bottom)
    side = min(width, kept)
    left, top = (width - side) // 2, (kept - side) // 2
    return left, top, left + side, top + side


def _normalise(mean: Sequence[float], std: Sequence[float]) -> list:
    return [T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize(list(mean), list(std))]


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
    return T.Compose([*_crop(crop_bottom), T.Resize(resize or size, antialias=True), T.CenterCrop(size),
                      *_normalise(mean, std)])


def _crop(crop_bottom: float) -> list:
    return [CropBottom(crop_bottom)] if crop_bottom else []


def train_transform(size: int, mean: Sequence[float], std: Sequence[float],
                    crop_bottom: float = 0.0) -> Callable[[Image.Image], torch.Tensor]:
    """Augmented (3, S, S) tensor: crops keep >= 35% of the frame so the scene stays recognisable."""
    return T.Compose([
        *_crop(crop_bottom),
        T.RandomResizedCrop(size, scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        T.RandomHorizontalFlip(),
        T.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03),
        *_normalise(mean, std),
    ])


def load_for_model(path: str | Path, size: int, transform: Callable[[Image.Image], torch.Tensor]) -> torch.Tensor:
    """Decode `path` fast (JPEG draft at about the model size) and apply `transform`."""
    return transform(load_image(path, draft=draft_size(size)))
