"""Distances on the Earth and the GeoGuessr-style score, scaled to the map played on.

GeoGuessr scores a guess ``5000 * exp(-10 * d / D)`` where D is the size (bounding-box diagonal) of the
map: on the world map D is about 14,927 km, which is the ``exp(-d / 1492.7)`` published benchmarks
(PIGEON, OSV-5M) use. A project whose cities span a few hundred km is a small map: scored with the
world's D a guess 400 km off would still earn 3,800 of 5,000, so the challenge scores with the project's
own D (`play_area_km`) and `evaluate` reports the world figure, labelled, for comparison.
"""

from __future__ import annotations

import math
import random
from typing import Iterable, Sequence, TypeVar

EARTH_RADIUS_KM = 6371.0088
#: GeoGuessr's world-map scale, as used by PIGEON and OSV-5M: points = 5000 * exp(-d / 1492.7).
GEOGUESSR_SCALE_KM = 1492.7
#: The world map's diagonal in GeoGuessr's formula (5000 * exp(-10 * d / D) with this D is the above).
WORLD_DIAGONAL_KM = 10 * GEOGUESSR_SCALE_KM
#: The smallest play area: one small town must not turn a 1 km miss into a poor score.
MIN_PLAY_AREA_KM = 10.0
#: A city's reach around its centre when it has no radius of its own.
DEFAULT_CITY_REACH_KM = 10.0

T = TypeVar("T")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def geoguessr_points(distance_km: float) -> int:
    """Points a GeoGuessr round on the world map gives for a guess `distance_km` away (0..5000)."""
    return scaled_points(distance_km, WORLD_DIAGONAL_KM)


def scaled_points(distance_km: float, diagonal_km: float) -> int:
    """GeoGuessr points on a map whose bounding-box diagonal is `diagonal_km`: 5000 * exp(-10 d / D)."""
    return int(round(5000 * math.exp(-10 * max(0.0, distance_km) / max(diagonal_km, MIN_PLAY_AREA_KM))))


def describe_scale(diagonal_km: float) -> str:
    """One line saying how points were scaled (shown with challenge scores, in the GUI and the terminal)."""
    if diagonal_km >= WORLD_DIAGONAL_KM:
        return f"points on the world map's scale: 5000 × exp(−d / {GEOGUESSR_SCALE_KM:,.0f} km)"
    return (f"points scaled to this project's map ({diagonal_km:,.0f} km across its cities): "
            f"5000 × exp(−10 d / {diagonal_km:,.0f} km)")


def play_area_km(places: Iterable, reach=lambda p: getattr(p, "radius_km", None)) -> float:
    """D for `scaled_points`: the diagonal of the bounding box of `places` (each widened by its radius).

    A play area that spans half the globe or more (longitudes over 180 degrees apart, or a diagonal as
    long as the world map's) is the world map. Never below `MIN_PLAY_AREA_KM`.
    """
    lats: list[float] = []
    lons: list[float] = []
    for place in places:
        km = reach(place) or DEFAULT_CITY_REACH_KM
        dlat = math.degrees(km / EARTH_RADIUS_KM)
        dlon = dlat / max(math.cos(math.radians(place.lat)), 0.01)
        lats += [place.lat - dlat, place.lat + dlat]
        lons += [place.lon - dlon, place.lon + dlon]
    if not lats:
        return WORLD_DIAGONAL_KM
    if max(lons) - min(lons) > 180:
        return WORLD_DIAGONAL_KM
    south, north = max(min(lats), -90.0), min(max(lats), 90.0)
    diagonal = haversine_km(south, min(lons), north, max(lons))
    return min(max(diagonal, MIN_PLAY_AREA_KM), WORLD_DIAGONAL_KM)


def nearest(lat: float, lon: float, places: Iterable[T], key=lambda p: (p.lat, p.lon)) -> tuple[T, float]:
    """The place closest to (lat, lon) and its distance in km. Raises ValueError on no places."""
    best: T | None = None
    best_d = math.inf
    for place in places:
        plat, plon = key(place)
        d = haversine_km(lat, lon, plat, plon)
        if d < best_d:
            best, best_d = place, d
    if best is None:
        raise ValueError("no places to compare with")
    return best, best_d


def destination(lat: float, lon: float, bearing_deg: float, distance_km: float) -> tuple[float, float]:
    """The point `distance_km` from (lat, lon) along `bearing_deg` (great circle)."""
    d = distance_km / EARTH_RADIUS_KM
    b = math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


def random_point_in_radius(lat: float, lon: float, radius_km: float, rng: random.Random) -> tuple[float, float]:
    """A point uniformly distributed over the disc of `radius_km` around (lat, lon).

    The distance is ``R * sqrt(u)``: drawing it uniformly would crowd points near the centre.
    """
    return destination(lat, lon, rng.uniform(0.0, 360.0), radius_km * math.sqrt(rng.random()))


def random_point_in_bbox(bbox: Sequence[float], rng: random.Random) -> tuple[float, float]:
    """A point uniform in area inside ``(min_lon, min_lat, max_lon, max_lat)``."""
    min_lon, min_lat, max_lon, max_lat = bbox
    # Uniform in sin(lat) so that areas near the poles are not oversampled.
    s = rng.uniform(math.sin(math.radians(min_lat)), math.sin(math.radians(max_lat)))
    return math.degrees(math.asin(s)), rng.uniform(min_lon, max_lon)
