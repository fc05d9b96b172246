"""The embedding map lays the project's images out in 2-D by look, reusing the outlier check's cache."""

from __future__ import annotations

import numpy as np

from core.events import Control
from core.quality import embedding_map


def test_layout_keeps_look_alike_images_together_and_is_repeatable():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 64))
    vectors = np.concatenate([c + 0.05 * rng.normal(size=(20, 64)) for c in centres])
    xy = embedding_map.layout_2d(vectors, seed=1)
    assert xy.shape == (60, 2) and xy.min() >= 0 and xy.max() <= 1
    assert np.array_equal(xy, embedding_map.layout_2d(vectors, seed=1))
    groups = [xy[i * 20:(i + 1) * 20] for i in range(3)]
    within = max(np.linalg.norm(g - g.mean(axis=0), axis=1).mean() for g in groups)
    between = min(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)) for i, a in enumerate(groups) for b in groups[i + 1:])
    assert between > 3 * within
    assert embedding_map.layout_2d(np.zeros((0, 8))).shape == (0, 2)
    assert embedding_map.layout_2d(vectors[:3]).shape == (3, 2)  # tiny sets: PCA alone


def test_build_map_embeds_each_image_once_and_skips_a_damaged_file(tiny_project):
    records = tiny_project.images()
    tiny_project.image_path(records[0]).write_bytes(b"not an image any more")
    events = []
    first = embedding_map.build_map(tiny_project, None, on_event=events.append, control=Control())
    assert len(first.ids) == len(records) - 1 and first.skipped == 1 and first.xy.shape == (len(records) - 1, 2)
    assert first.cities == [next(r.city_slug for r in records if r.id == i) for i in first.ids]
    assert any("embedding images" in e.message for e in events)
    # The second map reads every vector from the cache: nothing is embedded again.
    events.clear()
    again = embedding_map.build_map(tiny_project, None, on_event=events.append, control=Control())
    assert again.ids == first.ids
    assert not any("embedding images (" in e.message and e.total == len(first.ids) for e in events)
