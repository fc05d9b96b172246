"""THE model-input preprocessing at inference time, in PIL and numpy only (no torch, no torchvision).

Why torch-free: the prediction path must not import torchvision (it drags in every torchvision model
definition, about a third of a one-photo `geospottr predict`), and the ONNX Runtime engine
(`core.inference.onnx_engine`) must not import torch at all. Both engines, the evaluation, the probes' feature
caching and the quality networks call `eval_array` (through `core.training.transforms.eval_transform` on
the torch side), so a bundle's model always sees what it saw in validation.

Eval: cut off the bundle's bottom strip (``crop_bottom``, see `CropBottom`), resize the shorter side to
S (Pillow's antialiased bilinear filter), centre-crop S x S, scale to [0, 1], normalise with the
bundle's mean/std: numerically what torchvision's ``Resize, CenterCrop, ToImage, ToDtype, Normalize``
did before (tests/test_preprocessing.py compares the two). `input_box` says which rectangle of the photo
that is (saliency maps are drawn back onto it).

`resample_matrix` is the one antialiased resize of a model's own tensors (a probe's view of the frame,
the colour statistics' small frame): written as a matrix, so it is the same numbers as PyTorch's
``interpolate(mode="bilinear", antialias=True)`` and it exports to ONNX as a plain MatMul.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
from PIL import Image


def draft_size(image_size: int) -> tuple[int, int]:
    """The JPEG draft request for a model input of `image_size`: decode at the smallest DCT scale >= it."""
    return (image_size, image_size)


def kept_height(height: int, fraction: float) -> int:
    """Rows left after cutting off the bottom `fraction` of a photo `height` rows high."""
    return max(1, height - round(height * fraction))


class CropBottom:
    """Cut off the bottom `fraction` of a photo: where Street View frames show the capture car and the
    "(c) Google" watermark, which a model can learn as a shortcut (`geospottr evaluate --shortcuts`).
    A training option (`train --crop-bottom F`) recorded in the bundle, so inference crops the same way."""

    def __init__(self, fraction: float) -> None:
        if not 0 <= fraction < 0.9:
            raise ValueError("crop_bottom must be in [0, 0.9)")
        self.fraction = fraction

    def __call__(self, img: Image.Image) -> Image.Image:
        keep = kept_height(img.height, self.fraction)
        return img if keep == img.height else img.crop((0, 0, img.width, keep))


def input_box(width: int, height: int, crop_bottom: float = 0.0) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the part of a `width` x `height` photo the eval transform feeds the
    model: the bottom crop, then the centred square of the shorter side."""
    kept = kept_height(height, crop_bottom)
    side = min(width, kept)
    left, top = (width - side) // 2, (kept - side) // 2
    return left, top, left + side, top + side


def eval_array(img: Image.Image, size: int, mean: Sequence[float], std: Sequence[float], crop_bottom: float = 0.0,
               resize: int | None = None) -> np.ndarray:
    """PIL RGB image -> normalised float32 ``(3, size, size)`` array.

    `resize`: the shorter side before the centre crop, for a foreign model trained with a margin
    (Places365: 256 then 224); our bundles resize straight to `size`."""
    if crop_bottom:
        img = CropBottom(crop_bottom)(img)
    short = resize or size
    w, h = img.size
    new = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    if new != (w, h):
        img = img.resize(new, resample=Image.Resampling.BILINEAR)
    w, h = img.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    if (left, top, w, h) != (0, 0, size, size):
        img = img.crop((left, top, left + size, top + size))
    pixels = np.asarray(img.convert("RGB") if img.mode != "RGB" else img, dtype=np.uint8)
    # (x / 255 - mean) / std as one multiply-add per channel, straight from the uint8 plane into the
    # float32 output: 1 ms instead of 8 at 640 px (no float copy of the whole image, no transpose copy);
    # within 1e-6 of the step-by-step formula.
    scale = 1.0 / (255.0 * np.asarray(std, dtype=np.float64))
    offset = -np.asarray(mean, dtype=np.float64) / np.asarray(std, dtype=np.float64)
    out = np.empty((3, *pixels.shape[:2]), dtype=np.float32)
    for c in range(3):
        np.multiply(pixels[:, :, c], np.float32(scale[c]), out=out[c], casting="unsafe")
        out[c] += np.float32(offset[c])
    return out


@lru_cache(maxsize=32)
def resample_matrix(in_size: int, out_size: int) -> np.ndarray:
    """``(out_size, in_size)`` float32 weights of an antialiased bilinear resize along one axis.

    The triangle filter stretched by the scale when shrinking (so every input pixel counts), each row
    normalised to 1; the same weights as Pillow's BILINEAR and PyTorch's ``antialias=True`` kernels.
    Read-only: callers share the cached array."""
    scale = in_size / out_size
    support = max(scale, 1.0)
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        centre = (i + 0.5) * scale
        low, high = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), in_size)
        taps = np.arange(low, high)
        w = np.clip(1.0 - np.abs((taps - centre + 0.5) / support), 0.0, None)
        weights[i, low:high] = w / w.sum()
    out = weights.astype(np.float32)
    out.setflags(write=False)
    return out
