"""Interactive maps as standalone HTML pages that work with no internet (folium + offline Leaflet).

Three pages: the prediction map (one marker per candidate city, sized and coloured by probability, the
top guess highlighted), the dataset map (every geotagged image as a point coloured by city, clustered
when there are many, each city's sampling area) and the two challenge maps (pick a city; reveal).

Offline by construction:

* Leaflet's JS/CSS come from the installed PyPI package ``folium-offline``, which ships them as Python
  strings (a dict keyed by the CDN URL that folium would load). `write_assets` writes the few files we
  use next to the pages, and each `folium.Map` instance gets its own ``default_js``/``default_css``
  pointing at them by relative URL, so folium's class defaults (CDN links) are never touched and no page
  loads anything from a CDN. Pages stay small and a folder of pages can be moved as a whole.
* Every map first draws the Natural Earth country outlines shipped in ``resources/maps`` (public
  domain) on a sea-coloured background; OpenStreetMap tiles (with attribution) are laid on top only once
  one loads. If the first tile fails, the tile layer is removed, so nothing broken is ever shown.
* Pages are always written to a file and returned as a path, because ``QWebEngineView.setHtml`` fails
  above 2 MB; the GUI loads the file URL.

Every label that reaches the page is escaped: names go through ``html.escape`` (Leaflet popups, tooltips
and layer controls insert strings as HTML) and all data goes through `js_json` (safe inside
``<script>``). The JavaScript is plain code in ``resources/maps/geospottr.js`` (with
``geospottr.css``): a page carries only calls into it with JSON data, no code built from strings. The page talks back through ``console.log(BRIDGE_PREFIX + json)`` messages (a click on an
image point, a city picked on the map) that the GUI's map view turns into signals; nothing here is Qt.
"""

from __future__ import annotations

import colorsys
import html
import json
import math
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

from .errors import GeoSpottrError
from .fsutil import atomic_write_text
from .names import city_label

#: Prefix of the console messages a page sends to its host (followed by one JSON object).
BRIDGE_PREFIX = "geospottr-bridge:"
BASEMAP_FILE = "world-countries-110m.geojson"
#: Our page script (every layer's JavaScript) and styles, in ``resources/maps``, copied next to Leaflet.
PAGE_SCRIPT, PAGE_STYLES = "geospottr.js", "geospottr.css"
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
BASEMAP_ATTRIBUTION = "Borders: Natural Earth"
PLACES_ATTRIBUTION = "Places: GeoNames (CC BY 4.0)"
#: Place names drawn on the dataset map: at most this many, the most populous in and around its points.
MAX_PLACE_LABELS = 250
#: Zoom from which a place name shows, by its population rank (the biggest are named from the start).
PLACE_LABEL_ZOOMS = ((12, 0), (40, 6), (100, 8), (MAX_PLACE_LABELS, 10))
SEA, LAND, BORDER = "#b9d3e6", "#f4f1ea", "#9a9a9a"
#: More image points than this are clustered on the dataset map.
CLUSTER_MIN_POINTS = 300

#: Files written by `write_assets`: local name -> pattern of folium-offline's key (a CDN URL).
_ASSETS = {
    "leaflet.js": r"/leaflet@[\d.]+/dist/leaflet\.js$",
    "leaflet.css": r"/leaflet@[\d.]+/dist/leaflet\.css$",
    "markercluster.js": r"/leaflet\.markercluster/[\d.]+/leaflet\.markercluster\.js$",
    "MarkerCluster.css": r"/leaflet\.markercluster/[\d.]+/MarkerCluster\.css$",
    "MarkerCluster.Default.css": r"/leaflet\.markercluster/[\d.]+/MarkerCluster\.Default\.css$",
}


class Place(Protocol):
    """Anything with a city's identity and coordinates (`ClassInfo`, `CityScore`, `project.City`)."""

    slug: str
    name: str
    country: str
    lat: float
    lon: float


class Candidate(Place, Protocol):
    """A ranked city (`prediction.CityScore`)."""

    probability: float


@dataclass(frozen=True)
class ImagePoint:
    """One geotagged image on the dataset map."""

    image_id: str
    lat: float
    lon: float
    city: str  # slug


@dataclass(frozen=True)
class RevealPoint:
    """A point on the challenge reveal map: the truth, or a player's guess with its score."""

    role: str          # "truth" | "human" | "model"
    lat: float
    lon: float
    label: str         # plain text; escaped here


