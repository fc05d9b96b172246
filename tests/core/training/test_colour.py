"""Colour statistics (the ensemble probe's fourth member): what each number measures, on real pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.models import colour
from core.models.colour import ColourStatistics, rgb_to_hsv


def _normalised(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) in the Lites' normalisation (mean 0.5, std 0.5)."""
    return (torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float()[None] / 255.0 - 0.5) / 0.5


def test_hsv_agrees_with_pillow_on_random_pixels():
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    hue, sat, val = rgb_to_hsv(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255.0)
    ours = torch.stack([hue, sat, val], dim=-1)[0].numpy() * 255
    pil = np.asarray(Image.fromarray(rgb).convert("HSV")).astype(np.float32)
    diff = np.abs(ours - pil)
    diff[..., 0] = np.minimum(diff[..., 0], 255 - diff[..., 0])  # hue wraps around
    assert diff.max() < 2.5  # Pillow rounds to whole steps of 1/255


def test_a_blue_sky_over_green_trees_over_grey_road_reads_band_by_band():
    frame = np.zeros((160, 160, 3), dtype=np.uint8)
    frame[:53] = (40, 90, 220)     # sky
    frame[53:107] = (30, 150, 40)  # vegetation
    frame[107:] = (128, 128, 128)  # road (and the watermark rows, which are left out)
    stats = ColourStatistics()(_normalised(frame))[0]
    assert stats.shape == (colour.CHANNELS,) and torch.isfinite(stats).all()
    per_band = stats.view(len(colour.BANDS), colour.PER_BAND)
    hue_sat = per_band[:, :colour.HUE_BINS * colour.SAT_BINS] ** 2  # histograms are stored square-rooted
    assert torch.allclose(hue_sat.sum(dim=1), torch.ones(3))
    hue_of_peak = hue_sat.argmax(dim=1) // colour.SAT_BINS
    assert hue_of_peak[0] == 7 and hue_of_peak[1] == 4  # 225 degrees is blue, 124 degrees green
    assert hue_sat[2, 0] == pytest.approx(1.0)  # grey: hue 0, saturation 0
    rgb_mean = per_band[:, colour.HUE_BINS * colour.SAT_BINS + colour.VALUE_BINS:][:, :3] ** 2
    assert torch.allclose(rgb_mean[0], torch.tensor([40, 90, 220]) / 255.0, atol=0.02)
    texture = per_band[:, -2:]
    assert texture.max() < 0.2  # flat colours: almost no brightness change


def test_the_same_scene_at_another_size_gives_about_the_same_statistics():
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    big = np.asarray(Image.fromarray(small).resize((640, 640), Image.NEAREST))
    a, b = ColourStatistics()(_normalised(np.asarray(Image.fromarray(small).resize((160, 160), Image.NEAREST)))), \
        ColourStatistics()(_normalised(big))
    assert torch.nn.functional.cosine_similarity(a, b).item() > 0.97
