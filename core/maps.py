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
``<script>``). The page talks back through ``console.log(BRIDGE_PREFIX + json)`` messages (a click on an
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

#: Prefix of the console messages a page sends to its host (followed by one JSON object).
BRIDGE_PREFIX = "geospottr-bridge:"
BASEMAP_FILE = "world-countries-110m.geojson"
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
    return f"{place.name}, {place.country}" if place.country else place.name


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


@lru_cache(maxsize=1)
def _basemap_text() -> str:
    from .resources import resource_path

    path = resource_path("maps", BASEMAP_FILE)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GeoSpottrError(f"{path}: world basemap missing ({exc.strerror}); reinstall GeoSpottr") from None


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
    """Write Leaflet, the cluster plugin and the basemap into ``out_dir/leaflet-<version>/`` (once).

    Returns that folder. The basemap becomes ``world.js`` (a script setting ``window.GEOSPOTTR_WORLD``):
    a script loads from a ``file://`` page where an XHR of the JSON would be blocked.
    """
    from offlinefolium import __version__ as offline_version

    folder = Path(out_dir) / f"leaflet-{offline_version}"
    files = {**_leaflet_sources(), "world.js": "window.GEOSPOTTR_WORLD = " + _basemap_text().strip() + ";\n"}
    for name, text in files.items():
        target = folder / name
        if not target.exists() or target.stat().st_size != len(text.encode("utf-8")):
            atomic_write_text(target, text)
    return folder


# ---------------------------------------------------------------------------------------------- page base
_PAGE_JS = """
{% macro header(this, kwargs) %}
<style>
  .leaflet-container { background: {{ this.sea }}; }
  .gs-label { font-weight: 600; }
  .leaflet-tooltip.gs-name { font-size: 11px; padding: 1px 5px; }
  .gs-place { color: #444; font: 11px/13px sans-serif; white-space: nowrap; text-shadow: 0 0 2px #fff,
    0 0 2px #fff; pointer-events: none; }
  .gs-place span { display: inline-block; width: 4px; height: 4px; margin-right: 3px; border-radius: 2px;
    background: #555; vertical-align: middle; }
  .gs-thumb img { display: block; max-width: 160px; max-height: 160px; margin-bottom: 2px; }
  .leaflet-tooltip.gs-reveal-label { white-space: nowrap; font-size: 12px; padding: 2px 6px; }
  .leaflet-tooltip.gs-round { background: transparent; border: 0; box-shadow: none; color: #fff;
                              font-weight: 700; font-size: 10px; padding: 0; }
  .gs-cluster div { width: 30px; height: 30px; margin: 2px; border-radius: 50%; color: #fff;
    font: 600 12px/30px sans-serif; text-align: center; border: 2px solid rgba(255,255,255,.85);
    box-shadow: 0 0 4px rgba(0,0,0,.4); }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
window.geospottrSend = function (msg) { console.log({{ this.prefix }} + JSON.stringify(msg)); };
(function (map) {
  window.geospottrMap = map;
  map.createPane('basemap').style.zIndex = 150;
  map.attributionControl.setPrefix(false);
  L.geoJSON(window.GEOSPOTTR_WORLD, {pane: 'basemap', interactive: false, attribution: {{ this.attribution }},
    style: {color: {{ this.border }}, weight: 0.7, fillColor: {{ this.land }}, fillOpacity: 1}}).addTo(map);
  document.body.dataset.tiles = 'none';
  {% if this.tiles %}
  var tiles = L.tileLayer({{ this.tiles }}, {maxZoom: 19, attribution: {{ this.tiles_attribution }},
    className: 'gs-tiles'}).addTo(map);
  var loaded = false;
  document.body.dataset.tiles = 'loading';
  tiles.on('tileload', function () { loaded = true; document.body.dataset.tiles = 'online'; });
  tiles.on('tileerror', function () {
    if (!loaded) { map.removeLayer(tiles); document.body.dataset.tiles = 'offline'; }
  });
  {% endif %}
  // Fit to `bounds` now and again whenever the view is resized (a page is often built while its
  // widget is hidden), until the user moves the map.
  var fit = null;
  // `padding` (optional): a function giving {tl: [x, y], br: [x, y]} pixels to keep free around the
  // points (labels), measured at each fit since labels are sized only once drawn.
  window.geospottrFit = function (bounds, maxZoom, padding) {
    fit = function () {
      if (bounds.length === 0) { map.setView([20, 10], 2); return; }
      if (padding) {
        map.options.zoomSnap = 0.25;  // finer zoom steps: the labels' room is kept without zooming far out
        var size = map.getSize(), pad = padding();
        // Never more padding than the view has: the points keep at least a fifth of each direction.
        var sx = Math.min(1, 0.8 * size.x / Math.max(1, pad.tl[0] + pad.br[0]));
        var sy = Math.min(1, 0.8 * size.y / Math.max(1, pad.tl[1] + pad.br[1]));
        map.fitBounds(L.latLngBounds(bounds), {maxZoom: maxZoom, animate: false,
          paddingTopLeft: [pad.tl[0] * sx, pad.tl[1] * sy], paddingBottomRight: [pad.br[0] * sx, pad.br[1] * sy]});
        return;
      }
      map.fitBounds(L.latLngBounds(bounds).pad(0.15), {maxZoom: maxZoom, animate: false});
    };
    fit();
  };
  map.on('resize', function () { if (fit) fit(); });
  map.on('dragstart', function () { fit = null; });
})({{ this._parent.get_name() }});
{% endmacro %}
"""


def _element(template: str, **attrs: Any):
    """A folium MacroElement rendering `template` with `attrs` (already escaped/serialised)."""
    from branca.element import MacroElement
    from folium.template import Template

    element = MacroElement()
    element._template = Template(template)
    for key, value in attrs.items():
        setattr(element, key, value)
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
    m.add_child(_element(_PAGE_JS, prefix=js_json(BRIDGE_PREFIX), sea=SEA, land=js_json(LAND),
                         border=js_json(BORDER), attribution=js_json(BASEMAP_ATTRIBUTION),
                         tiles=js_json(OSM_TILES) if online_tiles else "",
                         tiles_attribution=js_json(OSM_ATTRIBUTION)))
    return m


def _relative(target: Path, start: Path) -> str:
    return os.path.relpath(Path(target).resolve(), Path(start).resolve())


def _save(m, out_path: Path) -> Path:
    out_path = Path(out_path)
    atomic_write_text(out_path, m.get_root().render())
    return out_path


def _layer(m, template: str, **attrs: Any) -> None:
    """Add a script block that receives the Leaflet map as ``map``."""
    m.add_child(_element("{% macro script(this, kwargs) %}(function (map) {" + template
                         + "})({{ this._parent.get_name() }});{% endmacro %}", **attrs))


# ---------------------------------------------------------------------------------------------- prediction
_CANDIDATES_JS = """
  var data = {{ this.data }};
  var layer = L.featureGroup().addTo(map);
  data.forEach(function (d) {
    var marker = L.circleMarker([d.lat, d.lon], {
      radius: d.radius, color: d.top ? '#111' : '#555', weight: d.top ? 3 : 1,
      fillColor: d.color, fillOpacity: 0.85, className: d.top ? 'gs-candidate gs-top' : 'gs-candidate'});
    marker.bindPopup(d.popup);
    // Labels stay on: with no tiles there are no place names on the map. 'auto' keeps them inside.
    marker.bindTooltip(d.label, {permanent: true, direction: 'auto', offset: [d.radius * 0.7, 0],
                                 className: d.top ? 'gs-label' : 'gs-name'});
    marker.addTo(layer);
  });
  window.geospottrCandidates = layer;
  window.geospottrFit(data.map(function (d) { return [d.lat, d.lon]; }), 7);
"""


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
            "label": f"{rank}. {html.escape(c.name)} {c.probability:.0%}",
            "popup": f"<b>{name}</b><br>#{rank} &middot; {c.probability:.1%}",
        })
    m = _base_map(assets, Path(out_path), online_tiles)
    # Drawn lowest first so the likelier (bigger) markers sit on top, the best one last.
    _layer(m, _CANDIDATES_JS, data=js_json(data[::-1]))
    return _save(m, out_path)


