"""Issue 24 item 4: nothing hangs. A run file (status.json, metrics.jsonl, control.json, config.json) that is a
FIFO, a /dev/zero symlink or a huge sparse file gives one line (`runs`, `runs --follow`, `runs --send`, the
trainer's control relay, the app's runs list, which lists off the UI thread); a server that answers 429
with ``Retry-After: 3600`` forever is given up on within bounds and the cap is said; a HEAD whose headers
drip meets its total deadline; an address file with a 1 GiB feature or a 3 GiB line (gzip bombs, built in
milliseconds from repeated gzip members) ends at once with a clear line."""

from __future__ import annotations

import gzip
import os
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.acquisition.http import HttpClient, RequestFailed, RetryPolicy, Throttled
from core.acquisition.sampling import MAX_RECORD_CHARS, read_points
from core.errors import GeoSpottrError
from core.events import Control
from core.network import check_reachable
from core.training import runcontrol, runs
from core.training.trainer import TrainControl

from .conftest import cli, one_line_error

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(),
                                reason="needs FIFOs and /dev/zero")


def _run(proj, run_id="20260101-000000-baseline"):
    folder = proj.runs_dir / run_id
    folder.mkdir(parents=True)
    runs.write_json(folder / runs.CONFIG, {"arch": "baseline", "epochs": 2})
    runs.write_json(folder / runs.STATUS, {"status": "stopped"})
    return folder


def _make(kind, path):
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    else:
        with path.open("wb") as fh:
            fh.truncate(8 * 1024**3)  # 8 GB that take no disk


KINDS = ["fifo", "dev_zero", "sparse"]
WORDS = {"fifo": "not a regular file", "dev_zero": "not a regular file", "sparse": "too large"}


@needs_fifo
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", [runs.STATUS, runs.METRICS, runs.CONFIG])
def test_runs_and_follow_give_one_line_for_a_run_file_that_is_no_file(proj, kind, name):
    folder = _run(proj)
    _make(kind, folder / name)
    listed = cli("--project", proj.root, "runs", timeout=60)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "unreadable" in listed.stdout and WORDS[kind] in listed.stderr and "Traceback" not in listed.stderr
    followed = cli("--project", proj.root, "runs", "--follow", folder.name, timeout=60)
    if name == runs.CONFIG:  # --follow never reads config.json: it ends (or says "no run") without waiting
        assert "Traceback" not in followed.stderr
    else:
        error = one_line_error(followed)
        assert WORDS[kind] in error and name in error


@needs_fifo
@pytest.mark.parametrize("kind", KINDS)
def test_send_and_the_trainers_relay_never_block_on_control_json(proj, kind):
    folder = _run(proj)
    _make(kind, folder / runcontrol.CONTROL)
    error = one_line_error(cli("--project", proj.root, "runs", "--send", "stop", folder.name, timeout=60))
    assert WORDS[kind] in error
    control = TrainControl()
    relay = runcontrol.ControlRelay(folder, control, lambda: {"epoch": 0})
    (folder / runcontrol.CONTROL).touch()  # a new mtime: the relay looks again
    started = time.monotonic()
    relay.check(heartbeat=True)
    assert time.monotonic() - started < 5 and WORDS[kind] in relay.problem and not control.cancelled
    assert runs.read_json(folder / runs.STATUS)["status"] == "running"  # the heartbeat still went out


def test_the_app_lists_runs_off_the_ui_thread(qtbot, proj, monkeypatch):
    from core.training import runs as runs_module
    from geospottr_gui.views.train.runs_list import RunsList

    folder = _run(proj)
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / runs.METRICS)
    seen: list[threading.Thread] = []
    real = runs_module.list_runs
    monkeypatch.setattr(runs_module, "list_runs", lambda p: seen.append(threading.current_thread()) or real(p))
    widget = RunsList(proj)
    qtbot.addWidget(widget)
    qtbot.waitUntil(lambda: widget.table.rowCount() == 1, timeout=20_000)
    assert seen and threading.main_thread() not in seen
    if hasattr(os, "mkfifo"):
        assert widget.table.item(0, 1).text() == "unreadable"
        assert "not a regular file" in widget.table.item(0, 1).toolTip()
    widget.shutdown()


# ---------------------------------------------------------------------------------------------- network
class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass


class _AlwaysBusy(_Quiet):
    def do_GET(self) -> None:
        self.send_response(429)
        self.send_header("Retry-After", "3600")
        self.send_header("Content-Length", "0")
        self.end_headers()


class _DripHead(_Quiet):
    """A HEAD answer whose header lines come one every 0.2 s, forever: each read is "alive"."""

    def do_HEAD(self) -> None:
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for i in range(100000):
                self.wfile.write(f"X-Drip-{i}: x\r\n".encode())
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass


def _serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/x"


