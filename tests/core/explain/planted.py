"""A synthetic dataset with a planted shortcut, and a small model that learns it.

Every photo is a smooth random colour field (the same distribution for every city) plus, only in the
"shortcut" variant, a solid patch in the bottom-left corner whose colour is the city. The patch is the
only thing that tells the cities apart, so a model that classifies them must look there, which is what
a saliency map and the shortcut check have to show. The model trains on freshly drawn photos every step,
so it cannot memorise backgrounds.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CITIES = ("osijek", "rijeka", "split", "zagreb")
COLOURS = ((230, 30, 30), (30, 200, 30), (30, 30, 230), (230, 230, 30))
#: The patch: bottom 10% of the height, left 20% of the width.
PATCH_H, PATCH_W = 0.10, 0.20
IMAGE_SIZE = 64


def planted_photo(seed: int, city: int, size: tuple[int, int] = (96, 96), patch: bool = True,
                  tint: bool = False) -> Image.Image:
    """A random scene; `patch`: the city's colour in the bottom-left corner; `tint`: instead, the whole
    scene is shifted towards the city's colour (a model with no shortcut to find)."""
    rng = np.random.default_rng(seed)
    width, height = size
    blocks = rng.integers(70, 190, (6, 6, 3)).astype(np.uint8)
    img = np.asarray(Image.fromarray(blocks).resize(size, Image.Resampling.BICUBIC)).astype(np.float64)
    img += rng.normal(0, 8, img.shape)
    if tint:
        img = 0.6 * img + 0.4 * np.array(COLOURS[city])
    if patch:
        img[height - int(height * PATCH_H):, :int(width * PATCH_W)] = COLOURS[city]
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def train_planted(meta, steps: int = 60, patch: bool = True, tint: bool = False):
    """A baseline CNN trained on fresh planted photos each step (eight per city), in eval mode."""
    import torch

    from core.models import registry
    from core.training.transforms import eval_transform

    transform = eval_transform(meta)
    torch.manual_seed(0)
    model = registry.build("baseline", len(CITIES))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        photos = [(planted_photo(step * 1000 + 100 * k + i, k, patch=patch, tint=tint), k)
                  for k in range(len(CITIES)) for i in range(8)]
        x = torch.stack([transform(p) for p, _ in photos])
        y = torch.tensor([k for _, k in photos])
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


def patch_share(heatmap: np.ndarray, margin: float = 0.1) -> tuple[float, float]:
    """(share of the map's mass, share of the area) in the patch grown by `margin` of the frame upwards and
    to the right (Grad-CAM's cells are coarse)."""
    h, w = heatmap.shape
    rows, cols = int(h * (PATCH_H + margin)), int(w * (PATCH_W + margin))
    total = float(heatmap.sum())
    mass = float(heatmap[h - rows:, :cols].sum()) / total if total > 0 else 0.0
    return mass, rows * cols / (h * w)
