"""Colour statistics of a street photo: a tiny, fixed "backbone" that sees what ImageNet features miss.

Why: on the development photos (benchmarks/bench_accuracy.py) a linear probe on these 192 numbers alone
scores about as well as one on EfficientNet-Lite0's 1280 ImageNet features, and fusing the two beats
either: the region's light, soil, vegetation and the capture campaign's colour rendering are cues of
their own, which features trained to ignore colour casts (ImageNet's augmentation) throw away.

The frame is cut into three horizontal bands (mostly sky, the middle of the scene, the ground; the
bottom sixteenth, where the Street View watermark sits, is left out). Per band: a hue x saturation
histogram (12 x 4), a brightness histogram (8), the mean and spread of R, G and B, and the mean
vertical and horizontal brightness change (texture). Histograms are square-rooted (the Hellinger
embedding, which a linear model separates better). Everything is computed in torch from the model's
normalised input, so the feature is part of the model and needs no extra preprocessing anywhere.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .backbones import resize_antialiased

#: The side the frame is resized to first: colour statistics need no more pixels than this.
SIZE = 160
#: Band edges as fractions of the frame's height (the last sixteenth is the watermark).
BANDS = ((0.0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 15 / 16))
HUE_BINS, SAT_BINS, VALUE_BINS = 12, 4, 8
PER_BAND = HUE_BINS * SAT_BINS + VALUE_BINS + 6 + 2
CHANNELS = PER_BAND * len(BANDS)


def rgb_to_hsv(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hue, saturation and value in [0, 1] of an (N, 3, H, W) RGB batch in [0, 1]."""
    r, g, b = rgb.unbind(1)
    value, _ = rgb.max(dim=1)
    low, _ = rgb.min(dim=1)
    delta = value - low
    saturation = torch.where(value > 0, delta / value.clamp_min(1e-8), torch.zeros_like(value))
    safe = delta.clamp_min(1e-8)
    hue = torch.where(value == r, (g - b) / safe, torch.where(value == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    hue = torch.where(delta > 0, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    return hue, saturation, value


def _histogram(index: torch.Tensor, bins: int) -> torch.Tensor:
    """Share of pixels per bin: (N, H, W) integer bins -> (N, bins)."""
    flat = index.flatten(1)
    counts = torch.zeros(flat.shape[0], bins, dtype=torch.float32, device=flat.device)
    counts.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float32))
    return counts / flat.shape[1]


def _bin(x: torch.Tensor, bins: int) -> torch.Tensor:
    return (x * bins).long().clamp(0, bins - 1)


class ColourStatistics(nn.Module):
    """(N, 3, S, S) normalised batch -> (N, `CHANNELS`) colour statistics; no parameters."""

    channels = CHANNELS

    def __init__(self, mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.5, 0.5, 0.5)) -> None:
        super().__init__()
        # Plain values, not state or buffers: they come from the model spec (as state they would only make
        # old bundles mismatch) and a model built on the meta device (`load_bundle`) must need nothing else.
        self.mean, self.std = tuple(mean), tuple(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        rgb = resize_antialiased((x.float() * std + mean).clamp(0.0, 1.0), SIZE)
        hue, sat, val = rgb_to_hsv(rgb)
        gray = rgb.mean(dim=1)
        out = []
        for top, bottom in BANDS:
            rows = slice(round(top * SIZE), round(bottom * SIZE))
            h, s, v, band, g = hue[:, rows], sat[:, rows], val[:, rows], rgb[:, :, rows], gray[:, rows]
            out.append(_histogram(_bin(h, HUE_BINS) * SAT_BINS + _bin(s, SAT_BINS), HUE_BINS * SAT_BINS).sqrt())
            out.append(_histogram(_bin(v, VALUE_BINS), VALUE_BINS).sqrt())
            out.append(band.mean(dim=(2, 3)).sqrt())
            out.append(band.std(dim=(2, 3)).sqrt())
            texture = torch.stack([(g[:, 1:] - g[:, :-1]).abs().mean(dim=(1, 2)),
                                   (g[:, :, 1:] - g[:, :, :-1]).abs().mean(dim=(1, 2))], dim=1)
            out.append(texture.sqrt())
        return torch.cat(out, dim=1)
