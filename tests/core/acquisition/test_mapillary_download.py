"""Mapillary downloads against the loopback fake API: tiles, fresh thumbnail URLs, licence, denied token."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.acquisition import run_download
from core.acquisition.http import HttpClient
from core.acquisition.mapillary import MapillaryClient, MapillaryImage
from core.errors import GeoSpottrError
from core.events import Control

from .conftest import FAST_RETRY


def test_mapillary_fills_cities_with_attributed_images(project, apis, mly_config):
    summary = run_download(project, mly_config)
    assert project.city_counts() == {"rijeka": 8, "split": 8, "zagreb": 8}
    known = {i.id: i for i in apis.world.mly}
    for r in project.images(source="mapillary"):
        image = known[r.source_id]
        assert not image.is_pano
        assert r.licence == "CC BY-SA 4.0"
        assert r.attribution == f"{image.creator} via Mapillary, CC BY-SA 4.0, https://www.mapillary.com/app/?pKey={image.id}"
        assert (r.lat, r.lon, r.heading) == (image.lat, image.lon, image.compass_angle)
        assert r.captured_at.startswith("2020-09-13")
    assert summary.cost == 0 and summary.total("saved") == 24
    assert apis.world.counts["mly_image"] == apis.world.counts["thumb"] == 24  # a fresh URL for every download
    assert all(apis.world.token.encode() not in p.read_bytes() for p in project.root.rglob("*") if p.is_file())


def test_expired_thumbnail_url_is_not_used(apis):
    client = MapillaryClient(HttpClient(FAST_RETRY, Control()), apis.world.token, apis.mapillary_url)
    found = client.search((15.0, 45.0, 17.0, 46.0))
    assert found and len(found) <= 2000
    apis.world.thumb_ttl_s = -1  # every URL the server hands out is already expired
    gone = MapillaryImage("nope", 0, 0, None, None, None, False)
    assert client.download(found[0]) is None and client.download(gone) is None


def test_mapillary_retries_and_denied_token(project, apis, mly_config):
    apis.world.add_fault("search", "429", "500")
    apis.world.add_fault("thumb", "429")
    run_download(project, replace(mly_config, cities=["split"], per_city=2))
    assert project.city_counts()["split"] == 2
    with pytest.raises(GeoSpottrError, match="Invalid OAuth access token") as info:
        run_download(project, replace(mly_config, key="MLY|stolen"))
    assert "stolen" not in str(info.value)
