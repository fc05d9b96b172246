"""Is a server there at all? One quick check before work that cannot start without it.

Why: offline, a failed name lookup or a refused connection does not heal in the next minutes, yet a
download retried it with backoff for minutes (`core.acquisition.http` rightly retries 5xx and timeouts),
and torch printed its own "Downloading: ..." line before failing. Checking first turns both into one
clear line within seconds.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import GeoSpottrError

#: How long to wait for any answer: a working network answers in well under a second.
REACH_TIMEOUT_S = 5.0


def check_reachable(url: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Raise `GeoSpottrError` ("cannot reach HOST: no network? (why)") unless the server at `url` answers.

    Any HTTP answer, even 404, proves the server is there. A HEAD request without credentials: nothing
    billed, no key sent. Honours the usual proxy variables (HTTPS_PROXY, NO_PROXY), as the real requests do."""
    import requests

    host = urlsplit(url).hostname or url
    try:
        requests.head(url, timeout=timeout_s, allow_redirects=False).close()
    except requests.Timeout:
        raise GeoSpottrError(f"cannot reach {host}: no network? (no answer within {timeout_s:g} s)") from None
    except requests.RequestException as exc:
        text = str(exc)
        why = ("its name does not resolve" if "resolve" in text or "Name or service" in text
               else "connection refused" if "refused" in text.lower() else "connection failed")
        raise GeoSpottrError(f"cannot reach {host}: no network? ({why})") from None
