"""Distances on the Earth and the GeoGuessr-style score."""

from __future__ import annotations

import math
import random
from typing import Iterable, Sequence, TypeVar

EARTH_RADIUS_KM = 6371.0088
#: GeoGuessr's world-map scale, as used by PIGEON and OSV-5M: points = 5000 * exp(-d / 1492.7).
GEOGUESSR_SCALE_KM = 1492.7

T = TypeVar("T")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def geoguessr_points(distance_km: float) -> int:
    """Points a GeoGuessr round gives for a guess `distance_km` away (0..5000)."""
    return int(round(5000 * math.exp(-max(0.0, distance_km) / GEOGUESSR_SCALE_KM)))


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
