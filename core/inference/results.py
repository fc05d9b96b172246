"""What a prediction is, without the model that makes it: result types, multi-view combination, inputs.

Everything here is torch-free, so the CLI's fast commands, the evaluation and challenge code and the GUI's
UI thread can name, read, rank and export predictions without loading torch. `core.inference.prediction.Predictor`
(which does import torch) produces these values; nothing here calls it.

Multi-view combination (`combine_views`): several photos of one place give the mean of their probability
distributions. We compared it with the mean of log-probabilities (a geometric mean: the product-of-
evidence rule) on the gsv-croatia places (4 headings each) with two EfficientNet-Lite0 runs: the
arithmetic mean never did worse (place accuracy on test 47% vs 42% and 53% vs 47%, on val 40% vs 35%
and 45% vs 45%; only ~20 places each, so one place is 5 points). A classifier trained on a
small dataset is overconfident, and under a product one confidently wrong view (a wall, a hedge)
outvotes three moderately sure right ones; under the mean every view has exactly 1/n of the say and no
view can veto a city. The mean also gives back a single view unchanged, does not sharpen identical
(strongly correlated) views, and ignores the order of the views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Protocol, Sequence, Union

import numpy as np
from PIL import Image

from ..data.importing import IMAGE_SUFFIXES
from ..errors import GeoSpottrError
from ..names import city_label

#: What a caller may hand to `Predictor.predict`: a file path, a decoded image, or the file's bytes.
ImageSource = Union[str, Path, Image.Image, bytes, bytearray]
DEFAULT_BATCH = 16
#: The one prediction CSV layout: ``geospottr predict --csv`` writes these columns (one row per photo and
#: rank; failures go to stderr) and the Predict workspace's export adds `EXPORT_FIELDS`' ``error`` column,
#: filled only on the one row of an input that could not be predicted.
CSV_FIELDS = ("source", "views", "rank", "city", "name", "country", "lat", "lon", "probability")
EXPORT_FIELDS = (*CSV_FIELDS, "error")


class CityClass(Protocol):
    """One output class of a model (`core.models.bundle.ClassInfo` is one). Read-only members, so a frozen
    dataclass satisfies it."""

    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...


@dataclass(frozen=True)
class CityScore:
    """One entry of a ranking: a city, its coordinates and the model's probability for it."""

    slug: str
    name: str
    country: str
    lat: float
    lon: float
    probability: float

    @property
    def label(self) -> str:
        """"Zagreb, HR" (`core.names.city_label`)."""
        return city_label(self.name, self.country)

    def to_dict(self) -> dict:
        return {"city": self.slug, "name": self.name, "country": self.country, "lat": self.lat, "lon": self.lon,
                "probability": self.probability}


@dataclass(frozen=True)
class GpsGuess:
    """A point a model that predicts coordinates answered (GeoCLIP's GPS head, `predict --zero-shot geoclip`),
    its probability, and the nearest project city with its distance from that city's centre."""

    lat: float
    lon: float
    probability: float
    city: str
    name: str
    country: str
    distance_km: float

    @property
    def label(self) -> str:
        """"45.8150, 15.9819, 3.2 km from Zagreb, HR"."""
        return f"{self.lat:.4f}, {self.lon:.4f}, {self.distance_km:,.1f} km from {city_label(self.name, self.country)}"

    def to_dict(self) -> dict:
        return {"lat": self.lat, "lon": self.lon, "probability": self.probability, "nearest_city": self.city,
                "distance_km": round(self.distance_km, 3)}


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image (or one group of images of a place).

    `probabilities` holds every class in bundle order and sums to 1; `ranking` is its top-k, best first.
    A model that places the photo on the globe (GeoCLIP) also gives `gps`, its most likely points, best
    first, and `elsewhere`, the mass outside every city's area: its `probabilities` then sum to 1 - elsewhere.
    """

    source: str
    probabilities: tuple[float, ...]
    ranking: tuple[CityScore, ...]
    views: int = 1
    gps: tuple[GpsGuess, ...] = ()
    elsewhere: float | None = None

    @property
    def top(self) -> CityScore:
        return self.ranking[0]

    def to_dict(self) -> dict:
        out = {"source": self.source, "views": self.views, "ranking": [c.to_dict() for c in self.ranking]}
        if self.gps:
            out["gps"] = [g.to_dict() for g in self.gps]
        if self.elsewhere is not None:
            out["elsewhere"] = self.elsewhere
        return out


@dataclass(frozen=True)
class PredictFailure:
    """An input that could not be predicted; `reason` is one line that names the file."""

    source: str
    reason: str


@dataclass(frozen=True)
class GroupPrediction:
    """Several photos of one place: the combined ranking, each usable view's own ranking, and the failures."""

    combined: Prediction | None          # None when no view could be read
    views: tuple[Prediction, ...]
    failures: tuple[PredictFailure, ...] = field(default_factory=tuple)


def combine_views(probabilities: np.ndarray) -> np.ndarray:
    """One distribution from `(views, classes)` per-view probabilities: their mean (see the module
    docstring for why the mean and not the mean of log-probabilities)."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError("combine_views needs a (views, classes) array with at least one view")
    out = probs.mean(axis=0)
    return out / out.sum()


def rank(classes: Sequence[CityClass], probabilities: Sequence[float] | np.ndarray,
         top_k: int = 5) -> tuple[CityScore, ...]:
    """The `top_k` most probable of `classes` (all of them when `top_k` is 0 or more than there are)."""
    probs = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-probs, kind="stable")
    if top_k > 0:
        order = order[:top_k]
    return tuple(CityScore(c.slug, c.name, c.country, c.lat, c.lon, float(probs[i]))
                 for i, c in ((i, classes[i]) for i in order))


def source_name(source: ImageSource, index: int = 0) -> str:
    """How a source is named in results and error lines."""
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, Image.Image):
        return getattr(source, "filename", "") or f"image #{index + 1}"
    return f"bytes #{index + 1}"


def group_name(names: Sequence[str]) -> str:
    """A group's name: the folder its files share, else the first file and a count."""
    parents = {str(Path(n).parent) for n in names}
    if len(parents) == 1 and parents != {"."}:
        return parents.pop()
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1})"


def csv_rows(result: Prediction | PredictFailure, ranking: Sequence[CityScore] | None = None,
             source: str | None = None) -> Iterator[dict]:
    """`EXPORT_FIELDS` rows for one result: one per ranked city (`ranking` defaults to the result's own), or
    one row carrying the failure's reason. `source` overrides the name written in the ``source`` column."""
    if isinstance(result, PredictFailure):
        yield {"source": source or result.source, "error": result.reason}
        return
    for number, c in enumerate(result.ranking if ranking is None else ranking, start=1):
        yield {"source": source or result.source, "views": result.views, "rank": number, **c.to_dict(),
               "probability": round(c.probability, 6)}


def expand_inputs(paths: Iterable[Path | str]) -> list[Path]:
    """Files named directly, plus image files found (recursively, sorted) under named folders.

    A named file is kept whatever its suffix or even if it is missing: predicting it then fails with a
    one-line reason naming it, and the rest of the batch goes on.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(path)
    return out


def folder_groups(root: Path | str) -> list[tuple[str, list[Path]]]:
    """For ``--group-by-folder``: one group per folder under `root` that directly holds image files."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise GeoSpottrError(f"{root}: not a folder (--group-by-folder takes folders with one subfolder per place)")
    groups: dict[Path, list[Path]] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            groups.setdefault(p.parent, []).append(p)
    return [(str(folder), files) for folder, files in sorted(groups.items())]
