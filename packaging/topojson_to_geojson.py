"""Convert a TopoJSON object collection to a compact GeoJSON FeatureCollection (run once, by hand).

Used to make ``resources/maps/world-countries-110m.geojson`` from the npm package ``world-atlas``
(Natural Earth 1:110m admin-0 countries, public domain); see ``resources/maps/README.md`` for the exact
command. The TopoJSON arcs are delta-encoded and quantized: each arc is decoded once, and rings are
stitched from arcs (a negative index ``~i`` means arc ``i`` reversed). Coordinates are rounded to
`--digits` decimals, which is far below the 1:110m source precision and keeps the file small.

world-atlas is unprojected: rings that cross the antimeridian (Fiji, Chukotka) jump from 180 to -180,
which a planar web map (Leaflet) would draw as a stripe across the world. Such rings are unwrapped to
continuous longitudes (beyond 180 is fine for Leaflet); a ring that circles a pole (Antarctica) is
closed along the pole instead.

Usage: python packaging/topojson_to_geojson.py IN.topo.json OBJECT OUT.geojson [--digits 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

Point = list[float]


def decode_arcs(topology: dict[str, Any], digits: int) -> list[list[Point]]:
    """Absolute, rounded [lon, lat] points of every arc in the topology."""
    transform = topology.get("transform")
    sx, sy = transform["scale"] if transform else (1.0, 1.0)
    tx, ty = transform["translate"] if transform else (0.0, 0.0)
    arcs: list[list[Point]] = []
    for arc in topology["arcs"]:
        x = y = 0
        points: list[Point] = []
        for dx, dy, *_ in arc:
            if transform:
                x, y = x + dx, y + dy
                points.append([round(x * sx + tx, digits), round(y * sy + ty, digits)])
            else:
                points.append([round(dx, digits), round(dy, digits)])
        arcs.append(points)
    return arcs


def ring(indexes: list[int], arcs: list[list[Point]]) -> list[Point]:
    """One closed ring: arcs joined end to start (each arc repeats the previous arc's last point)."""
    out: list[Point] = []
    for i in indexes:
        points = arcs[i] if i >= 0 else arcs[~i][::-1]
        out.extend(points if not out else points[1:])
    # Rounding can merge neighbouring points; drop consecutive duplicates but keep the ring closed.
    deduped = [p for k, p in enumerate(out) if k == 0 or p != out[k - 1]]
    if deduped and deduped[0] != deduped[-1]:
        deduped.append(deduped[0])
    return fix_antimeridian(deduped)


def fix_antimeridian(points: list[Point]) -> list[Point]:
    """Make a ring drawable on a plane: unwrap 180/-180 jumps, or close a pole-circling ring at the pole."""
    jumps = [k for k in range(1, len(points)) if abs(points[k][0] - points[k - 1][0]) > 180]
    if not jumps:
        return points
    if len(jumps) % 2 == 1:  # circles a pole: go down to the pole at the jump and back
        k = jumps[0]
        prev_lon, lon = points[k - 1][0], points[k][0]
        pole = -90.0 if sum(p[1] for p in points) < 0 else 90.0
        return points[:k] + [[prev_lon, pole], [lon, pole]] + points[k:]
    out = [points[0]]
    shift = 0.0
    for k in range(1, len(points)):
        step = points[k][0] - points[k - 1][0]
        if step > 180:
            shift -= 360.0
        elif step < -180:
            shift += 360.0
        out.append([round(points[k][0] + shift, 6), points[k][1]])
    # Keep the bulk of the ring in [-180, 180]: Russia stays put and only Chukotka reaches past 180.
    if sum(p[0] for p in out) / len(out) > 180:
        out = [[p[0] - 360.0, p[1]] for p in out]
    return out


def geometry(geom: dict[str, Any], arcs: list[list[Point]]) -> dict[str, Any] | None:
    kind = geom.get("type")
    if kind == "Polygon":
        rings = [r for r in (ring(ix, arcs) for ix in geom["arcs"]) if len(r) >= 4]
        return {"type": "Polygon", "coordinates": rings} if rings else None
    if kind == "MultiPolygon":
        polys = [[r for r in (ring(ix, arcs) for ix in poly) if len(r) >= 4] for poly in geom["arcs"]]
        polys = [p for p in polys if p]
        return {"type": "MultiPolygon", "coordinates": polys} if polys else None
    return None  # a country with no geometry at this scale


def convert(topology: dict[str, Any], obj: str, digits: int) -> dict[str, Any]:
    arcs = decode_arcs(topology, digits)
    features = []
    for geom in topology["objects"][obj]["geometries"]:
        shape = geometry(geom, arcs)
        if shape is None:
            continue
        name = (geom.get("properties") or {}).get("name", "")
        features.append({"type": "Feature", "id": geom.get("id"), "properties": {"name": name}, "geometry": shape})
    return {"type": "FeatureCollection", "features": features}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("object", help="the TopoJSON object to convert, e.g. countries")
    parser.add_argument("out", type=Path)
    parser.add_argument("--digits", type=int, default=2)
    args = parser.parse_args(argv)
    topology = json.loads(args.source.read_text(encoding="utf-8"))
    collection = convert(topology, args.object, args.digits)
    args.out.write_text(json.dumps(collection, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(collection['features'])} features, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
