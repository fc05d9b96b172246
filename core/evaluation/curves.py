"""A learning curve: macro and per-city F1 against the number of training photos, and where it is heading.

`core.evaluation.learning.learning_curve` measures the points (grouped cross-validation on a growing share of the
labelled places); this module holds what it returns and what is derived from it, torch-free so the
desktop app can plot a saved curve and `core.evaluation.advisor` can plan from it.

The fit is a power law of the error, ``1 - F1 = b * n ** -c``, the shape learning curves of classifiers
follow over a decade of data. Four noisy points cannot pin three parameters (an asymptote too), and a
city's own points are noisier still, so the exponent ``c`` is fitted once on the macro F1 and every city
shares it, with its own level ``b``: a city that is weak now stays weaker at 2x, and gains more per photo.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..data.project import Project
from ..errors import GeoSpottrError
from ..fsutil import atomic_write_text, safe_child
from ..scores import macro, per_class_f1
from ..typed import DamagedFile, Fields, read_json, short

#: Shares of the labelled places each cross-validation fold trains on (nested: 25% is inside 50%, ...).
FRACTIONS = (0.25, 0.5, 0.75, 1.0)
#: Bootstrap resamples (over places) behind every interval.
BOOTSTRAP = 200
#: The exponent of the fitted power law is kept within this range: a flat or noisy curve must not promise
#: a gain (c < 0) or an implausibly steep one.
EXPONENT_RANGE = (0.0, 1.0)
#: Errors are clipped into this range before the log fit (a perfect fold must not be log 0).
ERROR_CLIP = (0.005, 0.995)
CURVE_FILE = "learning_curve.json"
#: A curve stores one guess per labelled photo (about 60 bytes each): room for a million photos.
CURVE_MAX_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class Interval:
    """A value with its 95% bootstrap interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class CurvePoint:
    """Out-of-fold scores when every fold trains on `fraction` of its places."""

    fraction: float
    images: float                     # training images per fold (mean)
    macro_f1: Interval
    city_f1: dict[str, Interval]
    city_images: dict[str, float]     # training images of each city per fold (mean)


@dataclass(frozen=True)
class PowerLaw:
    """``F1(n) = 1 - scale * n ** -exponent``."""

    scale: float
    exponent: float

    def f1(self, n: float) -> float:
        return float(max(0.0, 1.0 - self.scale * max(n, 1.0) ** -self.exponent))


def fit_exponent(ns: Sequence[float], f1s: Sequence[float]) -> PowerLaw:
    """Least squares of ``log(1 - F1)`` on ``log n``; the slope is kept in `EXPONENT_RANGE`."""
    x = np.log(np.maximum(np.asarray(ns, dtype=float), 1.0))
    e = np.log(np.clip(1.0 - np.asarray(f1s, dtype=float), *ERROR_CLIP))
    slope = float(np.polyfit(x, e, 1)[0]) if len(set(x.tolist())) > 1 else 0.0
    c = min(max(-slope, EXPONENT_RANGE[0]), EXPONENT_RANGE[1])
    return PowerLaw(float(math.exp(np.mean(e + c * x))), c)


def fit_level(ns: Sequence[float], f1s: Sequence[float], exponent: float) -> PowerLaw:
    """The power law with a given exponent through a city's points (its level fitted in log space)."""
    x = np.log(np.maximum(np.asarray(ns, dtype=float), 1.0))
    e = np.log(np.clip(1.0 - np.asarray(f1s, dtype=float), *ERROR_CLIP))
    return PowerLaw(float(math.exp(np.mean(e + exponent * x))), exponent)


def f1_intervals(truth: np.ndarray, predicted: np.ndarray, groups: np.ndarray, classes: int,
                 resamples: int = BOOTSTRAP, seed: int = 0) -> tuple[list[Interval], Interval]:
    """Per-class F1 and macro F1 (`core.scores`' rule), each with its 95% interval from resampling places (a
    place's views together: they are not independent photos). A city that a resample leaves out (never
    true, never guessed) has no F1 there: its interval is over the resamples that hold it."""
    places, index = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(index == i) for i in range(len(places))]
    rng = np.random.default_rng(seed)
    draws, seen, macros = [], [], []
    for _ in range(resamples):
        rows = np.concatenate([members[i] for i in rng.integers(0, len(places), len(places))])
        f1, held = per_class_f1(truth[rows], predicted[rows], classes)
        draws.append(f1)
        seen.append(held)
        macros.append(macro(f1, held))
    f1s, held_by = np.array(draws), np.array(seen)
    point, point_held = per_class_f1(truth, predicted, classes)

    def interval(k: int) -> Interval:
        values = f1s[held_by[:, k], k]
        if not len(values):
            return Interval(float(point[k]), float(point[k]), float(point[k]))
        return Interval(float(point[k]), float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))

    return ([interval(k) for k in range(classes)],
            Interval(macro(point, point_held), float(np.percentile(macros, 2.5)), float(np.percentile(macros, 97.5))))


