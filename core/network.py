"""Is a server there at all? One quick check before work that cannot start without it.

Every request of GeoSpottr has a total deadline, not just a per-read timeout: a server that drips one byte
every two seconds would otherwise keep a read "alive" for hours. `Watch` shuts the attempt's socket down
when the deadline passes (or `CANCEL_GRACE_S` after a cancel); `WatchedAdapter` tells it which socket.
`core.acquisition.http` uses both for every GET, `check_reachable` for its HEAD.

Why a reachability check: offline, a failed name lookup or a refused connection does not heal in the next minutes, yet a
download retried it with backoff for minutes (`core.acquisition.http` rightly retries 5xx and timeouts),
and torch printed its own "Downloading: ..." line before failing. Checking first turns both into one
clear line within seconds.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import GeoSpottrError
from .events import Control

#: The `Watch` of the attempt running on this thread, found by the connection pool (below).
_CURRENT = threading.local()
#: How often a watchdog looks at the clock and the cancel flag.
_WATCH_TICK_S = 0.05
#: After a cancel, an attempt in flight may still finish within this (an image already paid for is
#: worth keeping); then it is cut off.
CANCEL_GRACE_S = 2.0


class Watch:
    """Ends one attempt at its deadline or on cancel by shutting down its socket (a blocked read then
    returns at once), from a small thread of its own."""

    def __init__(self, deadline: float, control: Control) -> None:
        self.deadline, self.control = deadline, control
        self.conn: Any = None
        self.fired: str | None = None   # "deadline" | "cancel"
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http-watchdog", daemon=True)

    def __enter__(self) -> "Watch":
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


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose pools tell the running attempt's `Watch` which connection it uses."""

    _POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._POOLS)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = dict(self._POOLS)
        return manager


#: How long to wait for any answer: a working network answers in well under a second.
REACH_TIMEOUT_S = 5.0


def check_reachable(url: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Raise `GeoSpottrError` ("cannot reach HOST: no network? (why)") unless the server at `url` answers.

    Any HTTP answer, even 404, proves the server is there. A HEAD request without credentials: nothing
    billed, no key sent. Honours the usual proxy variables (HTTPS_PROXY, NO_PROXY), as the real requests do.
    `timeout_s` is a total deadline (`Watch`): a server that drips its header bytes cannot hold it longer."""
    host = urlsplit(url).hostname or url
    session = requests.Session()
    adapter = WatchedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    watch = Watch(time.monotonic() + timeout_s, Control())
    try:
        with watch:
            session.head(url, timeout=timeout_s, allow_redirects=False).close()
        if watch.fired:  # cut off mid-headers: what was parsed is no answer
            raise requests.Timeout()
    except (requests.RequestException, OSError) as exc:
        if watch.fired or isinstance(exc, requests.Timeout):
            raise GeoSpottrError(f"cannot reach {host}: no network? (no complete answer within {timeout_s:g} s)") from None
        text = str(exc)
        why = ("its name does not resolve" if "resolve" in text or "Name or service" in text
               else "connection refused" if "refused" in text.lower() else "connection failed")
        raise GeoSpottrError(f"cannot reach {host}: no network? ({why})") from None
    finally:
        session.close()


#: The Hugging Face hub, where the optional CLIP models come from (StreetCLIP, GeoCLIP's backbone).
HUB_URL = "https://huggingface.co"
#: How long the hub may take to answer before a model is fetched from it.
HUB_CHECK_S = 2.0


def hub_source(name: str, example: str, role: str) -> Path | str:
    """Where a `--weights` model comes from: an existing local folder (returned as a `Path`) or a hub name
    like `example` (returned as given), the hub asked first (`HUB_CHECK_S`) so that offline is one line
    instead of the hub client's 30 s of retries. A name that cannot be a hub name (no "owner/model", a file
    suffix, or a path start) is a folder that does not exist. `role` says what the folder should hold."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        return folder
    if "/" not in name or Path(name).suffix or name.startswith((".", "/", "~")):
        raise GeoSpottrError(f"--weights {name}: no such folder (give {role} as a folder, or a hub name like "
                             f"{example})")
    try:
        check_reachable(HUB_URL, timeout_s=HUB_CHECK_S)
    except GeoSpottrError as exc:
        raise GeoSpottrError(f"{exc}; {name} comes from there: download it where there is a network "
                             f"(`hf download {name} --local-dir DIR`) and pass --weights DIR") from None
    return name