# ---------------------------------------------------------------------------------------------- dataset
_DATASET_JS = """
  var cities = {{ this.cities }}, points = {{ this.points }}, cluster = {{ this.cluster }};
  var places = {{ this.places }};
  var overlays = {}, bounds = [], markers = {};
  cities.forEach(function (c) {
    var group;
    if (cluster) {
      group = L.markerClusterGroup({showCoverageOnHover: false, maxClusterRadius: 40,
        iconCreateFunction: function (cl) {
          return L.divIcon({html: '<div style="background:' + c.color + '">' + cl.getChildCount() + '</div>',
                            className: 'gs-cluster', iconSize: L.point(34, 34)});
        }});
    } else {
      group = L.featureGroup();
    }
    c.group = group;
    group.addTo(map);
    overlays[c.legend] = group;
    var area = c.bbox ? L.rectangle([[c.bbox[1], c.bbox[0]], [c.bbox[3], c.bbox[2]]], {})
                      : L.circle([c.lat, c.lon], {radius: c.radius_m});
    area.setStyle({color: c.color, weight: 2, dashArray: '6 4', fillOpacity: 0.06, interactive: false,
                   className: 'gs-area'});
    area.addTo(map);
    bounds.push(area.getBounds().getNorthEast(), area.getBounds().getSouthWest());
  });
  points.forEach(function (p) {
    var c = cities[p[2]];
    var marker = L.circleMarker([p[0], p[1]], {radius: 5, color: '#fff', weight: 1, fillColor: c.color,
                                               fillOpacity: 0.9, className: 'gs-point'});
    // Hovering asks the host for the image's thumbnail, which it hands back through geospottrThumb.
    marker.bindTooltip(c.name, {className: 'gs-thumb'});
    marker.on('mouseover', function () { window.geospottrSend({type: 'hover', id: p[3]}); });
    marker.on('click', function () { window.geospottrSend({type: 'image', id: p[3]}); });
    markers[p[3]] = {marker: marker, name: c.name};
    c.group.addLayer(marker);
    bounds.push([p[0], p[1]]);
  });
  window.geospottrThumb = function (id, src) {
    var m = markers[id];
    if (!m) return;
    var box = document.createElement('div'), img = document.createElement('img'), name = document.createElement('div');
    img.src = src;
    name.innerHTML = m.name;  // already escaped
    box.appendChild(img);
    box.appendChild(name);
    m.marker.setTooltipContent(box);
  };
  // Place names (GeoNames) under the points, more of them as the map zooms in.
  map.createPane('places').style.zIndex = 350;
  var placeLayers = places.map(function (p) {
    return {zoom: p[3], chars: p[0].length, layer: L.marker([p[1], p[2]], {pane: 'places', interactive: false,
      keyboard: false,
      icon: L.divIcon({className: 'gs-place', html: '<span></span>' + p[0], iconSize: null, iconAnchor: [3, 7]})})};
  });
  function showPlaces() {
    // Biggest first; a name that would overlap one already shown waits for a closer zoom.
    var z = map.getZoom(), taken = [];
    placeLayers.forEach(function (p) {
      var show = z >= p.zoom;
      if (show) {
        var at = map.latLngToLayerPoint(p.layer.getLatLng());
        var box = [at.x - 4, at.y - 8, at.x + 6.5 * p.chars + 10, at.y + 8];
        show = !taken.some(function (b) { return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]; });
        if (show) taken.push(box);
      }
      if (show) { if (!map.hasLayer(p.layer)) p.layer.addTo(map); }
      else if (map.hasLayer(p.layer)) map.removeLayer(p.layer);
    });
  }
  map.on('zoomend', showPlaces);
  if (places.length) map.attributionControl.addAttribution({{ this.places_attribution }});
  if (cities.length) L.control.layers(null, overlays, {collapsed: cities.length > 12}).addTo(map);
  window.geospottrPointCount = points.length;
  window.geospottrFit(bounds, 12);
  showPlaces();
"""