# ---------------------------------------------------------------------------------------------- helpers
def js_json(value: Any) -> str:
    """JSON that is safe to paste inside a ``<script>`` element (no ``</script>``, no HTML entities)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def place_label(place: Place) -> str:
    """``"Name, CC"`` as plain text."""
    return city_label(place.name, place.country)


def city_colors(n: int) -> list[str]:
    """`n` distinct hex colours (golden-angle hues, fixed saturation), the same for the same index."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hls_to_rgb((i * 0.618033988749895) % 1.0, 0.45, 0.70)
        out.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return out


def probability_color(p: float) -> str:
    """Pale yellow (unlikely) through orange to dark red (certain)."""
    stops = [(0.0, (254, 217, 118)), (0.35, (253, 141, 60)), (1.0, (177, 0, 38))]
    p = min(1.0, max(0.0, p))
    for (p0, c0), (p1, c1) in zip(stops, stops[1:]):
        if p <= p1:
            t = (p - p0) / (p1 - p0)
            return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(c0, c1))
    return "#b10026"


def probability_radius(p: float) -> float:
    """Marker radius in px: area grows with probability, and a 1% city is still clickable."""
    return round(6 + 24 * math.sqrt(min(1.0, max(0.0, p))), 1)


@lru_cache(maxsize=None)
def _shipped_text(name: str) -> str:
    """A file of ``resources/maps`` (the basemap, our page script and styles), read once per process."""
    from .resources import resource_path

    path = resource_path("maps", name)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GeoSpottrError(f"{path}: map resource missing ({exc.strerror}); reinstall GeoSpottr") from None


@lru_cache(maxsize=1)
def _leaflet_sources() -> dict[str, str]:
    """Our asset names -> their text, taken from the installed folium-offline package."""
    try:
        from offlinefolium import elements  # the module that holds the embedded resources
    except ImportError:
        raise GeoSpottrError("offline maps need the package folium-offline (pip install folium-offline)") from None
    resources: Mapping[str, str] = getattr(elements, "_res", {})
    out = {}
    for name, pattern in _ASSETS.items():
        match = next((text for url, text in resources.items() if re.search(pattern, url)), None)
        if match is None:
            raise GeoSpottrError(f"folium-offline no longer ships {name}; install folium-offline 0.19 or 0.20")
        out[name] = match
    return out


def write_assets(out_dir: Path) -> Path:
    """Write Leaflet, the cluster plugin, the basemap and our page script and styles into
    ``out_dir/leaflet-<version>/`` (a file only when its text changed).

    Returns that folder. The basemap becomes ``world.js`` (a script setting ``window.GEOSPOTTR_WORLD``):
    a script loads from a ``file://`` page where an XHR of the JSON would be blocked.
    """
    from offlinefolium import __version__ as offline_version

    folder = Path(out_dir) / f"leaflet-{offline_version}"
    files = {**_leaflet_sources(),
             "world.js": "window.GEOSPOTTR_WORLD = " + _shipped_text(BASEMAP_FILE).strip() + ";\n",
             PAGE_SCRIPT: _shipped_text(PAGE_SCRIPT), PAGE_STYLES: _shipped_text(PAGE_STYLES)}
    for name, text in files.items():
        target = folder / name
        data = text.encode("utf-8")
        if not target.exists() or target.stat().st_size != len(data) or target.read_bytes() != data:
            atomic_write_text(target, text)
    return folder


# ---------------------------------------------------------------------------------------------- page base

#: The one script block a page carries per call: ``GeoSpottr.<function>(map, <args as js_json>...)``.
_CALL_TEMPLATE = ("{% macro script(this, kwargs) %}GeoSpottr.{{ this.function }}({{ this._parent.get_name() }}"
                  "{% for arg in this.args %}, {{ arg }}{% endfor %});\n{% endmacro %}")


def _call(function: str, *args: Any):
    """A folium element whose script calls ``GeoSpottr.<function>(map, *args)``, each arg as `js_json`.

    The JavaScript lives in ``resources/maps/geospottr.js`` (plain JS, checked by ``node --check``); a
    page carries only these calls and their data."""
    from branca.element import MacroElement
    from folium.template import Template

    element = MacroElement()
    element._template = Template(_CALL_TEMPLATE)
    element.function = function
    element.args = [js_json(a) for a in args]
    return element


