"""HTTP shared by the image providers: retries with exponential backoff and jitter, a QPS limit, timeouts.

Why one module: Google and Mapillary both answer bursts with HTTP 429, fail transiently with 5xx and
sometimes hang, and a user's budget suffers from a client that hammers them. Every request goes through
`HttpClient.get`, which waits for the rate limiter, retries what is worth retrying (429, 5xx, timeouts,
dropped connections, and anything a provider's `check` flags as `Transient`), sleeps through
`Control.sleep` so a cancel interrupts a backoff at once, and never puts a URL in an error message: our
URLs carry API keys in their query strings.

Every attempt has a total deadline (`RetryPolicy.timeout_s`), not just a per-read timeout: a server that
drips one byte every two seconds would otherwise keep a read "alive" for hours. A watchdog
(`core.network.Watch`) shuts the attempt's socket down when the deadline passes, or `CANCEL_GRACE_S`
after the user cancels (an answer arriving by then is kept: it may be an image already paid for), so
Cancel never waits long on a server.

Waiting is bounded too: a server's ``Retry-After`` is believed up to `RetryPolicy.max_delay_s` (the retry
line says so: "server asked to wait 3600 s; capped at 30 s"), one request gives up after
`RetryPolicy.max_total_s` with all its retries, and a server answering nothing but 429 for
`RetryPolicy.max_throttled_s` stops the whole job (`Throttled`) instead of every point retrying in turn.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import requests

from ..errors import Cancelled, GeoSpottrError
from ..events import Control
from ..network import CANCEL_GRACE_S, Watch, WatchedAdapter
from .keys import redact

__all__ = ["CANCEL_GRACE_S", "HttpClient", "RateLimiter", "RequestFailed", "RetryPolicy", "Throttled", "Transient",
           "service_url"]

USER_AGENT = "GeoSpottr (+https://github.com/geospottr)"
#: Larger responses are refused: no street photo or metadata answer comes near this.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Tests shrink the delays and the timeout so a fault costs milliseconds."""

    max_retries: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0   # also the cap of a server's Retry-After
    timeout_s: float = 20.0   # total time one attempt may take, from connecting to the last body byte
    #: Total time one request may take with all its retries and waits: then it gives up.
    max_total_s: float = 120.0
    #: A server answering only HTTP 429 (too many requests) for this long, to every request of the job,
    #: stops the job (`Throttled`) instead of each point retrying in turn for an hour.
    max_throttled_s: float = 180.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """Wait before retry number `retry` (0-based): exponential, capped, "equal jitter" so that many
        workers hit by one 429 burst do not come back in lockstep."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** retry))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Transient(Exception):
    """Raised by a response check to ask for a retry (e.g. a 200 answer saying OVER_QUERY_LIMIT)."""


class RequestFailed(GeoSpottrError):
    """A request that still failed after every retry (message names the endpoint, never the URL)."""


class Throttled(GeoSpottrError):
    """The server has answered nothing but HTTP 429 for `RetryPolicy.max_throttled_s`: the job stops (not
    a `RequestFailed`, which only skips the point)."""


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
        self._throttled_since: float | None = None  # monotonic time of the first 429 of an unbroken run of them

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = WatchedAdapter()
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
        started = time.monotonic()
        for attempt in range(self.policy.max_retries + 1):
            if attempt:
                with self._lock:
                    delay = self.policy.delay(attempt - 1, self._rng)
                    self.retries += 1
                if hint is not None:  # the server said how long to wait: believe it, within our cap
                    delay = max(delay, min(hint, self.policy.max_delay_s))
                    if hint > self.policy.max_delay_s:
                        reason += f" (server asked to wait {hint:g} s; capped at {self.policy.max_delay_s:g} s)"
                self._check_throttle(reason)
                spent = time.monotonic() - started
                if spent + delay > self.policy.max_total_s:
                    raise RequestFailed(f"{what}: gave up after {spent:.0f} s and {attempt} attempts "
                                        f"(limit {self.policy.max_total_s:g} s per request; {reason})")
                if self.on_retry:
                    self.on_retry(what, reason, delay)
                self.control.sleep(delay)
            hint = None
            self.limiter.wait(self.control)
            with self._lock:
                self.requests_sent += 1
            watch = Watch(time.monotonic() + self.policy.timeout_s, self.control)
            try:
                with watch:
                    response = self._fetch(url, params, headers, what)
                if watch.fired:  # the socket was cut mid-answer: headers or body may be partial, never used
                    raise requests.Timeout()
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
            with self._lock:
                if response.status_code != 429:
                    self._throttled_since = None
                elif self._throttled_since is None:
                    self._throttled_since = time.monotonic()
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
        self._check_throttle(reason)
        raise RequestFailed(f"{what}: gave up after {self.policy.max_retries + 1} attempts ({reason})")

    def _check_throttle(self, reason: str) -> None:
        """Stop the job (`Throttled`) once the server has answered only 429 for `max_throttled_s`."""
        with self._lock:
            since = self._throttled_since
        if since is not None and time.monotonic() - since > self.policy.max_throttled_s:
            raise Throttled(f"stopped: the server has answered only HTTP 429 (too many requests) for "
                            f"{time.monotonic() - since:.0f} s (last: {reason}); try again later, or with a "
                            f"lower --qps")

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
    """Seconds from a ``Retry-After: N`` header (the HTTP-date form is rare for APIs and ignored; so are
    NaN, infinities and absurd values, which the caller's cap would meet anyway)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), 86400.0 * 365)