def place_labels(cities: Sequence[Any], rows: Sequence[Sequence[Any]], margin: float = 0.5) -> list[list[Any]]:
    """``[name (escaped), lat, lon, min zoom]`` for the most populous catalog places around the cities and
    points (their bounding box grown by `margin` of its size, at least 1 degree), biggest first."""
    from .catalog import places_in

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
    _layer(m, _DATASET_JS, cities=js_json(city_data), points=js_json(rows), cluster=js_json(cluster),
           places=js_json(place_labels(cities, rows)), places_attribution=js_json(PLACES_ATTRIBUTION))
    return _save(m, out_path)


# ---------------------------------------------------------------------------------------------- challenge
_PICK_JS = """
  var cities = {{ this.cities }}, markers = {};
  var idle = {radius: 6, color: '#333', weight: 1.5, fillColor: '#fff', fillOpacity: 0.95};
  var chosen = {radius: 9, color: '#fff', weight: 2.5, fillColor: '#1f6feb', fillOpacity: 1};
  cities.forEach(function (c) {
    var marker = L.circleMarker([c.lat, c.lon], Object.assign({className: 'gs-city'}, idle));
    marker.bindTooltip(c.name, {permanent: true, direction: 'auto', offset: [7, 0], className: 'gs-name'});
    marker.on('click', function (e) {
      L.DomEvent.stopPropagation(e);
      window.geospottrSelect(c.slug);
      window.geospottrSend({type: 'pick', slug: c.slug});
    });
    marker.addTo(map);
    markers[c.slug] = marker;
  });
  var selected = null, point = null;
  window.geospottrSelect = function (slug) {
    if (point) { map.removeLayer(point); point = null; }
    if (selected && markers[selected]) markers[selected].setStyle(idle);
    selected = slug;
    if (markers[slug]) { markers[slug].setStyle(chosen); markers[slug].bringToFront(); }
  };
  map.on('click', function (e) {
    window.geospottrSelect(null);
    point = L.circleMarker(e.latlng, Object.assign({className: 'gs-guess', interactive: false}, chosen)).addTo(map);
    window.geospottrSend({type: 'click', lat: e.latlng.lat, lon: L.Util.wrapNum(e.latlng.lng, [-180, 180], true)});
  });
  window.geospottrFit(cities.map(function (c) { return [c.lat, c.lon]; }), 6);
"""

