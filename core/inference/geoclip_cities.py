"""GeoCLIP's GPS distribution as the project's cities, and the checks made before its model is loaded.

GeoCLIP (`pip install "geospottr[geoclip]"`, the `geoclip` package) scores a photo against a gallery of
100,000 GPS points spread over the world; the softmax over the gallery is a distribution of where the
photo was taken (`core.inference.geoclip_zero_shot` computes it). This module, torch-free, turns it into
the project's cities:

**The rule.** Every gallery point belongs to the project city nearest to it (great-circle distance,
`core.geo.haversine_km`) if it lies within that city's *reach*, else to "elsewhere". A city's probability is
the mass of its points; the cities' probabilities and the elsewhere mass sum to 1, so the ranked cities
sum to at most 1 and "elsewhere" is reported next to them. A city's reach is its sampling area in the
project (its ``radius_km``; a bbox city: the distance from its centre to the box's farthest corner; neither:
`core.geo.DEFAULT_CITY_REACH_KM`), but never less than `CITY_SCALE_KM` (25 km, the "city" threshold of the
geolocation benchmarks GeoCLIP is measured on): the gallery is sparse (about 35 points within 25 km of
Zagreb, 2 of Osijek, 5 of Rijeka), so a 10 km disc could hold no point at all and a city would get nothing
however sure the model is of its region.

The most likely gallery points themselves (`GpsGuess`, best first) come with the nearest project city and
their distance to it, so a user sees the point GeoCLIP would answer and how far it is from the project.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import GeoSpottrError
from ..geo import DEFAULT_CITY_REACH_KM, EARTH_RADIUS_KM, haversine_km
from .results import CityClass, GpsGuess

#: GeoCLIP's image backbone on the Hugging Face hub (CLIP ViT-L/14); `--weights DIR` gives a local copy.
DEFAULT_BACKBONE = "openai/clip-vit-large-patch14"
INSTALL = 'pip install "geospottr[geoclip]"'
#: A city's reach is never less than this (km): the "city" threshold of the geolocation benchmarks.
CITY_SCALE_KM = 25.0
#: How many of the most likely gallery points a prediction keeps (`Prediction.gps`).
GPS_TOP_K = 5


def city_reach_km(city: Any) -> float:
    """How far from `city`'s centre a gallery point still counts for it (see the module docstring)."""
    radius = getattr(city, "radius_km", None)
    bbox = getattr(city, "bbox", None)
    if radius:
        reach = float(radius)
    elif bbox:
        west, south, east, north = bbox
        reach = max(haversine_km(city.lat, city.lon, lat, lon) for lat in (south, north) for lon in (west, east))
    else:
        reach = DEFAULT_CITY_REACH_KM
    return max(reach, CITY_SCALE_KM)


def _distances_km(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Haversine distances of many points to one (the vectorised `core.geo.haversine_km`)."""
    p1, p2 = np.radians(lat), math.radians(lat0)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(np.radians(lon0 - lon) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def assign_gallery(gallery: np.ndarray, classes: Sequence[CityClass], reaches_km: Sequence[float]) -> np.ndarray:
    """For each `(lat, lon)` row of `gallery`: the index of the class it counts for, or -1 (elsewhere)."""
    if len(classes) != len(reaches_km):
        raise ValueError("one reach per class")
    gallery = np.asarray(gallery, dtype=np.float64)
    owner = np.full(len(gallery), -1, dtype=np.int64)
    if not len(classes):
        return owner
    dist = np.stack([_distances_km(gallery[:, 0], gallery[:, 1], c.lat, c.lon) for c in classes], axis=1)
    nearest = dist.argmin(axis=1)
    inside = dist[np.arange(len(gallery)), nearest] <= np.asarray(reaches_km, dtype=np.float64)[nearest]
    owner[inside] = nearest[inside]
    return owner


def city_mass(gallery_probs: np.ndarray, owner: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """`(n, classes)` city probabilities and `(n,)` elsewhere masses from `(n, gallery)` distributions."""
    probs = np.asarray(gallery_probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    inside = owner >= 0
    cities = np.stack([np.bincount(owner[inside], weights=row[inside], minlength=classes) for row in probs])
    return cities, np.clip(1.0 - cities.sum(axis=1), 0.0, 1.0)


def gps_guesses(gallery: np.ndarray, probs: np.ndarray, classes: Sequence[CityClass],
                top_k: int = GPS_TOP_K) -> tuple[GpsGuess, ...]:
    """The `top_k` most likely gallery points of one distribution, each with its nearest project city."""
    order = np.argsort(-np.asarray(probs), kind="stable")[:top_k]
    return tuple(guess(float(gallery[i, 0]), float(gallery[i, 1]), float(probs[i]), classes) for i in order)


def guess(lat: float, lon: float, probability: float, classes: Sequence[CityClass]) -> GpsGuess:
    """A `GpsGuess` at (lat, lon), measured to the nearest of `classes`."""
    km, city = min(((haversine_km(lat, lon, c.lat, c.lon), c) for c in classes), key=lambda t: t[0])
    return GpsGuess(lat, lon, probability, city.slug, city.name, city.country, km)


# ---------------------------------------------------------------------- before loading
def check_installed() -> None:
    """One line naming the extra when the geoclip package (or transformers) is missing; imports nothing."""
    missing = [name for name in ("geoclip", "transformers", "pandas") if importlib.util.find_spec(name) is None]
    if missing:
        raise GeoSpottrError(f"--zero-shot geoclip needs the {' and '.join(missing)} package"
                             f"{'s' if len(missing) > 1 else ''}: {INSTALL}")


def check_backbone(weights: str | None) -> str:
    """The backbone to load: a local CLIP folder (checked to hold a model and its image processor) or a hub
    name, the hub asked first (2 s) so that offline is one line instead of the hub client's 30 s of retries."""
    from ..network import hub_source  # requests: only when a backbone is about to load

    source = hub_source(weights or DEFAULT_BACKBONE, DEFAULT_BACKBONE, "GeoCLIP's CLIP backbone")
    if isinstance(source, Path):
        missing = [f for f in ("config.json", "preprocessor_config.json") if not (source / f).is_file()]
        if missing:
            raise GeoSpottrError(f"{source}: not a CLIP model folder (no {' or '.join(missing)}; save it with "
                                 "save_pretrained or `hf download NAME --local-dir DIR`)")
    return str(source)


def gallery_key() -> str:
    """What the cached gallery features depend on: the package's location-encoder weights and gallery file."""
    spec = importlib.util.find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        raise GeoSpottrError(f"GeoCLIP is not installed: {INSTALL}")
    model = Path(next(iter(spec.submodule_search_locations))) / "model"
    digest = hashlib.sha256()
    for part in ("weights/location_encoder_weights.pth", "gps_gallery/coordinates_100K.csv"):
        with open(model / part, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:20]


def gallery_cache(key: str) -> Path:
    """Where the gallery's location features are kept between runs (the user's cache folder)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("GeoSpottr", appauthor=False)) / "geoclip" / f"gallery-{key}.npy"
