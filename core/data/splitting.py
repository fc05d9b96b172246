"""Train/val/test splits: stratified by city, grouped by place, deterministic, persisted in the project.

Images of one place (the four headings of a Street View panorama, or rows sharing a ``location_id``) are
near-duplicates: splitting them across train and test would leak test places into training and inflate
accuracy. Grouping keeps each place whole; groups are ordered by a seeded hash, so the same seed always
gives the same split and adding images later moves no existing group.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from typing import Sequence

from ..errors import GeoSpottrError
from ..values import BadValue, parse_decimal
from .project import SPLITS, ImageRecord, Project

GROUP_BY = ("image", "location")


def parse_ratios(text: str) -> tuple[float, float, float]:
    """``train,val,test`` shares as fractions of 1: three plain finite decimals (`parse_decimal`: ``nan``
    and ``inf`` would make every share NaN), none negative, not all zero."""
    try:
        parts = [parse_decimal(x, "ratio") for x in text.split(",")]
    except BadValue:
        raise GeoSpottrError(f"ratios must be three numbers like 0.6,0.2,0.2, not {text[:60]!r}") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or not 0 < sum(parts) < math.inf:
        raise GeoSpottrError(f"ratios must be three non-negative numbers like 0.6,0.2,0.2, not {text!r}")
    total = sum(parts)
    return parts[0] / total, parts[1] / total, parts[2] / total


def group_key(record: ImageRecord, group_by: str) -> str:
    """The place an image belongs to: its location id, else its source id (pano), else its rounded
    coordinates (~1 m), else the image itself."""
    if group_by == "image":
        return record.id
    if record.location_id:
        return f"loc:{record.location_id}"
    if record.source != "import" and record.source_id:
        return f"src:{record.source}:{record.source_id}"
    if record.lat is not None and record.lon is not None:
        return f"ll:{record.lat:.5f},{record.lon:.5f}"
    return record.id


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def assign(records: Sequence[ImageRecord], ratios: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0,
           group_by: str = "location") -> dict[str, str]:
    """Image id -> split. Per city, groups in seeded-hash order fill train, then val, then test by image
    count, so each city gets the ratios as closely as whole groups allow."""
    if group_by not in GROUP_BY:
        raise GeoSpottrError(f"--group-by must be one of {', '.join(GROUP_BY)}")
    by_city: dict[int | None, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_city[r.city_id][group_key(r, group_by)].append(r.id)
    result: dict[str, str] = {}
    for groups in by_city.values():
        total = sum(len(v) for v in groups.values())
        bounds = [ratios[0] * total, (ratios[0] + ratios[1]) * total]
        filled = 0
        for key in sorted(groups, key=lambda k: _rank(seed, k)):
            members = groups[key]
            middle = filled + len(members) / 2  # a group goes where its middle falls
            split = SPLITS[0] if middle <= bounds[0] else SPLITS[1] if middle <= bounds[1] else SPLITS[2]
            for image_id in members:
                result[image_id] = split
            filled += len(members)
    return result


def split_project(project: Project, ratios: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0,
                  group_by: str = "location") -> dict[str, Counter]:
    """Assign and persist splits for every labelled, non-rejected image; rejected ones leave all splits.

    Returns per-split counts by city slug. The settings are stored so later tools can say how a split was made.
    """
    records = [r for r in project.images(status=("pending", "accepted")) if r.city_id is not None]
    if not records:
        raise GeoSpottrError("no labelled images to split; import or download some first")
    assignment = assign(records, ratios, seed, group_by)
    rejected = {r.id: None for r in project.images(status="rejected") if r.split is not None}
    project.set_splits({**assignment, **rejected})
    project.set_setting("split", {"ratios": list(ratios), "seed": seed, "group_by": group_by})
    counts: dict[str, Counter] = {s: Counter() for s in SPLITS}
    for r in records:
        counts[assignment[r.id]][r.city_slug] += 1
    return counts
