"""Issue 15 items 6 and 14: a server that drips its answer cannot hold a request past its deadline, Cancel
stops at once, and no form of a key (plain, URL-encoded) or URL signature reaches a message."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.acquisition.http import CANCEL_GRACE_S, HttpClient, RequestFailed, RetryPolicy, Transient
from core.acquisition.keys import redact
from core.errors import Cancelled
from core.events import Control


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass


class _Drip(_Quiet):
    """Headers at once, then one body byte every 0.2 s (each read is "alive": a per-read timeout never fires)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass


@pytest.fixture
def drip_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/image"
    server.shutdown()
    server.server_close()


def _in_thread(call):
    """Run `call` in a thread; the test fails (instead of hanging CI) if it is still running after 60 s."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "request still running after 60 s: no total deadline"
    return outcome


def test_a_dripping_server_meets_the_total_deadline(drip_url):
    client = HttpClient(RetryPolicy(max_retries=1, base_delay_s=0.01, max_delay_s=0.01, timeout_s=1.0), Control())
    outcome = _in_thread(lambda: client.get(drip_url, "image"))
    assert isinstance(outcome.get("error"), RequestFailed)
    assert "no complete answer within 1 s" in str(outcome["error"]) and "127.0.0.1" not in str(outcome["error"])


def test_cancel_ends_a_dripping_request_within_the_grace(drip_url):
    control = Control()
    client = HttpClient(RetryPolicy(max_retries=3, timeout_s=300), control)
    threading.Timer(0.3, control.cancel).start()
    started = time.monotonic()
    outcome = _in_thread(lambda: client.get(drip_url, "image"))
    assert isinstance(outcome.get("error"), Cancelled)
    print(f"cancel took {time.monotonic() - started:.2f} s (grace {CANCEL_GRACE_S} s)")


def test_every_form_of_a_secret_is_redacted():
    key, signing = "AIza+key/with=odd", "c2VjcmV0"
    text = ("GET /maps?location=1,2&key=AIza%2Bkey%2Fwith%3Dodd&signature=Zm9v-bar_= failed; "
            "echo AIza+key/with=odd, AIza%2Bkey%2Fwith%3Dodd, AIza+key%2Fwith%3Dodd, c2VjcmV0 "
            "https://x/?access_token=MLY|123|abc")
    clean = redact(text, [key, signing])
    for leak in ("AIza", "%2Bkey", "Zm9v", "c2VjcmV0", "MLY|123"):
        assert leak not in clean, clean
    assert clean.count("***") >= 6


class _Ok(_Quiet):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def test_a_retry_reason_echoing_the_url_is_redacted():
    """requests URL-encodes the key into the query (``+`` -> ``%2B``): that form must not leak either."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    key = "AIza+key/with=odd"

    def check(response):
        raise Transient(f"server said no for {response.url}")

    try:
        client = HttpClient(RetryPolicy(max_retries=1, base_delay_s=0.001, max_delay_s=0.001, timeout_s=5),
                            Control(), secrets=(key,))
        with pytest.raises(RequestFailed) as caught:
            client.get(f"http://127.0.0.1:{server.server_address[1]}/m", "metadata",
                       params={"key": key, "signature": "Zm9v"}, check=check)
    finally:
        server.shutdown()
        server.server_close()
    message = str(caught.value)
    assert "AIza" not in message and "%2B" not in message and "Zm9v" not in message and "***" in message
