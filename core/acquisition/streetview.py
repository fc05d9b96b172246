"""Google Street View Static API: free metadata lookups, billed image requests, optional URL signing.

Contract (developers.google.com/maps/documentation/streetview): ``GET {base}/metadata?location=LAT,LNG``
answers JSON with a ``status``; only ``OK`` carries a panorama (``pano_id``, ``location``, ``date``,
``copyright``). ``GET {base}?pano=ID&size=WxH&heading=&pitch=&fov=&return_error_code=true`` answers the
JPEG, or 404 when there is no imagery (without ``return_error_code`` Google sends a grey placeholder
with HTTP 200 instead, which `photos.accept_photo` also refuses). Metadata is free; each image is billed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from ..errors import GeoSpottrError
from ..values import BadValue, checked_point
from .http import HttpClient, RequestFailed, Transient, service_url
from .keys import redact
from .sampling import seeded

DEFAULT_URL = "https://maps.googleapis.com/maps/api/streetview"
URL_ENV = "GEOSPOTTR_STREETVIEW_URL"
SOURCE = "streetview"
LICENCE = "Google Street View (Google Maps Platform Terms of Service)"

_NO_COVERAGE = {"ZERO_RESULTS", "NOT_FOUND"}
_RETRY = {"OVER_QUERY_LIMIT", "UNKNOWN_ERROR"}


class ApiDenied(GeoSpottrError):
    """The provider refused our credentials or request: retrying cannot help, the job stops."""


@dataclass(frozen=True)
class StreetViewParams:
    """Image parameters; the defaults are the seed dataset's (640x640, heading k*90 +/- 15, pitch 20, fov 90)."""

    size: int = 640
    pitch: float = 20.0
    fov: float = 90.0
    heading_step: float = 90.0
    heading_jitter: float = 15.0
    radius_m: int = 50           # how far from the point the metadata lookup may snap
    outdoor: bool = True         # source=outdoor: no indoor business panoramas in a street dataset

    def heading(self, pano_id: str, seed: int) -> float:
        """The view direction for a panorama: seeded by the pano id, so a re-download after a kill asks
        for the very same frame (same bytes, same file) instead of a near-duplicate."""
        rng = random.Random(seeded(seed, "heading", pano_id))
        steps = max(1, round(360 / self.heading_step)) if self.heading_step else 1
        base = rng.randrange(steps) * self.heading_step
        return round((base + rng.uniform(-self.heading_jitter, self.heading_jitter)) % 360, 2)


@dataclass(frozen=True)
class Panorama:
    pano_id: str
    lat: float
    lon: float
    date: str | None
    copyright: str | None


def sign_url(path_and_query: str, secret: str) -> str:
    """Google's URL signature: HMAC-SHA1 of the path + query with the URL-safe-base64-decoded secret,
    itself URL-safe base64 encoded."""
    try:
        key = base64.urlsafe_b64decode(secret.encode() + b"=" * (-len(secret) % 4))
    except (ValueError, TypeError):
        raise GeoSpottrError("the URL signing secret is not valid URL-safe base64") from None
    digest = hmac.new(key, path_and_query.encode(), hashlib.sha1).digest()
    return base64.urlsafe_b64encode(digest).decode()


class StreetViewClient:
    """Metadata and image calls with the key (and signature) added; errors never show the key."""

    def __init__(self, http: HttpClient, key: str, signing_secret: str | None = None,
                 base_url: str | None = None) -> None:
        self.http = http
        self.key = key
        self.secret = signing_secret
        self.base_url = service_url(base_url, URL_ENV, DEFAULT_URL)

    def _url(self, endpoint: str, params: dict[str, Any]) -> str:
        url = f"{self.base_url}{endpoint}"
        query = urlencode({**params, "key": self.key})
        if self.secret:
            query += "&signature=" + sign_url(f"{urlsplit(url).path}?{query}", self.secret)
        return f"{url}?{query}"

    def _denied(self, what: str, detail: str) -> ApiDenied:
        return ApiDenied(redact(f"Street View {what} refused: {detail}", (self.key, self.secret)))

    def metadata(self, lat: float, lon: float, params: StreetViewParams) -> Panorama | None:
        """The panorama nearest to the point within ``radius_m``, or None where there is no coverage."""
        query: dict[str, Any] = {"location": f"{lat:.6f},{lon:.6f}", "radius": params.radius_m}
        if params.outdoor:
            query["source"] = "outdoor"
        response = self.http.get(self._url("/metadata", query), "metadata", check=_metadata_check)
        if response.status_code in (401, 403):
            raise self._denied("metadata", f"HTTP {response.status_code} {_text(response)}")
        if response.status_code != 200:
            raise RequestFailed(f"metadata: HTTP {response.status_code}")
        body = _json(response)
        status = body.get("status", "")
        if status in _NO_COVERAGE:
            return None
        if status != "OK":
            raise self._denied("metadata", f"{status}: {body.get('error_message') or 'no message'}")
        try:
            loc = body["location"]
            lat, lon = checked_point(loc["lat"], loc["lng"], "metadata: panorama location")
            return Panorama(str(body["pano_id"]), lat, lon, body.get("date"), body.get("copyright"))
        except (KeyError, TypeError, ValueError):
            raise RequestFailed("metadata: status OK without pano_id/location") from None
        except BadValue as exc:  # 999, NaN, Infinity: a broken or hostile answer, never a photo's place
            raise RequestFailed(str(exc)) from None

    def image(self, pano: Panorama, heading: float, params: StreetViewParams) -> bytes | None:
        """The billed image request; None when Google has no imagery for the panorama (HTTP 404)."""
        query: dict[str, Any] = {"pano": pano.pano_id, "size": f"{params.size}x{params.size}",
                                 "heading": f"{heading:g}", "pitch": f"{params.pitch:g}", "fov": f"{params.fov:g}",
                                 "return_error_code": "true"}
        if params.outdoor:
            query["source"] = "outdoor"
        response = self.http.get(self._url("", query), "image")
        if response.status_code == 404:
            return None
        if response.status_code in (400, 401, 403):
            raise self._denied("image", f"HTTP {response.status_code} {_text(response)}")
        if response.status_code != 200:
            raise RequestFailed(f"image: HTTP {response.status_code}")
        return response.content


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise RequestFailed("metadata: the answer is not JSON (is GEOSPOTTR_STREETVIEW_URL right?)") from None
    if not isinstance(body, dict):
        raise RequestFailed("metadata: the answer is not a JSON object")
    return body


def _metadata_check(response: requests.Response) -> None:
    """Retry OVER_QUERY_LIMIT / UNKNOWN_ERROR, which Google sends with HTTP 200."""
    if response.status_code == 200:
        try:
            status = response.json().get("status")
        except (ValueError, AttributeError):
            return
        if status in _RETRY:
            raise Transient(status)


def _text(response: requests.Response) -> str:
    """The first line of an error body (Google explains refusals in plain text), shortened."""
    text = response.text.strip().splitlines()[0] if response.text.strip() else ""
    return text[:300]