def _base_map(assets: Path, page: Path, online_tiles: bool, cluster: bool = False):
    """A folium map with local Leaflet, the basemap and (optionally) OSM tiles that vanish when offline."""
    import folium

    rel = Path(_relative(assets, page.parent))
    # min/max zoom go to the map itself (folium's min_zoom/max_zoom only reach a tile layer, and there may
    # be none); the cluster plugin needs a maxZoom.
    m = folium.Map(location=[20, 10], zoom_start=2, tiles=None, world_copy_jump=True, control_scale=True,
                   minZoom=1, maxZoom=18)
    # Per instance: the class attributes (CDN URLs) stay as they are for any other folium user.
    m.default_js = [("leaflet", (rel / "leaflet.js").as_posix()), ("geospottr_world", (rel / "world.js").as_posix())]
    m.default_css = [("leaflet_css", (rel / "leaflet.css").as_posix())]
    if cluster:
        m.default_js.append(("markercluster", (rel / "markercluster.js").as_posix()))
        m.default_css += [("markercluster_css", (rel / "MarkerCluster.css").as_posix()),
                          ("markercluster_default_css", (rel / "MarkerCluster.Default.css").as_posix())]
    m.default_js.append(("geospottr", (rel / PAGE_SCRIPT).as_posix()))
    m.default_css.append(("geospottr_css", (rel / PAGE_STYLES).as_posix()))
    m.add_child(_call("page", {"prefix": BRIDGE_PREFIX, "sea": SEA, "land": LAND, "border": BORDER,
                               "attribution": BASEMAP_ATTRIBUTION, "tiles": OSM_TILES if online_tiles else None,
                               "tiles_attribution": OSM_ATTRIBUTION}))
    return m


def _relative(target: Path, start: Path) -> str:
    return os.path.relpath(Path(target).resolve(), Path(start).resolve())


def _save(m, out_path: Path) -> Path:
    out_path = Path(out_path)
    atomic_write_text(out_path, m.get_root().render())
    return out_path


def _layer(m, name: str, **args: Any) -> None:
    """Draw the layer `name` of ``geospottr.js`` (``GeoSpottr.layer(map, name, args)``) on the page."""
    m.add_child(_call("layer", name, args))


# ---------------------------------------------------------------------------------------------- prediction


def prediction_map(candidates: Sequence[Candidate], out_path: Path, assets: Path,
                   online_tiles: bool = True) -> Path:
    """The page for one ranking (best first): a marker per candidate, the top one outlined and labelled.

    `assets` is the folder `write_assets` returned. Returns `out_path`.
    """
    data = []
    for rank, c in enumerate(candidates, start=1):
        name = html.escape(place_label(c))
        data.append({
            "lat": float(c.lat), "lon": float(c.lon), "top": rank == 1,
            "radius": probability_radius(c.probability), "color": probability_color(c.probability),
            "label": f"{rank}. {name} {c.probability:.0%}",
            "popup": f"<b>{name}</b><br>#{rank} &middot; {c.probability:.1%}",
        })
    m = _base_map(assets, Path(out_path), online_tiles)
    # Drawn lowest first so the likelier (bigger) markers sit on top, the best one last.
    _layer(m, "candidates", data=data[::-1])
    return _save(m, out_path)


# ---------------------------------------------------------------------------------------------- dataset


def warm_up(*, on_event: Any = None, control: Any = None) -> None:
    """Load once what every map page needs: folium, the offline Leaflet sources and the GeoNames place
    table. About 1.8 s of the first Dataset map of a session (27,500 photos); the app runs this in a worker
    when the Dataset workspace opens, so the Map tab does not wait for it. Later calls cost nothing."""
    import folium  # noqa: F401 - loaded for the first page, not used here

    from .data.catalog import places_in

    _leaflet_sources()
    places_in(0.0, 0.0, 0.0, 0.0, 1)


def place_labels(cities: Sequence[Any], rows: Sequence[Sequence[Any]], margin: float = 0.5) -> list[list[Any]]:
    """``[name (escaped), lat, lon, min zoom]`` for the most populous catalog places around the cities and
    points (their bounding box grown by `margin` of its size, at least 1 degree), biggest first."""
    from .data.catalog import places_in

    lats = [c.lat for c in cities] + [r[0] for r in rows]
    lons = [c.lon for c in cities] + [r[1] for r in rows]
    if not lats:
        return []
    pad_lat = max(1.0, (max(lats) - min(lats)) * margin)
    pad_lon = max(1.0, (max(lons) - min(lons)) * margin)
    found = places_in(min(lats) - pad_lat, min(lons) - pad_lon, max(lats) + pad_lat, max(lons) + pad_lon,
                      MAX_PLACE_LABELS)
    out = []
    for rank, place in enumerate(found):
        zoom = next(z for limit, z in PLACE_LABEL_ZOOMS if rank < limit)
        out.append([html.escape(place.name), round(place.lat, 4), round(place.lon, 4), zoom])
    return out


