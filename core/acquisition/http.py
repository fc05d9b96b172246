"""HTTP shared by the image providers: retries with exponential backoff and jitter, a QPS limit, timeouts.

Why one module: Google and Mapillary both answer bursts with HTTP 429, fail transiently with 5xx and
sometimes hang, and a user's budget suffers from a client that hammers them. Every request goes through
`HttpClient.get`, which waits for the rate limiter, retries what is worth retrying (429, 5xx, timeouts,
dropped connections, and anything a provider's `check` flags as `Transient`), sleeps through
`Control.sleep` so a cancel interrupts a backoff at once, and never puts a URL in an error message: our
URLs carry API keys in their query strings.

Every attempt has a total deadline (`RetryPolicy.timeout_s`), not just a per-read timeout: a server that
drips one byte every two seconds would otherwise keep a read "alive" for hours. A watchdog shuts the
attempt's socket down when the deadline passes, or `CANCEL_GRACE_S` after the user cancels (an answer
arriving by then is kept: it may be an image already paid for), so Cancel never waits long on a server.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..errors import Cancelled, GeoSpottrError
from ..events import Control
from .keys import redact

USER_AGENT = "GeoSpottr (+https://github.com/geospottr)"
#: Larger responses are refused: no street photo or metadata answer comes near this.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Tests shrink the delays and the timeout so a fault costs milliseconds."""

    max_retries: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    timeout_s: float = 20.0   # total time one attempt may take, from connecting to the last body byte

    def delay(self, retry: int, rng: random.Random) -> float:
        """Wait before retry number `retry` (0-based): exponential, capped, "equal jitter" so that many
        workers hit by one 429 burst do not come back in lockstep."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** retry))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Transient(Exception):
    """Raised by a response check to ask for a retry (e.g. a 200 answer saying OVER_QUERY_LIMIT)."""


class RequestFailed(GeoSpottrError):
    """A request that still failed after every retry (message names the endpoint, never the URL)."""


class RateLimiter:
    """At most `qps` request starts per second across all threads (None or 0: unlimited)."""

    def __init__(self, qps: float | None) -> None:
        self.interval = 1.0 / qps if qps else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, control: Control) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            control.sleep(start - now)


RetryCallback = Callable[[str, str, float], None]  # (what, reason, delay_s)

#: The `_Watch` of the attempt running on this thread, found by the connection pool (below).
_CURRENT = threading.local()
#: How often a watchdog looks at the clock and the cancel flag.
_WATCH_TICK_S = 0.05
#: After a cancel, an attempt in flight may still finish within this (an image already paid for is
#: worth keeping); then it is cut off.
CANCEL_GRACE_S = 2.0


class _Watch:
    """Ends one attempt at its deadline or on cancel by shutting down its socket (a blocked read then
    returns at once), from a small thread of its own."""

    def __init__(self, deadline: float, control: Control) -> None:
        self.deadline, self.control = deadline, control
        self.conn: Any = None
        self.fired: str | None = None   # "deadline" | "cancel"
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http-watchdog", daemon=True)

    def __enter__(self) -> "_Watch":
        _CURRENT.watch = self
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _CURRENT.watch = None
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        why = "deadline"
        while not self._done.wait(_WATCH_TICK_S):
            now = time.monotonic()
            if self.control.cancelled and why != "cancel":
                why, self.deadline = "cancel", min(self.deadline, now + CANCEL_GRACE_S)
            if now >= self.deadline:
                self._fire(why)
                return

    def _fire(self, why: str) -> None:
        if self._done.is_set():  # the attempt ended meanwhile; its connection may be back in the pool
            return
        self.fired = why
        sock = getattr(self.conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _WatchedMixin:
    def _get_conn(self, timeout: float | None = None) -> Any:  # urllib3 hands the attempt its connection here
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        watch = getattr(_CURRENT, "watch", None)
        if watch is not None:
            watch.conn = conn
        return conn


class _WatchedHTTPPool(_WatchedMixin, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedMixin, HTTPSConnectionPool):
    pass


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter whose pools tell the running attempt's `_Watch` which connection it uses."""

    _POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._POOLS)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = dict(self._POOLS)
        return manager