def test_retry_after_is_capped_and_said_and_a_request_gives_up_within_its_total():
    server, url = _serve(_AlwaysBusy)
    said = []
    try:
        client = HttpClient(RetryPolicy(max_retries=50, base_delay_s=0.01, max_delay_s=0.05, timeout_s=2,
                                        max_total_s=0.6), Control(), on_retry=lambda w, r, d: said.append((r, d)))
        started = time.monotonic()
        with pytest.raises(RequestFailed, match="gave up after") as caught:
            client.get(url, "image")
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 5
    assert all(delay <= 0.05 for _, delay in said)
    assert "server asked to wait 3600 s; capped at 0.05 s" in said[0][0]
    assert "capped at 0.05 s" in str(caught.value) and "127.0.0.1" not in str(caught.value)


def test_a_server_answering_only_429_stops_the_whole_download(tmp_path):
    from core.acquisition.jobs import DownloadConfig, run_download
    from core.acquisition.streetview import StreetViewParams
    from tests.core.acquisition.conftest import make_project, make_world
    from tests.core.acquisition.fake_apis import FakeApis

    with FakeApis(make_world()) as apis, make_project(tmp_path / "p") as project:
        apis.world.add_fault("metadata", *["429"] * 100_000)
        config = DownloadConfig(provider="streetview", per_city=20, workers=2, seed=1, key=apis.world.key,
                                base_url=apis.streetview_url, streetview=StreetViewParams(size=64, radius_m=300),
                                retry=RetryPolicy(max_retries=4, base_delay_s=0.01, max_delay_s=0.02, timeout_s=2,
                                                  max_throttled_s=1.0),
                                qps=None, max_consecutive_errors=100_000)
        started = time.monotonic()
        with pytest.raises(Throttled, match="answered only HTTP 429"):
            run_download(project, config)
        assert time.monotonic() - started < 30
        assert not project.images()


def test_a_head_that_drips_its_headers_meets_the_total_deadline():
    server, url = _serve(_DripHead)
    started = time.monotonic()
    try:
        with pytest.raises(GeoSpottrError, match="no complete answer within 1 s"):
            check_reachable(url, timeout_s=1.0)
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 10


# ---------------------------------------------------------------------------------------------- address files
def _bomb(path: Path, prefix: bytes, filler: bytes, gib: float, suffix: bytes = b"") -> Path:
    """A gzip file decompressing to `prefix` + `gib` GiB of `filler` + `suffix`: one 16 MiB member of filler,
    compressed once, written again and again (gzip readers concatenate members), so it takes milliseconds."""
    block = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = block.compress(filler * (16 * 2**20 // len(filler))) + block.flush()
    with path.open("wb") as fh:
        fh.write(gzip.compress(prefix))
        for _ in range(int(gib * 64)):
            fh.write(member)
        fh.write(gzip.compress(suffix))
    return path


FEATURE = b'{"type": "Feature", "geometry": {"type": "Point", "coordinates": [15.98, 45.81]}}'


@pytest.mark.parametrize("name, prefix, filler, gib, words", [
    ("line.csv.gz", b"lon,lat\n15.9,45.8\n", b"9", 3, "a line longer than"),
    ("seq.geojson.gz", FEATURE + b"\n" + FEATURE[:-1] + b', "pad": "', b"a", 3, "a line longer than"),
    ("feature.geojson.gz", b'{"type": "FeatureCollection", "features": [' + FEATURE + b", " + FEATURE[:-1]
     + b', "pad": "', b"a", 1, "a feature longer than"),
    ("deep.geojson.gz", b'{"type": "FeatureCollection", "features": [', b"[", 0.05, "nested too deeply"),
    ("preamble.geojson.gz", b'{"type": "FeatureCollection", "name": "', b"a", 1, 'no "features" array in'),
])
def test_address_file_bombs_end_at_once_with_one_line(tmp_path, name, prefix, filler, gib, words):
    path = _bomb(tmp_path / name, prefix, filler, gib)
    assert path.stat().st_size < 8 * 2**20
    started = time.monotonic()
    points = []
    with pytest.raises(GeoSpottrError, match=words) as caught:
        for point in read_points(path):
            points.append(point)
    assert time.monotonic() - started < 10, "read on past the record cap"
    assert str(path) in str(caught.value) and len(points) <= 1
    assert MAX_RECORD_CHARS <= 16 * 2**20


@needs_fifo
@pytest.mark.parametrize("damage, words", [("fifo", "not a regular file"), ("truncated", "truncated"),
                                           ("garbage", "damaged")])
def test_an_address_file_that_is_no_file_or_a_broken_gzip_is_one_line(tmp_path, damage, words):
    path = tmp_path / "addresses.geojson.gz"
    if damage == "fifo":
        os.mkfifo(path)
    elif damage == "truncated":
        path.write_bytes(gzip.compress(b'{"type": "FeatureCollection", "features": [' + FEATURE * 200)[:300])
    else:
        path.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(2000))
    with pytest.raises(GeoSpottrError, match=words):
        list(read_points(path))
