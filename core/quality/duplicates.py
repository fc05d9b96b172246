"""Near-duplicate detection with two perceptual hashes, grouped, with the best copy kept.

Two images are near-duplicates when BOTH their DCT hash (``imagehash.phash``) and their gradient hash
(``imagehash.dhash``) differ in at most `hamming` of 64 bits. Requiring both cuts false matches: on the
400 real Street View frames of gsv-croatia the closest pair of different views was 8 bits apart in phash
alone but 16 bits in max(phash, dhash), while a resized, re-encoded (JPEG q50), brightened or 1.5 %
cropped copy stays within 8. The default of 10 sits between the two; the four headings of one place
(90 degrees apart) are 16+ bits apart and are never grouped.

Featureless frames (near-uniform: placeholders, black or white frames) are left out by the scan: their
hashes carry no information, so each would match every other; the frame check reports them instead.

All pairs are compared (vectorised XOR + popcount in blocks, dhash only where phash passed: 30,000
images take about 5 s on a busy 2-core machine) and matching pairs are joined by union-find, so a chain
of near-copies forms one group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import imagehash
import numpy as np
from PIL import Image

from ..data.project import ImageRecord
from .types import Finding, Sample

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from .checks import ScanContext

DEFAULT_HAMMING = 10
_BLOCK = 1024


def image_hashes(img: Image.Image) -> tuple[int, int]:
    """(phash, dhash) of an image as 64-bit integers."""
    return _as_int(imagehash.phash(img)), _as_int(imagehash.dhash(img))


def _as_int(h: imagehash.ImageHash) -> int:
    return int(np.packbits(h.hash.flatten()).view(">u8")[0])


def close_pairs(hashes: Sequence[tuple[int, int]], hamming: int = DEFAULT_HAMMING) -> list[tuple[int, int, int]]:
    """``(i, j, distance)`` for every pair i < j whose hashes both differ in at most `hamming` bits;
    distance is the larger of the two hash distances."""
    if len(hashes) < 2:
        return []
    arr = np.array(hashes, dtype=np.uint64).reshape(-1, 2)
    p, d = arr[:, 0], arr[:, 1]
    out: list[tuple[int, int, int]] = []
    for start in range(0, len(arr), _BLOCK):
        stop = min(start + _BLOCK, len(arr))
        # phash against every later image first; dhash only for the few pairs that pass
        rows, cols = np.nonzero(np.bitwise_count(p[start:stop, None] ^ p[None, start:]) <= hamming)
        i, j = rows + start, cols + start
        keep = j > i
        i, j = i[keep], j[keep]
        dist = np.maximum(np.bitwise_count(p[i] ^ p[j]), np.bitwise_count(d[i] ^ d[j]))
        ok = dist <= hamming
        out.extend(zip(i[ok].tolist(), j[ok].tolist(), dist[ok].tolist()))
    return out


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


@dataclass(frozen=True)
class DuplicateGroup:
    """Indices of near-duplicate images; `keep` is the one to keep, `distance` the largest pair distance."""

    members: tuple[int, ...]
    keep: int
    distance: int


def group_duplicates(hashes: Sequence[tuple[int, int]], quality: Sequence[tuple[float, ...]],
                     hamming: int = DEFAULT_HAMMING) -> list[DuplicateGroup]:
    """Groups of 2+ near-duplicates. The kept member maximises `quality` (a sortable tuple per image,
    e.g. (pixels, sharpness)); ties keep the earliest index."""
    pairs = close_pairs(hashes, hamming)
    uf = UnionFind(len(hashes))
    for i, j, _ in pairs:
        uf.union(i, j)
    members: dict[int, list[int]] = {}
    worst: dict[int, int] = {}
    for i, _j, dist in pairs:
        root = uf.find(i)
        worst[root] = max(worst.get(root, 0), dist)
    for i in range(len(hashes)):
        members.setdefault(uf.find(i), []).append(i)
    groups = []
    for root, idx in members.items():
        if len(idx) < 2:
            continue
        keep = max(idx, key=lambda k: (tuple(quality[k]), -k))
        groups.append(DuplicateGroup(tuple(idx), keep, worst.get(root, 0)))
    return sorted(groups, key=lambda g: g.members[0])


class DuplicatesCheck:
    """The "duplicates" check of a scan: hashes every textured frame as it comes (in the scan's pool), then
    groups them all at the end."""

    input_size = 0  # the hashes work on any decode

    def __init__(self, pool: Executor, hamming: int, uniform: float) -> None:
        self.pool, self.hamming, self.uniform = pool, hamming, uniform
        self.hashed: list[tuple[ImageRecord, tuple[int, int], tuple[float, ...]]] = []

    def observe(self, samples: Sequence[Sample]) -> list[Finding]:
        # a featureless frame's hash says nothing (every blank frame would match every other one)
        textured = [s for s in samples if s.stats.uniform_fraction < self.uniform]
        self.hashed.extend(zip((s.record for s in textured), self.pool.map(lambda s: image_hashes(s.image), textured),
                               ((s.record.width * s.record.height, s.stats.sharpness) for s in textured)))
        return []

    def finish(self) -> list[Finding]:
        return _duplicate_findings(self.hashed, self.hamming)


def load_check(context: ScanContext) -> DuplicatesCheck:
    options = context.options
    return DuplicatesCheck(context.pool, DEFAULT_HAMMING if options.hamming is None else options.hamming,
                           options.frames.uniform)


def _duplicate_findings(hashed: Sequence[tuple[ImageRecord, tuple[int, int], tuple[float, ...]]],
                        hamming: int) -> list[Finding]:
    """One finding per extra copy, or, when a group mixes cities, one label conflict per member (which
    label is right is for the user to decide, so no copy is preferred)."""
    groups = group_duplicates([h for _, h, _ in hashed], [q for _, _, q in hashed], hamming)
    out = []
    for g in groups:
        recs = [hashed[i][0] for i in g.members]
        keep = hashed[g.keep][0]
        key = f"dup-{keep.id}"
        cities = sorted({r.city_slug or "unlabelled" for r in recs})
        members = [r.id for r in recs]
        if len(cities) > 1:
            for r in recs:
                out.append(Finding(r.id, "label_conflict", 1.0,
                                   f"near-duplicate images labelled {' / '.join(cities)} (this one: {r.city_slug or 'unlabelled'})",
                                   group=key, details={"cities": cities, "members": members, "distance": g.distance}))
            continue
        for r in recs:
            if r.id != keep.id:
                out.append(Finding(r.id, "duplicate", round(1.0 - g.distance / 64, 4),
                                   f"near-duplicate of {keep.id} (kept: larger or sharper)", group=key,
                                   details={"keep": keep.id, "members": members, "distance": g.distance}))
    return out
