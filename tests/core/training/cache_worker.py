"""A process of the feature-cache tests: ``python -m tests.core.training.cache_worker PHOTOS_DIR CACHE_DIR``
fills two caches (two "members" of one fixed network) from the photos, one decode each, with chunks of
`CHUNK` rows; under torchrun-style RANK / WORLD_SIZE variables it joins a gloo group and shards the work."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.events import ignore_events
from core.training import cache, distributed

CHUNK = 8
SIZE = 32


def members() -> list[nn.Module]:
    """Two small fixed networks: the same weights in every process, so every build computes the same rows."""
    torch.manual_seed(0)
    return [nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.AdaptiveAvgPool2d(2), nn.Flatten()).eval()
            for _ in range(2)]


def build(photos_dir: Path, cache_dir: Path, ctx: distributed.DistContext | None = None,
          calls: list[int] | None = None, on_event=ignore_events) -> list[tuple[np.ndarray, dict[int, str]]]:
    """Both members' caches under `cache_dir`; `calls` collects the batch sizes each compute saw."""
    cache.CHUNK_ROWS = CHUNK
    nets = members()
    paths = sorted(str(p) for p in photos_dir.iterdir())

    def compute(x: torch.Tensor, todo):
        if calls is not None:
            calls.append(len(x))
        return [nets[i](x) for i in todo]

    targets = [cache.Target(cache_dir / f"member{i}.npy", (16,)) for i in range(2)]
    photos = cache.DecodedPhotos(paths, SIZE, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    return cache.extract(targets, compute, photos, torch.device("cpu"), 4, 0, "train", "2 members", on_event, ctx=ctx)


if __name__ == "__main__":
    torch.set_num_threads(1)
    context = distributed.setup("cpu")
    try:
        build(Path(sys.argv[1]), Path(sys.argv[2]), context)
    finally:
        distributed.teardown(context)