def service_url(explicit: str | None, env_var: str, default: str) -> str:
    """A provider's base URL: `explicit`, else $`env_var` (proxies, tests), else `default`; http(s) only."""
    url = (explicit or os.environ.get(env_var) or default).rstrip("/")
    if urlsplit(url).scheme not in ("http", "https"):
        raise GeoSpottrError(f"{env_var} must be an http(s) URL, got {url!r}")
    return url


class HttpClient:
    """GET with retries, rate limit and size cap; one `requests.Session` per thread (sessions are not
    documented as thread-safe)."""

    def __init__(self, policy: RetryPolicy, control: Control, qps: float | None = None,
                 secrets: tuple[str | None, ...] = (), on_retry: RetryCallback | None = None,
                 seed: int | None = None) -> None:
        self.policy = policy
        self.control = control
        self.limiter = RateLimiter(qps)
        self.secrets = secrets
        self.on_retry = on_retry
        self._rng = random.Random(seed)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.requests_sent = 0
        self.retries = 0

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = _WatchedAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def get(self, url: str, what: str, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
            check: Callable[[requests.Response], None] | None = None) -> requests.Response:
        """GET `url`; return the first response that is not 429/5xx and passes `check` (which raises
        `Transient` to retry). Other statuses are returned for the caller to judge. `what` names the
        endpoint in messages ("metadata", "image")."""
        reason, hint = "no attempt", None
        for attempt in range(self.policy.max_retries + 1):
            if attempt:
                with self._lock:
                    delay = self.policy.delay(attempt - 1, self._rng)
                    self.retries += 1
                if hint is not None:  # the server said how long to wait: believe it, within our cap
                    delay = max(delay, min(hint, self.policy.max_delay_s))
                if self.on_retry:
                    self.on_retry(what, reason, delay)
                self.control.sleep(delay)
            hint = None
            self.limiter.wait(self.control)
            with self._lock:
                self.requests_sent += 1
            watch = _Watch(time.monotonic() + self.policy.timeout_s, self.control)
            try:
                with watch:
                    response = self._fetch(url, params, headers, what)
            except (requests.RequestException, OSError) as exc:
                if watch.fired == "cancel" or self.control.cancelled:
                    raise Cancelled() from None
                if watch.fired == "deadline" or isinstance(exc, requests.Timeout):
                    reason = f"no complete answer within {self.policy.timeout_s:g} s"
                    continue
                if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, OSError)):
                    reason = "connection failed"
                    continue
                # bad URL and the like: retrying cannot help
                raise RequestFailed(f"{what}: request failed ({type(exc).__name__})") from None
            if response.status_code == 429 or response.status_code >= 500:
                reason, hint = f"HTTP {response.status_code}", _retry_after_s(response)
                continue
            if check is not None:
                try:
                    check(response)
                except Transient as exc:
                    reason = redact(str(exc), self.secrets)
                    continue
            return response
        raise RequestFailed(f"{what}: gave up after {self.policy.max_retries + 1} attempts ({reason})")

    def _fetch(self, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None,
               what: str) -> requests.Response:
        """One GET, the body read in full up to `MAX_RESPONSE_BYTES` (the caller's `_Watch` bounds the time)."""
        response = self._session().get(url, params=params, headers=headers, timeout=self.policy.timeout_s,
                                       stream=True, allow_redirects=True)
        try:
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise RequestFailed(f"{what}: answer larger than {MAX_RESPONSE_BYTES // 2**20} MiB refused")
                chunks.append(chunk)
            response._content = b"".join(chunks)
        finally:
            response.close()
        return response


def _retry_after_s(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After: N`` header (the HTTP-date form is rare for APIs and ignored)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
