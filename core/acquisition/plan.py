"""A download plan: how many more photos each city gets and in which of its sub-areas to look for them.

`geospottr advise` (`core.evaluation.advisor`) writes one; `geospottr download --plan PLAN.json` and the app's
Download panel run it through the ordinary downloader: `DownloadPlan.configure` turns it into the
`DownloadConfig` fields it sets (cities, an absolute target per city, weighted sub-areas), so the cost
bound, the resumption and the "never the same point twice" rules are the downloader's own. Targets are
absolute (photos held from the provider when the plan was made + the new ones), so running a plan
again resumes it instead of downloading its photos twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from ..data.catalog import MAX_TARGET, validate_slug
from ..errors import GeoSpottrError
from ..fsutil import atomic_write_text
from ..typed import read_json
from ..values import is_point
from .jobs import PROVIDERS, DownloadConfig
from .sampling import Area

PLAN_VERSION = 1
#: Sub-areas per city: the advisor writes at most 16 (a 4 x 4 grid); a plan with thousands is not one of its.
MAX_AREAS = 256


@dataclass(frozen=True)
class PlannedArea:
    """A sub-area ``(min_lon, min_lat, max_lon, max_lat)``; points are drawn from it in proportion to `weight`."""

    bbox: tuple[float, float, float, float]
    weight: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.bbox[1] + self.bbox[3]) / 2, (self.bbox[0] + self.bbox[2]) / 2


@dataclass(frozen=True)
class PlannedCity:
    slug: str
    new: int          # photos to add
    target: int       # photos from the provider once they are added (what the downloader fills up to)
    areas: tuple[PlannedArea, ...] = ()


@dataclass(frozen=True)
class DownloadPlan:
    provider: str
    cities: tuple[PlannedCity, ...]

    @property
    def photos(self) -> int:
        return sum(c.new for c in self.cities)

    def configure(self, config: DownloadConfig) -> DownloadConfig:
        """`config` with this plan's cities, targets and sub-areas (everything else, keys included, kept)."""
        if config.addresses is not None:
            raise GeoSpottrError("a plan samples its own sub-areas: give --plan or --addresses, not both")
        return replace(config, cities=[c.slug for c in self.cities], per_city=None,
                       targets={c.slug: c.target for c in self.cities},
                       areas={c.slug: [(Area(*a.centre, bbox=a.bbox), a.weight) for a in c.areas]
                              for c in self.cities if c.areas})

    def to_dict(self) -> dict[str, Any]:
        return {"version": PLAN_VERSION, "provider": self.provider,
                "cities": [{"slug": c.slug, "new": c.new, "target": c.target,
                            "areas": [{"bbox": list(a.bbox), "weight": a.weight} for a in c.areas]}
                           for c in self.cities]}

    @classmethod
    def from_dict(cls, data: Any, source: str = "plan") -> "DownloadPlan":
        """The plan `data` describes, every value checked: a damaged file is one line naming what is wrong."""
        def bad(what: str) -> GeoSpottrError:
            return GeoSpottrError(f"{source}: {what}")

        if not isinstance(data, dict) or data.get("version") != PLAN_VERSION:
            raise bad(f"not a download plan (version {PLAN_VERSION} expected)")
        if data.get("provider") not in PROVIDERS:
            raise bad(f"provider must be one of {', '.join(PROVIDERS)}")
        cities: list[PlannedCity] = []
        for entry in data.get("cities") or []:
            try:
                slug, new, target = _slug(entry["slug"], bad), entry["new"], entry["target"]
                if slug in (c.slug for c in cities):
                    raise bad(f"{slug} is planned twice")
                if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_TARGET for n in (new, target)):
                    raise bad(f"{slug}: 'new' and 'target' must be whole numbers of photos")
                areas = []
                if len(entry.get("areas") or []) > MAX_AREAS:
                    raise bad(f"{slug}: more than {MAX_AREAS} sub-areas")
                for area in entry.get("areas") or []:
                    min_lon, min_lat, max_lon, max_lat = (float(v) for v in area["bbox"])
                    weight = float(area["weight"])
                    if not (is_point(min_lat, min_lon) and is_point(max_lat, max_lon) and min_lon < max_lon
                            and min_lat < max_lat and 0 <= weight < float("inf")):
                        raise bad(f"{slug}: an area needs a bbox [min_lon, min_lat, max_lon, max_lat] and a weight >= 0")
                    areas.append(PlannedArea((min_lon, min_lat, max_lon, max_lat), weight))
            except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: a bbox of 1e400
                raise bad("every city needs slug, new, target and areas of bbox and weight") from None
            cities.append(PlannedCity(slug, new, target, tuple(areas)))
        if not cities:
            raise bad("the plan names no city")
        return cls(data["provider"], tuple(cities))


def _slug(value: object, bad: Callable[[str], GeoSpottrError]) -> str:
    """A planned city's slug, through the one slug gate (it names the city's photo folder)."""
    try:
        return validate_slug(value)
    except GeoSpottrError as exc:
        raise bad(str(exc)) from None


def save_plan(plan: DownloadPlan, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(plan.to_dict(), indent=1))
    return path


def load_plan(path: Path) -> DownloadPlan:
    """The plan in file `path`, read through the typed reader: a FIFO, a huge or a deeply nested file is one
    line, like any other damage."""
    path = Path(path).expanduser()
    data = read_json(path, "download plan", missing=None)
    if data is None and not path.is_file():
        raise GeoSpottrError(f"{path}: no such plan (make one with `geospottr advise`)")
    return DownloadPlan.from_dict(data, str(path))
