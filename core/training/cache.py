"""Cached frozen-stage features: compute the frozen trunk's output once, train later epochs on the head only.

The frozen stages never change, so their output for an un-augmented image is the same every epoch. The
cache stores it per split as one fp16 ``.npy`` (memory-mapped when read) under
``<project>/cache/features/<key>/``, where the key hashes the frozen weights, the input size and
normalisation and the image list: any change makes a new cache, never a stale one. Files are written to a
temp name and renamed when complete, so a killed build leaves nothing that could be mistaken for a cache.

Augmentation is flip-only: the cached map of a horizontally flipped image is taken as the flipped map
(convolutions are close to flip-equivariant), which costs nothing. Crops and colour jitter would need a
fresh trunk pass, which is exactly what the cache avoids.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .. import fsutil
from ..errors import GeoSpottrError
from ..events import PROGRESS, Control, Event, EventCallback
from ..fsutil import atomic_write_text, safe_child
from .data import ImageDataset, Sample

DEFAULT_CAP_GB = 8.0


def cache_key(frozen: nn.Module, image_size: int, mean: Sequence[float], std: Sequence[float],
              samples: Sequence[Sample], crop_bottom: float = 0.0) -> str:
    h = hashlib.sha1()
    for name, tensor in sorted(frozen.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(json.dumps([image_size, list(mean), list(std), [s.path for s in samples]]).encode())
    if crop_bottom:  # only then, so caches made before the option existed stay valid
        h.update(f"crop_bottom={crop_bottom}".encode())
    return h.hexdigest()[:16]


@torch.no_grad()
def feature_shape(frozen: nn.Module, image_size: int) -> tuple[int, ...]:
    return tuple(frozen.eval()(torch.zeros(1, 3, image_size, image_size)).shape[1:])


def estimate_bytes(shape: Sequence[int], count: int) -> int:
    """Disk size of `count` fp16 feature maps of `shape`."""
    return int(np.prod(shape)) * 2 * count


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def check_size(shape: Sequence[int], count: int, cap_gb: float) -> int:
    """The estimated size, or a one-line error when it exceeds the cap."""
    need = estimate_bytes(shape, count)
    if need > cap_gb * 1024 ** 3:
        raise GeoSpottrError(f"the feature cache would take {human_bytes(need)} (> cap {cap_gb:g} GB); "
                             "raise --cache-cap-gb, use a smaller --image-size, or train without --cache-features")
    return need


@torch.no_grad()
def build_split(frozen: nn.Module, dataset: ImageDataset, path: Path, device: torch.device, batch_size: int,
                num_workers: int, on_event: EventCallback, control: Control, scope: str) -> np.ndarray:
    """Compute (or reuse) the features of `dataset` at `path`; returns them memory-mapped read-only."""
    if path.is_file():
        return np.load(path, mmap_mode="r")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.npy")
    shape = feature_shape(frozen, dataset.image_size)
    frozen = frozen.to(device).eval()
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(dataset), *shape))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    done = 0
    try:
        fsutil.reserve_space(tmp)  # a full disk: one line now, not a SIGBUS half way through the map
        for images, _, index in loader:
            control.checkpoint()
            feats = frozen(images.to(device, non_blocking=True))
            out[index.numpy()] = feats.half().cpu().numpy()
            done += len(index)
            on_event(Event(PROGRESS, f"caching {scope} features", done=done, total=len(dataset), scope=f"cache {scope}"))
        out.flush()
        del out
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")


def cache_folder(cache_dir: Path, key: str) -> Path:
    """``cache_dir/features/<key>/``, checked to stay inside `cache_dir` (`fsutil.safe_child`)."""
    return safe_child(cache_dir, "features", key)


def write_cache_note(folder: Path, info: dict) -> None:
    atomic_write_text(folder / "cache.json", json.dumps(info, indent=1))


class FeatureDataset(Dataset):
    """(cached feature map as float32, label, index); `flip` mirrors half the maps at random."""

    def __init__(self, features: np.ndarray, labels: Sequence[int], flip: bool) -> None:
        self.features = features
        self.labels = list(labels)
        self.flip = flip

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = torch.from_numpy(np.array(self.features[i], dtype=np.float32))
        if self.flip and torch.rand(()) < 0.5:
            x = torch.flip(x, dims=(-1,))
        return x, self.labels[i], i