_REVEAL_JS = """
  var points = {{ this.points }}, bounds = [], labels = [];
  var truth = points.filter(function (p) { return p.role === 'truth'; })[0];
  // The truth's label above it; each guess's label on its side away from the truth (west: left), and
  // when both guesses are one point, yours left and the model's right: the labels never overlap.
  var guesses = points.filter(function (p) { return p.role !== 'truth'; });
  var same = guesses.length === 2 && guesses[0].lat === guesses[1].lat && guesses[0].lon === guesses[1].lon;
  var sides = {truth: 'top'};
  guesses.forEach(function (p) {
    sides[p.role] = same ? (p.role === 'human' ? 'left' : 'right')
                         : (truth && p.lon < truth.lon ? 'left' : 'right');
  });
  points.forEach(function (p) {
    if (truth && p !== truth) {
      L.polyline([[truth.lat, truth.lon], [p.lat, p.lon]], {color: p.color, weight: 2, dashArray: '5 5',
                  interactive: false}).addTo(map);
    }
    var marker = L.circleMarker([p.lat, p.lon], {radius: p.role === 'truth' ? 10 : 8, color: '#fff',
      weight: 2.5, fillColor: p.color, fillOpacity: 1, className: 'gs-reveal gs-' + p.role});
    var side = sides[p.role] || 'right';
    marker.bindTooltip(p.label, {permanent: true, direction: side, className: 'gs-reveal-label',
                                 offset: side === 'left' ? [-8, 0] : side === 'right' ? [8, 0] : [0, -10]});
    marker.addTo(map);
    labels.push({side: side, marker: marker});
    bounds.push([p.lat, p.lon]);
  });
  // Keep room for the labels inside the map: fit the points with padding as wide as the labels are.
  window.geospottrFit(bounds, 8, function () {
    var pad = {left: 0, right: 0, top: 0};
    labels.forEach(function (l) {
      var el = l.marker.getTooltip() && l.marker.getTooltip().getElement();
      if (!el) { return; }
      if (l.side === 'top') { pad.top = Math.max(pad.top, el.offsetHeight + 16);
        pad.left = Math.max(pad.left, el.offsetWidth / 2 + 8); pad.right = Math.max(pad.right, el.offsetWidth / 2 + 8); }
      else { pad[l.side] = Math.max(pad[l.side], el.offsetWidth + 18); }
    });
    return {tl: [pad.left + 12, pad.top + 12], br: [pad.right + 12, 44]};  // clear of the scale and credits
  });
"""

