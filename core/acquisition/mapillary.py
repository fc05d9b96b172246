"""Mapillary API v4: CC BY-SA street imagery, searched by bbox and downloaded as 1024 px thumbnails.

Contract (www.mapillary.com/developer/api-documentation): ``GET {base}/images?bbox=minlon,minlat,maxlon,
maxlat&fields=...&limit=N`` (at most 2,000 results a call, hence small tiles) answers ``{"data": [...]}``;
``GET {base}/{id}?fields=thumb_1024_url`` answers a fresh thumbnail URL. Thumbnail URLs are signed and
expire, so one is fetched right before each download rather than reused from a search. The token goes
in an ``Authorization: OAuth`` header (out of URLs and logs) and never to the thumbnail CDN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests

from ..values import BadValue, checked_point
from .http import HttpClient, RequestFailed, service_url
from .keys import redact
from .streetview import ApiDenied

DEFAULT_URL = "https://graph.mapillary.com"
URL_ENV = "GEOSPOTTR_MAPILLARY_URL"
SOURCE = "mapillary"
LICENCE = "CC BY-SA 4.0"
SEARCH_FIELDS = "id,computed_geometry,thumb_1024_url,captured_at,compass_angle,creator,is_pano"
MAX_LIMIT = 2000


@dataclass(frozen=True)
class MapillaryParams:
    tile_m: float = 300.0        # side of the square searched around each sampled point
    include_panos: bool = False  # 360-degree images arrive as distorted equirectangular frames
    min_side: int = 256          # smaller thumbnails (tiny originals) are refused


@dataclass(frozen=True)
class MapillaryImage:
    id: str
    lat: float
    lon: float
    captured_at: str | None
    compass_angle: float | None
    creator: str | None
    is_pano: bool

    @property
    def link(self) -> str:
        return f"https://www.mapillary.com/app/?pKey={self.id}"

    @property
    def attribution(self) -> str:
        return f"{self.creator or 'unknown contributor'} via Mapillary, {LICENCE}, {self.link}"


class MapillaryClient:
    def __init__(self, http: HttpClient, token: str, base_url: str | None = None) -> None:
        self.http = http
        self.token = token
        self.base_url = service_url(base_url, URL_ENV, DEFAULT_URL)
        self._auth = {"Authorization": f"OAuth {token}"}

    def _api(self, path: str, what: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The JSON answer; None for 404 (an image deleted since the search)."""
        response = self.http.get(f"{self.base_url}{path}", what, params=params, headers=self._auth)
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise ApiDenied(redact(f"Mapillary refused the token: {_error_message(response)}", (self.token,)))
        if response.status_code != 200:
            raise RequestFailed(redact(f"{what}: HTTP {response.status_code} {_error_message(response)}", (self.token,)))
        try:
            body = response.json()
        except ValueError:
            raise RequestFailed(f"{what}: the answer is not JSON (is {URL_ENV} right?)") from None
        if not isinstance(body, dict):
            raise RequestFailed(f"{what}: the answer is not a JSON object")
        return body

    def search(self, bbox: tuple[float, float, float, float], limit: int = MAX_LIMIT) -> list[MapillaryImage]:
        """Images whose computed position lies in `bbox` (min_lon, min_lat, max_lon, max_lat)."""
        body = self._api("/images", "search", {"bbox": ",".join(f"{v:.6f}" for v in bbox),
                                                "fields": SEARCH_FIELDS, "limit": min(limit, MAX_LIMIT)})
        if body is None:
            raise RequestFailed(f"search: HTTP 404 (is {URL_ENV} right?)")
        out = []
        for item in body.get("data") or []:
            parsed = _parse(item)
            if parsed is not None:
                out.append(parsed)
        return out

    def thumbnail_url(self, image_id: str) -> str | None:
        body = self._api(f"/{image_id}", "thumbnail url", {"fields": "thumb_1024_url"})
        url = body.get("thumb_1024_url") if body is not None else None
        return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None

    def download(self, image: MapillaryImage) -> bytes | None:
        """The thumbnail's bytes via a freshly issued URL; None when the image is gone."""
        url = self.thumbnail_url(image.id)
        if url is None:
            return None
        response = self.http.get(url, "thumbnail")  # no auth header: the CDN URL is self-signed
        if response.status_code in (403, 404, 410):
            return None
        if response.status_code != 200:
            raise RequestFailed(f"thumbnail: HTTP {response.status_code}")
        return response.content


def _parse(item: Any) -> MapillaryImage | None:
    try:
        lon, lat = item["computed_geometry"]["coordinates"][:2]
        creator = item.get("creator") or {}
        captured = item.get("captured_at")
        when = (datetime.fromtimestamp(float(captured) / 1000, tz=timezone.utc).isoformat(timespec="seconds")
                if captured is not None else None)
        angle = item.get("compass_angle")
        lat, lon = checked_point(lat, lon, "search: image position")
        return MapillaryImage(id=str(item["id"]), lat=lat, lon=lon, captured_at=when,
                              compass_angle=float(angle) if angle is not None else None,
                              creator=creator.get("username") if isinstance(creator, dict) else None,
                              is_pano=bool(item.get("is_pano")))
    except (KeyError, TypeError, ValueError, IndexError, BadValue):
        return None  # an image without a computed position (or at 999, NaN, ...) cannot be labelled


def _error_message(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:200]
