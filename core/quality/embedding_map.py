"""The embedding map: every image of the project as a point in 2-D, near the images that look like it.

A curator looking for what is wrong with a city wants to *see* its images grouped by look: a cluster of
indoor shots, a run of grey placeholders, a handful of Rijeka frames sitting among Split's. The points are
the images' EfficientNet-Lite0 embeddings (the outlier check's, `core.quality.embedding`, sharing its
on-disk cache, so a project scanned by Find problems lays out without embedding again) laid out in 2-D by
t-SNE (scikit-learn; PCA to 50 dimensions first, so thousands of images take seconds, not minutes).

`embed_images` needs torch (a worker job); `layout_2d` only numpy and scikit-learn.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.project import ImageRecord, Project
from ..errors import GeoSpottrError
from ..events import Control, Event, EventCallback, Kind
from ..fsutil import atomic_write_bytes, safe_child
from ..imaging import ImageError, load_image
from .checks import EMBEDDING_CACHE

#: Images embedded per forward pass (Lite0 at 224 px: about 40 MB of activations per batch on a CPU).
BATCH = 32
#: t-SNE's perplexity, lowered for small projects (it must stay below the number of points).
PERPLEXITY = 30.0
#: Dimensions kept by PCA before t-SNE (the 1280-d vectors would make t-SNE's neighbour search slow).
PCA_DIMS = 50


@dataclass
class EmbeddingMap:
    """Image ids, their city slugs (None: unlabelled) and their 2-D positions (rows aligned)."""

    ids: list[str]
    cities: list[str | None]
    xy: np.ndarray
    skipped: int = 0  # images that could not be read


def embed_images(project: Project, records: Sequence[ImageRecord], on_event: EventCallback,
                 control: Control) -> tuple[list[str], np.ndarray, int]:
    """(ids, unit vectors, images that could not be read) of `records`, from the outlier check's cache
    where it has them; new vectors are added to that cache. Cancellable between batches."""
    import torch

    from .embedding import CACHE_KEY, INPUT_SIZE, Lite0Embedder, _read_cache, embed, lite0_transform

    cache_path = safe_child(project.cache_dir, *EMBEDDING_CACHE.split("/"))
    cached = _read_cache(cache_path)
    todo = [r for r in records if r.id not in cached]
    fresh: dict[str, np.ndarray] = {}
    skipped = 0
    if todo:
        from ..devices import configure_threads, pick_device

        configure_threads()
        model = Lite0Embedder().to(pick_device("auto"))
        transform = lite0_transform()
        with torch.inference_mode():
            for start in range(0, len(todo), BATCH):
                control.checkpoint()
                batch, ids = [], []
                for record in todo[start:start + BATCH]:
                    try:
                        batch.append(load_image(project.image_path(record), draft=(INPUT_SIZE, INPUT_SIZE)))
                        ids.append(record.id)
                    except (ImageError, GeoSpottrError, OSError):
                        skipped += 1  # a file gone or damaged since import: the map leaves it out
                fresh.update(zip(ids, embed(model, transform, batch)))
                done = min(start + BATCH, len(todo))
                on_event(Event(Kind.PROGRESS, f"embedding images ({done:,} of {len(todo):,})", done, len(todo),
                               scope="embedding"))
        everything = {**cached, **{k: v.astype(np.float16) for k, v in fresh.items()}}
        buf = io.BytesIO()
        np.savez(buf, key=np.array(CACHE_KEY), ids=np.array(list(everything)),
                 vectors=np.stack(list(everything.values())).astype(np.float16))
        atomic_write_bytes(cache_path, buf.getvalue())
    ids = [r.id for r in records if r.id in cached or r.id in fresh]
    vectors = np.stack([fresh[i] if i in fresh else cached[i].astype(np.float32) for i in ids]) if ids \
        else np.zeros((0, 0), dtype=np.float32)
    return ids, vectors, skipped


def layout_2d(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """``(n, 2)`` positions that keep images with similar vectors close (t-SNE after PCA), scaled to
    [0, 1] on each axis. Deterministic for a given `seed`; tiny sets fall back to PCA alone."""
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2))
    if n < 5:
        xy = _pca(vectors, 2)
    else:
        from sklearn.manifold import TSNE

        reduced = _pca(vectors, min(PCA_DIMS, n - 1, vectors.shape[1]))
        tsne = TSNE(n_components=2, perplexity=min(PERPLEXITY, (n - 1) / 3), init="pca", random_state=seed,
                    learning_rate="auto")
        xy = tsne.fit_transform(reduced.astype(np.float32))
    if xy.shape[1] < 2:
        xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
    span = np.ptp(xy, axis=0)
    return (xy - xy.min(axis=0)) / np.where(span > 0, span, 1.0)


def _pca(vectors: np.ndarray, dims: int) -> np.ndarray:
    centred = vectors.astype(np.float64) - vectors.mean(axis=0)
    _u, _s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:max(1, dims)].T


def build_map(project: Project, statuses: Sequence[str] | None, *, on_event: EventCallback,
              control: Control) -> EmbeddingMap:
    """Worker job: embed the project's images with `statuses` (None: all) and lay them out."""
    records = project.images(status=list(statuses) if statuses else None)
    if not records:
        raise GeoSpottrError("no images to map yet: import or download some first")
    ids, vectors, skipped = embed_images(project, records, on_event, control)
    control.checkpoint()
    on_event(Event(Kind.PROGRESS, f"laying out {len(ids):,} images (t-SNE)…", scope="embedding"))
    slug = {r.id: r.city_slug for r in records}
    return EmbeddingMap(ids, [slug[i] for i in ids], layout_2d(vectors), skipped)