_RECAP_JS = """
  var rounds = {{ this.rounds }}, colors = {{ this.colors }}, bounds = [];
  rounds.forEach(function (r) {
    ['human', 'model'].forEach(function (role) {
      var g = r[role];
      if (!g) { return; }
      L.polyline([[r.truth.lat, r.truth.lon], [g.lat, g.lon]], {color: colors[role], weight: 1.5,
                  dashArray: '4 4', opacity: 0.8, interactive: false}).addTo(map);
      L.circleMarker([g.lat, g.lon], {radius: 6, color: '#fff', weight: 2, fillColor: colors[role],
        fillOpacity: 1, className: 'gs-recap gs-' + role}).bindTooltip(g.label).addTo(map);
      bounds.push([g.lat, g.lon]);
    });
    L.circleMarker([r.truth.lat, r.truth.lon], {radius: 8, color: '#fff', weight: 2, fillColor: colors.truth,
      fillOpacity: 1, className: 'gs-recap gs-truth'})
      .bindTooltip(String(r.number), {permanent: true, direction: 'center', className: 'gs-round'})
      .bindPopup(r.truth.label).addTo(map);
    bounds.push([r.truth.lat, r.truth.lon]);
  });
  window.geospottrFit(bounds, 8, function () { return {tl: [24, 24], br: [24, 24]}; });
"""

REVEAL_COLORS = {"truth": "#2ca02c", "human": "#1f6feb", "model": "#d62728"}


def pick_map(cities: Sequence[Place], out_path: Path, assets: Path, online_tiles: bool = True) -> Path:
    """The challenge's guessing map: every city clickable (sends ``{"type": "pick", "slug"}``); a click
    elsewhere drops a guess marker there and sends ``{"type": "click", "lat", "lon"}``;
    ``geospottrSelect(slug)`` highlights a city (from the list) and clears the point."""
    data = [{"slug": c.slug, "name": html.escape(place_label(c)), "lat": c.lat, "lon": c.lon} for c in cities]
    m = _base_map(assets, Path(out_path), online_tiles)
    _layer(m, _PICK_JS, cities=js_json(data))
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
    _layer(m, _RECAP_JS, rounds=js_json(data), colors=js_json(REVEAL_COLORS))
    return _save(m, out_path)


def reveal_map(points: Sequence[RevealPoint], out_path: Path, assets: Path, online_tiles: bool = True) -> Path:
    """The round's answer: the true place and each guess, joined to it by a dashed line, labelled."""
    data = [{"role": p.role, "lat": p.lat, "lon": p.lon, "label": html.escape(p.label),
             "color": REVEAL_COLORS.get(p.role, "#555")} for p in points]
    m = _base_map(assets, Path(out_path), online_tiles)
    _layer(m, _REVEAL_JS, points=js_json(data))
    return _save(m, out_path)
