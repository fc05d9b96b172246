"""What a training run learns from: the class list and the train/val image sets of a project.

Classes are the project cities that have training images, in slug order (the order is the model's output
order and is stored in the bundle). Only the persisted split is used: ``train`` to learn, ``val`` to
select and stop; ``test`` is never read here. Rejected images are left out.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from PIL import Image
from torch.utils.data import Dataset

from ..data.project import Project
from ..data.splitting import group_key
from ..errors import GeoSpottrError
from ..imaging import ImageError, load_image
from ..models.bundle import ClassInfo
from .transforms import load_for_model

USABLE_STATUSES = ("pending", "accepted")


@dataclass(frozen=True)
class Sample:
    path: str
    label: int
    lat: float | None
    lon: float | None
    place: str = ""  # the place it shows (location id, pano, coordinates; else the image): groups for inner CV


def training_classes(project: Project) -> list[ClassInfo]:
    """Cities with at least one usable training image, in slug order."""
    slugs = {r.city_slug for r in project.images(split="train", status=USABLE_STATUSES) if r.city_slug}
    return [ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in project.cities() if c.slug in slugs]


def split_samples(project: Project, split: str, classes: Sequence[ClassInfo]) -> list[Sample]:
    """Usable images of `split` whose city is one of `classes` (a val image of an untrained city is skipped)."""
    if split not in ("train", "val"):
        raise ValueError("training reads only the train and val splits")
    index = {c.slug: i for i, c in enumerate(classes)}
    return [Sample(str(project.image_path(r)), index[r.city_slug], r.lat, r.lon, group_key(r, "location"))
            # Ordered by id (a content hash), not by import time: the same data gives the same run.
            for r in project.images(split=split, status=USABLE_STATUSES, order="images.id") if r.city_slug in index]


def load_training_data(project: Project) -> tuple[list[ClassInfo], list[Sample], list[Sample]]:
    """(classes, train samples, val samples), or a one-line error saying what the project lacks."""
    classes = training_classes(project)
    if len(classes) < 2:
        raise GeoSpottrError(f"training needs images of at least 2 cities in the train split (have {len(classes)}); "
                             "import photos and run `geospottr split`")
    train, val = split_samples(project, "train", classes), split_samples(project, "val", classes)
    if not val:
        raise GeoSpottrError("no validation images: run `geospottr split` (e.g. --ratios 0.7,0.15,0.15)")
    return classes, train, val


class ImageDataset(Dataset):
    """(image tensor, label, index) per sample; images decode in the DataLoader worker (JPEG draft mode).

    A photo that cannot be decoded comes back as zeros with index ``-1 - i``: the batch marks it, and
    `decoded_only` takes it out before the model sees it, so one bad file in 27,500 never stops a long
    run (the trainer names it in the run log and counts it)."""

    def __init__(self, samples: Sequence[Sample], image_size: int, transform: Callable[[Image.Image], torch.Tensor]) -> None:
        self.samples = list(samples)
        self.image_size = image_size
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        s = self.samples[i]
        try:
            return load_for_model(s.path, self.image_size, self.transform), s.label, i
        except ImageError:
            return torch.zeros(3, self.image_size, self.image_size), s.label, -1 - i


def subsample(samples: Sequence[Sample], share: float, seed: int) -> list[Sample]:
    """About `share` of `samples`, drawn evenly per city and by whole places (a place's photos stay
    together, so the probe's grouped CV still sees unseen places), at least one place per city; the same
    `seed` gives the same draw (a resumed or multi-process run uses the same photos). Order is kept."""
    if share >= 1:
        return list(samples)
    rng = random.Random(seed)
    places: dict[int, dict[str, list[int]]] = {}
    for i, s in enumerate(samples):
        places.setdefault(s.label, {}).setdefault(s.place or s.path, []).append(i)
    keep: set[int] = set()
    for label in sorted(places):
        groups = sorted(places[label].items())
        rng.shuffle(groups)
        want = math.ceil(share * sum(len(g) for _, g in groups))
        taken = 0
        for _, members in groups:
            if taken >= want:
                break
            keep.update(members)
            taken += len(members)
    return [s for i, s in enumerate(samples) if i in keep]


def decoded_only(images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor,
                 on_skip: Callable[[int], None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The batch without the photos `ImageDataset` could not decode; `on_skip` gets each one's sample index."""
    bad = index < 0
    if not bool(bad.any()):
        return images, labels, index
    for i in (-1 - index[bad]).tolist():
        on_skip(i)
    keep = ~bad
    return images[keep], labels[keep], index[keep]


def undecodable_reason(path: str) -> str:
    """Why `path` cannot be decoded (the main process asks again: a worker's exception does not travel)."""
    try:
        load_image(path, draft=(64, 64))
    except ImageError as exc:
        return str(exc)
    return "could not be decoded"