@dataclass
class LearningCurve:
    """The measured points, the fits, and the out-of-fold guesses at 100% (what the advisor reads)."""

    arch: str
    folds: int
    cities: list[str]                  # slugs, in class order
    names: dict[str, str]              # slug -> display name
    labelled: int                      # train + val images: what a (refit) model trains on
    city_labelled: dict[str, int]
    points: list[CurvePoint]
    #: Out-of-fold guesses with every fold at 100%: image id -> predicted slug (true slug from the project).
    predictions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def overall(self) -> PowerLaw:
        return fit_exponent([p.images for p in self.points], [p.macro_f1.value for p in self.points])

    def city_law(self, slug: str) -> PowerLaw:
        return fit_level([p.city_images[slug] for p in self.points], [p.city_f1[slug].value for p in self.points],
                         self.overall.exponent)

    def predicted_f1(self, slug: str, factor: float) -> float:
        """A city's F1 with `factor` times its labelled photos (1: what a model of them all should reach)."""
        return self.city_law(slug).f1(factor * self.city_labelled[slug])

    def predicted_macro(self, factor: float) -> float:
        return self.overall.f1(factor * self.labelled)

    def lines(self) -> list[str]:
        """The curve as text: one row per share of places, then the outlook per city."""
        out = [f"learning curve of {self.arch}: {self.folds}-fold grouped CV on {self.labelled} labelled photos "
               f"(train + val; test untouched), macro F1 with 95% intervals over places"]
        out.append(f"{'share':>6} {'photos':>7}  {'macro F1':<22}" + "".join(f"{s[:10]:>12}" for s in self.cities))
        for p in self.points:
            m = p.macro_f1
            out.append(f"{p.fraction:>6.0%} {p.images:>7.0f}  {m.value:.3f} [{m.low:.3f}, {m.high:.3f}]  "
                       + "".join(f"{p.city_f1[s].value:>12.2f}" for s in self.cities))
        law = self.overall
        out.append(f"fit: 1 - F1 = {law.scale:.3g} * photos^-{law.exponent:.3f}; macro F1 ~{self.predicted_macro(1):.2f} "
                   f"with all {self.labelled} photos, ~{self.predicted_macro(2):.2f} with 2x, "
                   f"~{self.predicted_macro(4):.2f} with 4x")
        for s in self.cities:
            now = self.points[-1].city_f1[s]
            out.append(f"  {self.names.get(s, s)}: {now.value:.2f} now [{now.low:.2f}, {now.high:.2f}], "
                       f"~{self.predicted_f1(s, 2):.2f} with 2x photos, ~{self.predicted_f1(s, 4):.2f} with 4x "
                       f"({self.city_labelled[s]} labelled)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "learning curve") -> "LearningCurve":
        """The curve `data` describes, every value checked against the rest (each point scores every city,
        every guess is one of them): a damaged or crafted file is one line naming what is wrong, never a
        crash later, when the curve is drawn or the advisor reads it."""
        f = Fields(data, source)
        cities = f.strings("cities")
        if not cities or len(set(cities)) != len(cities):
            raise DamagedFile(f"{source}: cities must be a list of distinct names")
        names, labelled_by_city = f.object("names"), f.object("city_labelled")

        def point(raw: Any, where: str) -> CurvePoint:
            p = Fields(raw, where)
            city_f1, city_images = p.object("city_f1"), p.object("city_images")
            return CurvePoint(_required(p, "fraction", 0.0, 1.0), _required(p, "images", 0.0),
                              _interval(p.object("macro_f1")), {s: _interval(city_f1.object(s)) for s in cities},
                              {s: _required(city_images, s, 0.0) for s in cities})

        points = [point(raw, f"{source}: point {i + 1}") for i, raw in enumerate(f.list("points"))]
        if not points:
            raise DamagedFile(f"{source}: the curve has no points")
        predictions = f.object("predictions")
        for image_id, slug in predictions.data.items():
            if slug not in cities:
                raise DamagedFile(f"{source}: the guess for image {short(image_id)} is not one of its cities")
        return cls(f.str("arch"), f.int("folds", lo=2, hi=1000), cities, {s: names.str(s, s) for s in cities},
                   f.int("labelled", lo=0), {s: labelled_by_city.int(s, lo=0) for s in cities}, points,
                   dict(predictions.data), f.float("seconds", 0.0, 0.0) or 0.0)


def _required(fields: Fields, key: str, lo: float, hi: float | None = None) -> float:
    """A finite number in [lo, hi] that must be there."""
    value = fields.float(key, None, lo, hi)
    if value is None:
        raise DamagedFile(f"{fields.source}: {key} is missing")
    return value


def _interval(fields: Fields) -> Interval:
    """A stored F1 with its interval: three numbers in [0, 1]."""
    return Interval(*(_required(fields, k, 0.0, 1.0) for k in ("value", "low", "high")))


def save_curve(curve: LearningCurve, folder: Path) -> Path:
    """``folder/learning_curve.json`` (written atomically)."""
    path = folder / CURVE_FILE
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(curve.to_dict(), indent=1))
    return path


def reports_folder(project: Project) -> Path:
    """``<project>/reports/``: the curve and the download plan live here (they describe the data, not a model)."""
    return safe_child(project.root, "reports")


def load_current_curve(project: Project) -> LearningCurve | None:
    """The saved curve when it scored exactly the project's labelled (train + val) photos, else None."""
    path = reports_folder(project) / CURVE_FILE
    if not path.is_file():
        return None
    curve = load_curve(path)
    return curve if set(curve.predictions) == {r.id for r in project.images(split=("train", "val"))} else None


def load_curve(path: Path) -> LearningCurve:
    """The curve saved at `path`, read through the typed reader (a FIFO, a huge or deeply nested file: one line)."""
    data = read_json(path, "learning curve", CURVE_MAX_BYTES, missing=None)
    if data is None and not path.is_file():
        raise GeoSpottrError(f"{path}: no learning curve yet (run `geospottr evaluate --learning-curve`)")
    return LearningCurve.from_dict(data, str(path))
