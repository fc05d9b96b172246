"""A loopback server speaking the documented contracts of the Street View Static API and Mapillary v4.

Tests start it on 127.0.0.1 (`FakeApis` is a context manager), point the clients at it through
``GEOSPOTTR_STREETVIEW_URL`` / ``GEOSPOTTR_MAPILLARY_URL`` (or ``DownloadConfig.base_url``) and shape its
world: where panoramas exist, which ones have no imagery, and which faults the next requests meet
(``429``, ``500``, ``slow``, ``OVER_QUERY_LIMIT``, ``UNKNOWN_ERROR``). Images are small generated JPEGs, so
a test downloads dozens in a second.

Street View: ``{base}/metadata`` (JSON status; the key is checked; a signature is checked when the
world has a signing secret) and ``{base}`` (``pano=`` image; 404 without imagery when
``return_error_code=true``, else Google's grey placeholder with HTTP 200; 403 text for a bad key).
Mapillary: ``/images?bbox=&fields=&limit=`` (at most 2,000), ``/{id}?fields=thumb_1024_url``, and
signed thumbnail URLs that expire after ``thumb_ttl_s``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import math
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from PIL import Image

from core import geo

SV_PREFIX = "/maps/api/streetview"
MLY_PREFIX = "/mapillary"
PLACEHOLDER_GREY = (228, 227, 223)


@dataclass
class Pano:
    pano_id: str
    lat: float
    lon: float
    date: str = "2021-06"
    has_imagery: bool = True


@dataclass
class MlyImage:
    id: str
    lat: float
    lon: float
    creator: str = "alice"
    is_pano: bool = False
    captured_at: int = 1_600_000_000_000
    compass_angle: float = 90.0


@dataclass
class World:
    key: str = "test-key-0123456789"
    signing_secret: str | None = None
    token: str = "MLY|test-token-abcdef"
    panos: list[Pano] = field(default_factory=list)
    mly: list[MlyImage] = field(default_factory=list)
    #: a proxy that drops return_error_code: no-imagery answers become grey placeholders with HTTP 200
    ignore_return_error_code: bool = False
    image_delay_s: float = 0.0
    slow_s: float = 2.0
    thumb_ttl_s: float = 60.0
    thumb_size: tuple[int, int] = (320, 256)
    faults: dict[str, deque] = field(default_factory=dict)
    #: a hostile server: these bytes answer every image request (Street View image, Mapillary thumbnail)
    image_body: bytes | None = None
    #: a hostile server: this (lat, lon) is what every metadata / search answer claims (999, NaN, ...)
    answer_location: tuple[float, float] | None = None
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_fault(self, endpoint: str, *kinds: str) -> None:
        """Endpoints: metadata, image, search, mly_image, thumb. Kinds are consumed one per request."""
        with self.lock:
            self.faults.setdefault(endpoint, deque()).extend(kinds)

    def next_fault(self, endpoint: str) -> str | None:
        with self.lock:
            self.counts[endpoint] += 1
            queue = self.faults.get(endpoint)
            return queue.popleft() if queue else None

    def add_panos_around(self, lat: float, lon: float, radius_km: float, spacing_m: float, prefix: str,
                         covered_half_only: bool = True) -> int:
        """A grid of panoramas over the disc (only its east half when `covered_half_only`: the west half
        has no coverage)."""
        step_lat = spacing_m / 111_320
        step_lon = step_lat / math.cos(math.radians(lat))
        n = int(radius_km * 1000 / spacing_m) + 1
        added = 0
        for i in range(-n, n + 1):
            for j in range(-n, n + 1):
                plat, plon = lat + i * step_lat, lon + j * step_lon
                if covered_half_only and plon < lon:
                    continue
                if geo.haversine_km(lat, lon, plat, plon) <= radius_km:
                    self.panos.append(Pano(f"{prefix}-{i}-{j}", plat, plon))
                    added += 1
        return added


def jpeg(size: tuple[int, int], seed: str, quality: int = 85) -> bytes:
    """A blocky random-colour JPEG, different for every seed string."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little"))
    w, h = size
    blocks = rng.integers(0, 256, (max(1, h // 8), max(1, w // 8), 3), dtype=np.uint8)
    img = Image.fromarray(blocks, "RGB").resize((w, h), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def placeholder_jpeg(size: tuple[int, int]) -> bytes:
    """Google's "Sorry, we have no imagery here." frame: flat light grey with a line of darker text."""
    w, h = size
    arr = np.empty((h, w, 3), dtype=np.uint8)
    arr[:] = PLACEHOLDER_GREY
    y0, x0 = h // 2 - max(1, h // 40), w // 4
    for k in range(0, w // 2, 6):  # "letters"
        arr[y0:y0 + max(2, h // 20), x0 + k:x0 + k + 3] = (120, 120, 120)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def google_signature(path_and_query: str, secret: str) -> str:
    key = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    return base64.urlsafe_b64encode(hmac.new(key, path_and_query.encode(), hashlib.sha1).digest()).decode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: object) -> None:
        pass

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=UTF-8")

    def _text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/plain; charset=UTF-8")

    def _fault(self, endpoint: str, json_status: bool) -> bool:
        """Apply the next scripted fault; True when the request was answered by it."""
        kind = self.server.world.next_fault(endpoint)
        if kind is None:
            return False
        if kind == "slow":
            time.sleep(self.server.world.slow_s)
            return False  # answer normally, too late for the client
        if kind == "429":
            self._text(429, "Too Many Requests")
        elif kind == "500":
            self._text(500, "Internal Server Error")
        elif kind in ("OVER_QUERY_LIMIT", "UNKNOWN_ERROR") and json_status:
            self._json(200, {"status": kind, "error_message": "try again"})
        else:
            raise AssertionError(f"unknown fault {kind!r} for {endpoint}")
        return True

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path
        if path == f"{SV_PREFIX}/metadata":
            self._sv_metadata(query, parts)
        elif path == SV_PREFIX:
            self._sv_image(query, parts)
        elif path.startswith(MLY_PREFIX + "/"):
            self._mapillary(path[len(MLY_PREFIX):], query)
        else:
            self._text(404, "not found")

    # ------------------------------------------------------------------ Street View
    def _sv_auth(self, query: dict[str, str], parts) -> str | None:
        """None when the key (and signature) are good, else the API's error message."""
        world = self.server.world
        if query.get("key") != world.key:
            return "The provided API key is invalid."
        if world.signing_secret:
            unsigned = parts.query.rsplit("&signature=", 1)[0]
            if google_signature(f"{parts.path}?{unsigned}", world.signing_secret) != query.get("signature"):
                return "Unable to authenticate the request. The signature is invalid."
        return None

    def _nearest(self, lat: float, lon: float, radius_m: float) -> Pano | None:
        best, best_d = None, radius_m / 1000
        for pano in self.server.world.panos:
            d = geo.haversine_km(lat, lon, pano.lat, pano.lon)
            if d <= best_d:
                best, best_d = pano, d
        return best

    def _sv_metadata(self, query: dict[str, str], parts) -> None:
        if self._fault("metadata", json_status=True):
            return
        error = self._sv_auth(query, parts)
        if error:
            self._json(200, {"status": "REQUEST_DENIED", "error_message": error})
            return
        try:
            lat, lon = (float(v) for v in query["location"].split(","))
        except (KeyError, ValueError):
            self._json(200, {"status": "INVALID_REQUEST", "error_message": "Invalid request. Missing the 'location' parameter."})
            return
        pano = self._nearest(lat, lon, float(query.get("radius", 50)))
        if pano is None:
            self._json(200, {"status": "ZERO_RESULTS"})
            return
        lat, lon = self.server.world.answer_location or (pano.lat, pano.lon)
        self._json(200, {"copyright": "© Google", "date": pano.date, "location": {"lat": lat, "lng": lon},
                         "pano_id": pano.pano_id, "status": "OK"})

    def _sv_image(self, query: dict[str, str], parts) -> None:
        world = self.server.world
        if self._fault("image", json_status=False):
            return
        error = self._sv_auth(query, parts)
        if error:
            self._text(403, f"The Google Maps Platform server rejected your request. {error}")
            return
        try:
            w, h = (int(v) for v in query["size"].lower().split("x"))
        except (KeyError, ValueError):
            self._text(400, "Invalid request. Missing the 'size' parameter.")
            return
        if world.image_delay_s:
            time.sleep(world.image_delay_s)
        pano = next((p for p in world.panos if p.pano_id == query.get("pano")), None)
        if pano is None or not pano.has_imagery:
            if query.get("return_error_code") == "true" and not world.ignore_return_error_code:
                self._text(404, "Not Found")
            else:
                self._send(200, placeholder_jpeg((w, h)), "image/jpeg")
            return
        self._send(200, world.image_body or jpeg((w, h), f"{pano.pano_id}/{query.get('heading')}"), "image/jpeg")

    # ------------------------------------------------------------------ Mapillary
    def _mly_auth(self, query: dict[str, str]) -> bool:
        token = self.server.world.token
        header = self.headers.get("Authorization", "")
        return header == f"OAuth {token}" or query.get("access_token") == token

    def _mly_denied(self) -> None:
        self._json(401, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}})

    def _thumb_url(self, image: MlyImage) -> str:
        host, port = self.server.server_address[:2]
        expires = time.time() + self.server.world.thumb_ttl_s
        return f"http://{host}:{port}{MLY_PREFIX}/thumbs/{image.id}?exp={expires:.3f}"

    def _mapillary(self, path: str, query: dict[str, str]) -> None:
        world = self.server.world
        if path.startswith("/thumbs/"):
            if self._fault("thumb", json_status=False):
                return
            image = next((i for i in world.mly if i.id == path[len("/thumbs/"):]), None)
            if image is None or float(query.get("exp", 0)) < time.time():
                self._text(403, "URL signature expired")
                return
            self._send(200, world.image_body or jpeg(world.thumb_size, f"mly/{image.id}"), "image/jpeg")
            return
        if path == "/images":
            if self._fault("search", json_status=False):
                return
            if not self._mly_auth(query):
                self._mly_denied()
                return
            try:
                min_lon, min_lat, max_lon, max_lat = (float(v) for v in query["bbox"].split(","))
            except (KeyError, ValueError):
                self._json(400, {"error": {"message": "Invalid bbox", "code": 100}})
                return
            limit = min(int(query.get("limit", 2000)), 2000)
            hits = [i for i in world.mly if min_lat <= i.lat <= max_lat and min_lon <= i.lon <= max_lon][:limit]
            where = world.answer_location
            self._json(200, {"data": [{"id": i.id, "computed_geometry": {
                                           "type": "Point", "coordinates": [where[1], where[0]] if where else [i.lon, i.lat]},
                                       "thumb_1024_url": self._thumb_url(i), "captured_at": i.captured_at,
                                       "compass_angle": i.compass_angle,
                                       "creator": {"id": "1", "username": i.creator}, "is_pano": i.is_pano}
                                      for i in hits]})
            return
        if self._fault("mly_image", json_status=False):
            return
        if not self._mly_auth(query):
            self._mly_denied()
            return
        image = next((i for i in world.mly if i.id == path.strip("/")), None)
        if image is None:
            self._json(404, {"error": {"message": "Unsupported get request", "code": 100}})
            return
        self._json(200, {"id": image.id, "thumb_1024_url": self._thumb_url(image)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    world: World


class FakeApis:
    """The running server: ``.streetview_url``, ``.mapillary_url``, ``.world``."""

    def __init__(self, world: World | None = None) -> None:
        self.world = world or World()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.world = self.world
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-apis", daemon=True)

    @property
    def root(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def streetview_url(self) -> str:
        return self.root + SV_PREFIX

    @property
    def mapillary_url(self) -> str:
        return self.root + MLY_PREFIX

    def __enter__(self) -> "FakeApis":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

