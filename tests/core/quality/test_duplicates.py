"""Near-duplicate grouping: pairs by both hashes, union-find chains, best copy kept."""

from __future__ import annotations

import io

from PIL import Image

from core.quality.duplicates import close_pairs, group_duplicates, image_hashes

from .conftest import street_like


def test_close_pairs_needs_both_hashes_close():
    hashes = [(0, 0), (0b111, 0b1), (0, 0xFFFF), (0xFFFFFFFF, 0xFFFFFFFF)]
    assert close_pairs(hashes, hamming=3) == [(0, 1, 3)]


def test_chains_form_one_group_and_the_best_is_kept():
    hashes = [(0, 0), (0b11, 0), (0b1111, 0), (2**64 - 1, 2**64 - 1)]
    quality = [(100, 0.5), (400, 0.1), (400, 0.9), (1000, 1.0)]
    groups = group_duplicates(hashes, quality, hamming=2)
    assert len(groups) == 1
    assert groups[0].members == (0, 1, 2)
    assert groups[0].keep == 2  # largest, then sharpest
    assert groups[0].distance == 2


def test_reencoded_and_resized_copies_hash_close_and_others_do_not():
    base = street_like(3, (480, 360))
    buf = io.BytesIO()
    base.resize((240, 180)).save(buf, "JPEG", quality=50)
    copy = Image.open(buf).convert("RGB")
    hashes = [image_hashes(base), image_hashes(copy), image_hashes(street_like(4, (480, 360)))]
    assert [(i, j) for i, j, _ in close_pairs(hashes)] == [(0, 1)]


def test_no_pairs_for_fewer_than_two():
    assert close_pairs([]) == [] and close_pairs([(1, 1)]) == []
