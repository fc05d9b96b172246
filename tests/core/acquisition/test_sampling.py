"""Point samplers: streamed address books in three formats, uniform points, never the same point twice."""

from __future__ import annotations

import gzip
import json

import pytest

from core import geo
from core.acquisition import sampling
from core.acquisition.sampling import AddressBook, Area, PointSource, point_key, read_points, uniform_points
from core.errors import GeoSpottrError

POINTS = [(45.80 + i * 0.001, 15.95 + i * 0.0007) for i in range(50)]


def _feature(lat, lon, number):
    return {"type": "Feature", "properties": {"number": str(number), "street": "Ilica; \"quoted\" ]["},
            "geometry": {"type": "Point", "coordinates": [lon, lat]}}


def _write_collection(path, points):
    features = [_feature(lat, lon, i) for i, (lat, lon) in enumerate(points)]
    features.append({"type": "Feature", "properties": {}, "geometry": None})  # OpenAddresses has these
    path.write_text(json.dumps({"type": "FeatureCollection", "name": "hr", "features": features}, indent=1))


def test_feature_collection_streams_across_chunk_boundaries(tmp_path, monkeypatch):
    path = tmp_path / "addresses.geojson"
    _write_collection(path, POINTS)
    real = sampling._feature_collection
    monkeypatch.setattr(sampling, "_feature_collection", lambda fh, p: real(fh, p, chunk=37))  # tiny chunks
    assert list(read_points(path)) == POINTS


def test_geojson_seq_and_gzip(tmp_path):
    path = tmp_path / "addresses.geojson.gz"
    with gzip.open(path, "wt") as fh:
        for i, (lat, lon) in enumerate(POINTS):
            fh.write("\x1e" + json.dumps(_feature(lat, lon, i)) + "\n")
    assert list(read_points(path)) == POINTS


def test_openaddresses_csv(tmp_path):
    path = tmp_path / "hr.csv"
    lines = ["LON,LAT,NUMBER,STREET"] + [f"{lon},{lat},{i},Ilica" for i, (lat, lon) in enumerate(POINTS)]
    path.write_text("\n".join(lines + [",,7,no coordinates"]) + "\n")
    assert list(read_points(path)) == POINTS


def test_bad_address_files_are_one_line_errors(tmp_path):
    truncated = tmp_path / "cut.geojson"
    _write_collection(truncated, POINTS)
    truncated.write_text(truncated.read_text()[:400])
    with pytest.raises(GeoSpottrError, match="truncated"):
        list(read_points(truncated))
    no_columns = tmp_path / "x.csv"
    no_columns.write_text("a,b\n1,2\n")
    with pytest.raises(GeoSpottrError, match="lon and lat columns"):
        list(read_points(no_columns))
    with pytest.raises(GeoSpottrError, match="no such address file"):
        list(read_points(tmp_path / "missing.csv"))


def test_address_book_keeps_points_in_each_area_in_a_seeded_order(tmp_path):
    path = tmp_path / "a.csv"
    far = [(43.5, 16.44)]  # Split: outside Zagreb's area
    path.write_text("lat,lon\n" + "".join(f"{lat},{lon}\n" for lat, lon in POINTS + far))
    zagreb = Area(45.815, 15.982, radius_km=5.0)
    book = AddressBook(path, {"zagreb": zagreb, "split": Area(43.508, 16.44, radius_km=5.0)})
    assert book.read == 51 and book.count("split") == 1
    inside = [p for p in POINTS if zagreb.contains(*p)]
    order = list(book.points("zagreb", seed=3))
    assert sorted(order) == sorted(inside) and order == list(book.points("zagreb", seed=3))
    assert order != list(book.points("zagreb", seed=4))


def test_uniform_points_are_in_the_area_and_deterministic():
    area = Area(45.815, 15.982, radius_km=2.0)
    first = [p for _, p in zip(range(200), uniform_points(area, 7))]
    assert first == [p for _, p in zip(range(200), uniform_points(area, 7))]
    assert all(geo.haversine_km(area.lat, area.lon, *p) <= 2.0 + 1e-9 for p in first)
    box = Area(0, 0, bbox=(15.9, 45.7, 16.1, 45.9))
    assert all(box.contains(*p) for _, p in zip(range(100), uniform_points(box, 1)))


def test_point_source_never_hands_out_a_point_twice():
    tried = {point_key(*POINTS[1])}
    source = PointSource(POINTS[:4] + [POINTS[0], POINTS[2]], lambda key: key in tried)
    got = [source.next() for _ in range(4)]
    assert got == [POINTS[0], POINTS[2], POINTS[3], None]
    assert source.skipped == 3
