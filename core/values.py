"""The numbers users, files and servers hand us: one strict decimal syntax and one coordinate rule.

Python's ``float()`` is far more generous than a data file or a command line should be: it takes
``nan``, ``inf``, ``1e999`` (infinity), ``4_5.8`` (digit grouping) and non-ASCII digits (``٤٥``). A
value like that stored as a photo's latitude or used as a timeout breaks maps, distances, splits and
sleeps much later, far from where it came in. So every decimal read from text goes through
`parse_decimal`, and every coordinate the app stores (an import, a download answer, a city, a guess)
through `checked_point`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import GeoSpottrError

#: Plain decimal notation, ASCII digits only: ``-12``, ``0.5``, ``.5``, ``5.``, ``1e-3``. No ``nan``,
#: ``inf``, underscores, hex or surrounding text.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SHOWN = 40


class BadValue(GeoSpottrError):
    """A number that is no number, not finite, or outside the range its meaning allows."""


def parse_decimal(text: str, what: str = "value") -> float:
    """`text` (surrounding spaces allowed) as a finite float in plain decimal notation, or `BadValue`
    naming `what`."""
    stripped = text.strip()
    shown = stripped[:_SHOWN]
    if _DECIMAL.fullmatch(stripped):
        number = float(stripped)
        if math.isfinite(number):
            return number
        raise BadValue(f"{what} is not a finite number ({shown!r})")  # 1e999
    try:
        number = float(stripped)
    except ValueError:
        raise BadValue(f"{what} has a non-number {shown!r}") from None
    if not math.isfinite(number):
        raise BadValue(f"{what} is not a finite number ({shown!r})")  # nan, inf, -Infinity
    raise BadValue(f"{what} {shown!r} is not a plain decimal number (digits, a point, an optional exponent)")


def finite(value: Any, what: str = "value") -> float:
    """`value` (an int or float, never a bool or text) as a finite float, or `BadValue`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadValue(f"{what} must be a number (got {str(value)[:_SHOWN]!r})")
    number = float(value)
    if not math.isfinite(number):
        raise BadValue(f"{what} must be a finite number (got {number})")
    return number


def is_point(lat: float, lon: float) -> bool:
    """Whether (lat, lon) is a place on Earth: finite, latitude in -90..90, longitude in -180..180."""
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def checked_point(lat: Any, lon: Any, what: str = "coordinates") -> tuple[float, float]:
    """(lat, lon) as floats when they are a place on Earth (`is_point`), else `BadValue` naming `what`."""
    lat, lon = finite(lat, f"{what}: latitude"), finite(lon, f"{what}: longitude")
    if not is_point(lat, lon):
        raise BadValue(f"{what} {lat:g}, {lon:g}: not a point on the Earth "
                       f"(outside latitude -90..90, longitude -180..180)")
    return lat, lon
