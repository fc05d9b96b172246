"""What to collect next: rank the cities by the macro F1 a new photo of them is expected to buy, and plan where.

Inputs are the project's learning curve (`core.evaluation.curves.LearningCurve`: per-city power laws and the
out-of-fold guess for every labelled photo) and its photos' coordinates. Per city:

* **gain**: the macro F1 that `STEP` more photos are expected to add, from the city's power law
  (``(F1_c(n + STEP) - F1_c(n)) / cities``). A city whose F1 is low and whose photos are few gains most:
  the curve's common exponent says how fast errors fall, the city's level says how many there are.
  Per dollar it is the same order (every photo of one provider costs the same); the cost of the plan is
  the downloader's own bound (`core.acquisition.jobs.estimate_cost`).
* **mistaken for**: the cities its photos are guessed as (out of fold), the confusion pairs to break.
* **where**: its region (its area and where its photos are, cells nearer to it than to any other city:
  `sampling.Region`) cut into a `GRID` x `GRID` grid; a cell's need is its smoothed error rate,
  ``(errors + 1) / (photos + 2)``: a cell with many mistakes needs photos, a cell with many photos and
  few mistakes does not, and a cell with no photo at all (far from every sampled point) gets 1/2, more
  than a well-covered one. The plan samples the city's new photos in its neediest cells, by need.

The photos are handed out `STEP` at a time to the city with the largest next gain (gains shrink as a
city grows), so the plan spreads over cities only as far as their curves justify.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Sequence

from ..acquisition.jobs import CostEstimate, DownloadConfig, estimate_cost
from ..acquisition.jobs import plan as download_plan
from ..acquisition.plan import DownloadPlan, PlannedArea, PlannedCity
from ..acquisition.sampling import Area, Region
from ..data.project import City, Project
from ..errors import GeoSpottrError
from .curves import Interval, LearningCurve

#: Cells per side of the grid laid over a city's area.
GRID = 4
#: Photos handed out at a time (and the size of the gain reported per city).
STEP = 10
#: Sub-areas per city that a plan samples in.
AREAS_PER_CITY = 3
DEFAULT_PHOTOS = 100
PLAN_FILE = "download_plan.json"


@dataclass(frozen=True)
class Cell:
    """One grid cell of a city's area: its photos, how many of them the model got wrong, and its need."""

    bbox: tuple[float, float, float, float]
    photos: int
    errors: int

    @property
    def need(self) -> float:
        return (self.errors + 1) / (self.photos + 2)


@dataclass(frozen=True)
class CityAdvice:
    slug: str
    name: str
    labelled: int
    f1_now: Interval                     # out of fold, every fold at 100%
    f1_2x: float                         # the curve's F1 with twice its labelled photos
    gain: float                          # macro F1 expected from STEP more photos of this city
    mistaken_for: list[tuple[str, float]]  # (slug, share of this city's photos guessed as it)
    cells: list[Cell]                    # neediest first
    new: int = 0                         # photos the plan gives it
    have: int = 0                        # photos held from the provider (what the plan's target adds to)


@dataclass
class Advice:
    provider: str
    photos: int
    cities: list[CityAdvice]             # ranked: largest gain first
    estimate: CostEstimate | None = None
    names: dict[str, str] = field(default_factory=dict)

    def plan(self) -> DownloadPlan:
        return DownloadPlan(self.provider, tuple(
            PlannedCity(c.slug, c.new, c.have + c.new,
                        tuple(PlannedArea(cell.bbox, round(cell.need, 4)) for cell in c.cells[:AREAS_PER_CITY]))
            for c in self.cities if c.new))

    def step_cost(self) -> str:
        """What `STEP` photos cost at most under the plan's bound (" ($0.09 at most)"), "" when free or unknown:
        with one price per photo the ranking by gain is the ranking by gain per dollar."""
        e = self.estimate
        if e is None or not e.billed or not e.images:
            return ""
        return f" (${e.cost / e.images * STEP:,.2f} at most)"

    def lines(self) -> list[str]:
        out = [f"cities ranked by the macro F1 that {STEP} more photos should add (learning curve, out-of-fold "
               "guesses, where the mistakes lie):"]
        for rank, c in enumerate(self.cities, 1):
            confused = ", ".join(f"{self.names.get(s, s)} {share:.0%}" for s, share in c.mistaken_for[:2]) or "nothing"
            out.append(f"{rank:>2}. {c.name}: F1 {c.f1_now.value:.2f} now, ~{c.f1_2x:.2f} with 2x photos "
                       f"({c.labelled} labelled); +{c.gain * 100:.2f} macro-F1 points per {STEP} photos"
                       f"{self.step_cost()}; "
                       f"mistaken for {confused}")
            for cell in c.cells[:AREAS_PER_CITY] if c.new else ():
                lat, lon = (cell.bbox[1] + cell.bbox[3]) / 2, (cell.bbox[0] + cell.bbox[2]) / 2
                out.append(f"      around {lat:.3f}, {lon:.3f}: {cell.photos} photos, {cell.errors} wrong")
        plan = ", ".join(f"{c.name} +{c.new}" for c in self.cities if c.new)
        out.append(f"plan ({self.provider}): {self.photos} new photos: {plan or 'none'}")
        if self.estimate is not None:
            out.append(self.estimate.describe())
        return out