def dataset_map(cities: Sequence[Any], points: Iterable[ImagePoint], out_path: Path, assets: Path,
                online_tiles: bool = True, default_radius_km: float = 10.0) -> Path:
    """Every image point coloured by its city (clustered above `CLUSTER_MIN_POINTS`), each city's
    sampling area (its bbox, else a circle of its radius) dashed in the same colour, and the names of the
    places around them (GeoNames, `place_labels`; more as the map zooms in) so a cluster can be placed
    without tiles. A click on a point sends ``{"type": "image", "id": ...}``, hovering it ``{"type":
    "hover", "id": ...}``, and ``geospottrThumb(id, src)`` puts that image's thumbnail in its tooltip.
    `cities` are `project.City` records."""
    colors = city_colors(len(cities))
    index = {c.slug: i for i, c in enumerate(cities)}
    rows = [[round(p.lat, 6), round(p.lon, 6), index[p.city], p.image_id] for p in points if p.city in index]
    counts = [0] * len(cities)
    for row in rows:
        counts[row[2]] += 1
    city_data = []
    for i, c in enumerate(cities):
        name = html.escape(place_label(c))
        radius = c.radius_km if c.radius_km else default_radius_km
        city_data.append({
            "name": name, "color": colors[i], "lat": c.lat, "lon": c.lon, "radius_m": radius * 1000.0,
            "bbox": list(c.bbox) if c.bbox else None,
            "legend": f'<span style="color:{colors[i]}">&#9679;</span> {name} ({counts[i]})',
        })
    cluster = len(rows) > CLUSTER_MIN_POINTS
    m = _base_map(assets, Path(out_path), online_tiles, cluster=cluster)
    _layer(m, "dataset", cities=city_data, points=rows, cluster=cluster, places=place_labels(cities, rows),
           places_attribution=PLACES_ATTRIBUTION)
    return _save(m, out_path)


# ---------------------------------------------------------------------------------------------- challenge



REVEAL_COLORS = {"truth": "#2ca02c", "human": "#1f6feb", "model": "#d62728"}


def pick_map(cities: Sequence[Place], out_path: Path, assets: Path, online_tiles: bool = True) -> Path:
    """The challenge's guessing map: every city clickable (sends ``{"type": "pick", "slug"}``); a click
    elsewhere drops a guess marker there and sends ``{"type": "click", "lat", "lon"}``;
    ``geospottrSelect(slug)`` highlights a city (from the list) and clears the point."""
    data = [{"slug": c.slug, "name": html.escape(place_label(c)), "lat": c.lat, "lon": c.lon} for c in cities]
    m = _base_map(assets, Path(out_path), online_tiles)
    _layer(m, "pick", cities=data)
    return _save(m, out_path)


def recap_map(rounds: Sequence[Sequence[RevealPoint]], out_path: Path, assets: Path,
              online_tiles: bool = True) -> Path:
    """The end of a game: every round's truth (numbered) and both guesses, joined to it by dashed lines;
    each round is the (truth, human, model) points of `reveal_map`, labels shown on hover."""
    data = []
    for number, points in enumerate(rounds, start=1):
        by_role = {p.role: {"lat": p.lat, "lon": p.lon, "label": html.escape(f"Round {number} · {p.label}")}
                   for p in points}
        if "truth" in by_role:
            data.append({"number": number, "truth": by_role["truth"], "human": by_role.get("human"),
                         "model": by_role.get("model")})
    m = _base_map(assets, Path(out_path), online_tiles)
    _layer(m, "recap", rounds=data, colors=REVEAL_COLORS)
    return _save(m, out_path)


def reveal_map(points: Sequence[RevealPoint], out_path: Path, assets: Path, online_tiles: bool = True) -> Path:
    """The round's answer: the true place and each guess, joined to it by a dashed line, labelled."""
    data = [{"role": p.role, "lat": p.lat, "lon": p.lon, "label": html.escape(p.label),
             "color": REVEAL_COLORS.get(p.role, "#555")} for p in points]
    m = _base_map(assets, Path(out_path), online_tiles)
    _layer(m, "reveal", points=data)
    return _save(m, out_path)
