"""Embedding outliers: the offline EfficientNet-Lite0 trunk and the per-city kNN robust z-score."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from core.quality.embedding import Lite0Embedder, embed, knn_scores, lite0_transform, robust_z

from .conftest import placeholder_frame, street_like


def test_knn_robust_z_flags_the_odd_one_in_a_two_look_city():
    rng = np.random.default_rng(0)
    a, b, odd = rng.normal(size=(3, 16))
    vecs = np.vstack([a + 0.05 * rng.normal(size=(10, 16)), b + 0.05 * rng.normal(size=(10, 16)), odd[None]])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    z = robust_z(knn_scores(vecs.astype(np.float32), k=3))
    assert int(np.argmax(z)) == 20 and z[20] > 3.5
    assert (z[:20] < 3.5).all()  # neither look of the city is an outlier


def test_lite0_embeddings_are_unit_vectors_and_see_similarity():
    torch.set_num_threads(1)
    model = Lite0Embedder()
    base = street_like(1, (160, 120))
    flat = placeholder_frame(160)
    vecs = embed(model, lite0_transform(), [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), flat])
    assert vecs.shape == (3, 1280)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]


def test_scan_flags_the_image_unlike_its_city_and_reuses_cached_vectors(tmp_path, monkeypatch):
    import core.quality.embedding as embedding
    from core.quality import scan
    from core.quality.findings import EMBEDDING_CACHE

    from .conftest import by_name, write_project

    torch.set_num_threads(1)
    images = {f"street{i}": (street_like(i, (160, 120)), "Zagreb", "JPEG") for i in range(9)}
    images["odd"] = (placeholder_frame(160), "Zagreb", "JPEG")
    with write_project(tmp_path, images) as project:
        findings = scan(project, "outliers")
        assert [f.image_id for f in findings] == [by_name(project)["odd"]]
        assert findings[0].kind == "outlier" and findings[0].details["city"] == "zagreb"
        assert (project.cache_dir / EMBEDDING_CACHE).is_file()
        real_embed = embedding.embed
        monkeypatch.setattr(embedding, "embed", lambda m, tr, imgs: real_embed(m, tr, imgs) if not imgs else 1 / 0)
        again = scan(project, "outliers")  # every vector comes from the cache: embed is never asked for one
        assert [(f.image_id, round(f.score)) for f in again] == [(f.image_id, round(f.score)) for f in findings]