def city_cells(city: City, cities: Sequence[City], points: Sequence[tuple[float, float, bool]],
               grid: int = GRID) -> list[Cell]:
    """The cells of a `grid` x `grid` grid over `city`'s area and its (lat, lon, wrong) photos whose centre
    lies in its `Region`, with the photos in each, neediest first (ties: fewer photos first)."""
    min_lon, min_lat, max_lon, max_lat = Area.of(city).bounds
    for lat, lon, _ in points:
        min_lon, min_lat, max_lon, max_lat = min(min_lon, lon), min(min_lat, lat), max(max_lon, lon), max(max_lat, lat)
    dlon, dlat = (max_lon - min_lon) / grid, (max_lat - min_lat) / grid
    photos: Counter = Counter()
    errors: Counter = Counter()
    for lat, lon, wrong in points:
        i, j = min(grid - 1, math.floor((lon - min_lon) / dlon)), min(grid - 1, math.floor((lat - min_lat) / dlat))
        photos[i, j] += 1
        errors[i, j] += wrong
    region = Region(city, cities)
    cells = []
    for i in range(grid):
        for j in range(grid):
            bbox = (min_lon + i * dlon, min_lat + j * dlat, min_lon + (i + 1) * dlon, min_lat + (j + 1) * dlat)
            if photos[i, j] or region.contains((bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2):
                cells.append(Cell(bbox, photos[i, j], errors[i, j]))
    return sorted(cells, key=lambda c: (-c.need, c.photos))


def allocate(curve: LearningCurve, photos: int, step: int = STEP) -> dict[str, int]:
    """`photos` handed out `step` at a time, each to the city whose next step adds the most macro F1."""
    new = {s: 0 for s in curve.cities}
    laws = {s: curve.city_law(s) for s in curve.cities}

    def next_gain(slug: str) -> float:
        n = curve.city_labelled[slug] + new[slug]
        return laws[slug].f1(n + step) - laws[slug].f1(n)

    left = photos
    while left > 0:
        best = max(curve.cities, key=lambda s: (next_gain(s), -curve.city_labelled[s]))
        new[best] += min(step, left)
        left -= step
    return new


def advise(project: Project, curve: LearningCurve, photos: int = DEFAULT_PHOTOS,
           download: DownloadConfig | None = None) -> Advice:
    """Rank the curve's cities and plan `photos` new ones (cities, sub-areas, and the downloader's cost bound
    for them under `download`: its provider, price and budget; default Street View at the list price)."""
    if photos < 0:
        raise GeoSpottrError("--photos cannot be negative")
    records = {r.id: r for r in project.images(split=("train", "val"))}
    if set(curve.predictions) - set(records):
        raise GeoSpottrError("the learning curve is older than the project's photos or split: measure it again "
                             "(`geospottr evaluate --learning-curve`, or advise --refresh)")
    k = len(curve.cities)
    new = allocate(curve, photos)
    cities = {c.slug: c for c in project.cities()}
    config = replace(download or DownloadConfig(), cities=None, per_city=None, targets=None, areas=None, addresses=None)
    have = {p.slug: p.have for p in download_plan(project, config)}
    advice = []
    for slug in curve.cities:
        mine = [records[i] for i in curve.predictions if records[i].city_slug == slug]
        guessed = Counter(curve.predictions[r.id] for r in mine if curve.predictions[r.id] != slug)
        law = curve.city_law(slug)
        n = curve.city_labelled[slug]
        points = [(r.lat, r.lon, curve.predictions[r.id] != slug) for r in mine if r.lat is not None and r.lon is not None]
        advice.append(CityAdvice(
            slug, curve.names.get(slug, slug), n, curve.points[-1].city_f1[slug], curve.predicted_f1(slug, 2),
            (law.f1(n + STEP) - law.f1(n)) / k, [(s, c / len(mine)) for s, c in guessed.most_common()],
            city_cells(cities[slug], list(cities.values()), points) if slug in cities else [], new[slug],
            have.get(slug, 0)))
    advice.sort(key=lambda c: -c.gain)
    result = Advice(config.provider, photos, advice, names=curve.names)
    if photos:
        result.estimate = estimate_cost(project, result.plan().configure(config))
    return result
