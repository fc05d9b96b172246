"""Street View downloads against the loopback fake API: coverage gaps, shared panoramas, faults, a
denied key, placeholders, signing, budget, cancel, resume."""

from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import replace

import pytest

from core.acquisition import DownloadCancelled, estimate_cost, run_download
from core.acquisition.photos import looks_like_placeholder
from core.errors import GeoSpottrError
from core.events import PROGRESS, Control
from core.imaging import load_image

from .fake_apis import jpeg, placeholder_jpeg


def _files(project) -> set[str]:
    return {p.relative_to(project.root).as_posix() for p in project.images_dir.rglob("*.jpg")}


def _assert_consistent(project) -> None:
    """Every row has its file and every file its row; one image per panorama."""
    rows = project.images()
    assert {r.path for r in rows} == _files(project)
    ids = [r.source_id for r in rows]
    assert len(ids) == len(set(ids))


def test_three_cities_twenty_each(project, apis, sv_config, caplog):
    events = []
    caplog.set_level(logging.DEBUG)
    summary = run_download(project, sv_config, on_event=events.append)

    assert project.city_counts() == {"rijeka": 20, "split": 20, "zagreb": 20}
    rows = project.images(source="streetview")
    assert len({r.source_id for r in rows}) == 60
    panos = {p.pano_id: p for p in apis.world.panos}
    for r in rows:
        pano = panos[r.source_id]
        assert (r.lat, r.lon, r.captured_at) == (pano.lat, pano.lon, pano.date)  # the panorama's, not the point's
        assert (r.width, r.height, r.pitch, r.fov) == (64, 64, 20.0, 90.0)
        assert min(abs(r.heading - k) for k in (0, 90, 180, 270, 360)) <= 15
        assert r.attribution == "© Google" and "Street View" in r.licence and r.location_id == r.source_id
        assert r.source_id.startswith(r.city_slug)
        load_image(project.image_path(r))
    _assert_consistent(project)
    assert summary.total("saved") == 60 and summary.image_requests == 60
    assert summary.total("no_coverage") > 0      # the west halves have no panoramas
    assert summary.total("duplicates") > 0       # 300 m snapping: several points share a panorama
    assert summary.cost == pytest.approx(60 * 7.0 / 1000)
    assert apis.world.counts["image"] == 60      # never paid for a duplicate
    per_city = [e for e in events if e.kind == PROGRESS and e.scope == "zagreb"]
    assert per_city[-1].done == 20 and per_city[-1].total == 20 and per_city[-1].data["cost"] > 0

    key = apis.world.key.encode()
    assert all(key not in p.read_bytes() for p in project.root.rglob("*") if p.is_file())
    assert "key=***" in caplog.text and apis.world.key not in caplog.text  # urllib3 logs URLs at DEBUG
    assert all(apis.world.key not in e.message for e in events)


def test_rerun_resumes_and_never_retries_a_point(project, apis, sv_config):
    config = replace(sv_config, workers=1, cities=["zagreb"], per_city=6)
    run_download(project, config)
    first = apis.world.counts["metadata"]
    assert estimate_cost(project, config).images == 0
    run_download(project, config)  # nothing missing: no request at all
    assert apis.world.counts["metadata"] == first

    run_download(project, replace(config, per_city=12))
    assert project.city_counts()["zagreb"] == 12
    tried = project.conn.execute("SELECT COUNT(*) FROM sample_points").fetchone()[0]
    assert apis.world.counts["metadata"] == tried  # one metadata request per distinct point, ever
    _assert_consistent(project)


def test_rejected_images_are_replaced(project, apis, sv_config):
    config = replace(sv_config, cities=["split"], per_city=4)
    run_download(project, config)
    project.set_status([project.images(city="split")[0].id], "rejected", "blurry")
    assert estimate_cost(project, config).images == 1
    run_download(project, config)
    assert project.city_counts()["split"] == 4 and len(project.images(city="split")) == 5


def test_retries_429_bursts_500s_timeouts_and_over_query_limit(project, apis, sv_config):
    apis.world.slow_s = 0.8  # past the 0.5 s timeout
    apis.world.add_fault("metadata", "429", "429", "429", "500", "slow", "OVER_QUERY_LIMIT", "UNKNOWN_ERROR")
    apis.world.add_fault("image", "429", "429", "500", "slow")
    summary = run_download(project, replace(sv_config, cities=["rijeka"], per_city=5, workers=2))
    assert project.city_counts()["rijeka"] == 5
    assert summary.total("errors") == 0 and summary.retries >= 11
    _assert_consistent(project)


def test_giving_up_counts_an_error_and_goes_on(project, apis, sv_config):
    apis.world.add_fault("metadata", *["500"] * 6)  # max_retries=5: six failures exhaust one point
    events = []
    summary = run_download(project, replace(sv_config, cities=["rijeka"], per_city=3, workers=1), on_event=events.append)
    assert summary.total("errors") == 1 and project.city_counts()["rijeka"] == 3
    assert any(e.kind == "error" and "gave up after 6 attempts (HTTP 500)" in e.message for e in events)


def test_dead_server_stops_the_job(project, apis, sv_config):
    apis.world.add_fault("metadata", *["500"] * 200)
    config = replace(sv_config, retry=replace(sv_config.retry, max_retries=0), max_consecutive_errors=5, workers=1)
    with pytest.raises(GeoSpottrError, match="5 failed requests in a row"):
        run_download(project, config)


def test_denied_key_stops_with_the_api_message_and_no_key(project, apis, sv_config):
    bad = "AIza-wrong-key-SECRET"
    with pytest.raises(GeoSpottrError) as info:
        run_download(project, replace(sv_config, key=bad))
    message = str(info.value)
    assert "REQUEST_DENIED" in message and "The provided API key is invalid." in message and bad not in message
    assert project.images() == []


def test_placeholder_never_saved_even_when_a_proxy_drops_return_error_code(project, apis, sv_config):
    for pano in apis.world.panos[::3]:
        pano.has_imagery = False
    apis.world.ignore_return_error_code = True
    events = []
    config = replace(sv_config, cities=["zagreb"], per_city=10)
    # Refused placeholders are billed too: a run stops at its estimate's bound, and Start again goes on.
    runs = []
    while project.city_counts()["zagreb"] < 10 and len(runs) < 6:
        estimate = estimate_cost(project, config)
        summary = run_download(project, config, on_event=events.append)
        runs.append(summary)
        assert summary.image_requests <= estimate.max_requests and summary.cost <= estimate.cost
    assert sum(r.total("rejected") for r in runs) > 0 and project.city_counts()["zagreb"] == 10
    assert sum(r.image_requests for r in runs) == apis.world.counts["image"] == runs[-1].job_requests
    blank = {p.pano_id for p in apis.world.panos if not p.has_imagery}
    assert not blank & {r.source_id for r in project.images()}
    assert any("placeholder" in e.message for e in events if e.kind == "warning")
    # a rejected panorama is remembered: no second billed request for it
    rejected = project.conn.execute("SELECT source_id FROM sample_points WHERE outcome = 'rejected'").fetchall()
    assert len(rejected) == len({r[0] for r in rejected}) == sum(r.total("rejected") for r in runs)


def test_return_error_code_404_is_no_coverage(project, apis, sv_config):
    for pano in apis.world.panos[::3]:
        pano.has_imagery = False
    summary = run_download(project, replace(sv_config, cities=["zagreb"], per_city=10))
    assert summary.total("rejected") == 0 and project.city_counts()["zagreb"] == 10


def test_placeholder_detector():
    import io

    from PIL import Image

    assert looks_like_placeholder(Image.open(io.BytesIO(placeholder_jpeg((640, 640)))))
    assert not looks_like_placeholder(Image.open(io.BytesIO(jpeg((640, 640), "street"))))


def test_signed_urls(project, apis, sv_config):
    secret = base64.urlsafe_b64encode(b"sixteen byte key").decode()
    apis.world.signing_secret = secret
    config = replace(sv_config, cities=["split"], per_city=2)
    with pytest.raises(GeoSpottrError, match="signature is invalid"):
        run_download(project, replace(config, signing_secret=base64.urlsafe_b64encode(b"another key.....").decode()))
    run_download(project, replace(config, signing_secret=secret))
    assert project.city_counts()["split"] == 2


def test_budget_caps_image_requests(project, apis, sv_config):
    summary = run_download(project, replace(sv_config, max_image_requests=7))
    assert summary.image_requests == 7 and apis.world.counts["image"] == 7
    assert "budget" in summary.stop_reason and len(project.images()) == 7


def test_the_estimate_bounds_the_spend_and_counts_refused_placeholders(project, apis, sv_config):
    for pano in apis.world.panos[::2]:   # half the panoramas answer with a billed grey placeholder
        pano.has_imagery = False
    apis.world.ignore_return_error_code = True
    config = replace(sv_config, cities=["split"], per_city=12)
    first = estimate_cost(project, config)
    assert first.max_requests == 12 + first.refusal_allowance and first.refusal_allowance > 0
    assert first.cost == pytest.approx(first.max_requests * 7.0 / 1000)
    summary = run_download(project, config)
    # The "at most" was honest: the run stopped at it, and says why and how many were refused.
    assert summary.image_requests == apis.world.counts["image"] <= first.max_requests
    assert summary.cost <= first.cost
    assert "bound" in summary.stop_reason and "refused" in summary.stop_reason
    # Start again: the next estimate knows this area's refusal rate and what the job already spent.
    again = estimate_cost(project, config)
    assert again.refused_share > first.refused_share
    assert again.spent_requests == summary.image_requests and again.spent_refused == summary.total("rejected") > 0
    assert f"${again.spent:,.2f}" in again.describe() and "refused placeholders" in again.describe()


def test_spend_adds_up_across_cancel_and_restart_then_resets(project, apis, sv_config):
    apis.world.image_delay_s = 0.03
    config = replace(sv_config, cities=["zagreb"], per_city=12, workers=2)
    control = Control()

    def cancel_after_three(event):
        if event.kind == PROGRESS and event.data.get("image_requests", 0) >= 3:
            control.cancel()

    with pytest.raises(DownloadCancelled) as cancelled:
        run_download(project, config, on_event=cancel_after_three, control=control)
    paid = apis.world.counts["image"]
    assert paid >= 3 and cancelled.value.summary.image_requests == paid
    assert estimate_cost(project, config).spent_requests == paid   # persisted: survives an app restart
    progress = []
    summary = run_download(project, config, on_event=progress.append)
    assert summary.earlier_requests == paid and summary.job_requests == apis.world.counts["image"]
    last = [e for e in progress if e.kind == PROGRESS][-1]
    assert last.data["job_image_requests"] == summary.job_requests
    assert last.data["job_cost"] == pytest.approx(summary.job_cost) and summary.job_cost > summary.cost
    # That job ended by itself: the next download starts from $0.
    assert estimate_cost(project, config).spent_requests == 0


def test_cancel_from_another_thread_finishes_in_flight_images(project, apis, sv_config):
    apis.world.image_delay_s = 0.05
    control = Control()
    outcome = {}

    def work():
        try:
            run_download(project, sv_config, control=control)
        except DownloadCancelled as exc:
            outcome["summary"] = exc.summary

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 20
    while len(project.images()) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    control.cancel()
    thread.join(10)
    assert not thread.is_alive() and "summary" in outcome
    saved = len(project.images())
    assert 5 <= saved < 60 and outcome["summary"].total("saved") == saved
    assert apis.world.counts["image"] == saved  # every image paid for was stored
    _assert_consistent(project)


def test_missing_key_is_a_clear_error(project, sv_config):
    with pytest.raises(GeoSpottrError, match="GOOGLE_MAPS_API_KEY"):
        run_download(project, replace(sv_config, key=None))


def test_key_from_the_environment_and_the_keyring(monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    from core.acquisition import keys

    class MemoryKeyring(KeyringBackend):
        priority = 1
        store: dict = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        assert keys.find_secret(keys.GOOGLE_KEY) is None
        keyring.set_password("geospottr", "google_maps_api_key", "from-keyring")
        assert keys.find_secret(keys.GOOGLE_KEY) == "from-keyring"
        monkeypatch.setenv("GOOGLE_MAPS_API_KEY", "from-env")
        assert keys.find_secret(keys.GOOGLE_KEY) == "from-env"
        assert keys.find_secret(keys.GOOGLE_KEY, "explicit") == "explicit"
    finally:
        keyring.set_keyring(previous)


def test_second_job_on_one_project_is_refused(project, apis, sv_config):
    from filelock import FileLock

    with FileLock(str(project.cache_dir / "download.lock")):
        with pytest.raises(GeoSpottrError, match="another download is running"):
            run_download(project, sv_config)


def test_points_from_an_address_book(project, apis, sv_config, tmp_path):
    import json

    from core.acquisition.sampling import point_key

    zagreb = project.city("zagreb")
    addresses = [(zagreb.lat + 0.0005 * i, zagreb.lon + 0.0007 * (i % 7)) for i in range(12)]
    path = tmp_path / "hr.geojson"
    path.write_text("".join(json.dumps({"type": "Feature", "properties": {"number": str(i)},
                                        "geometry": {"type": "Point", "coordinates": [lon, lat]}}) + "\n"
                            for i, (lat, lon) in enumerate(addresses)))
    config = replace(sv_config, cities=["zagreb"], per_city=30, addresses=path)
    summary = run_download(project, config)
    tried = {tuple(r) for r in project.conn.execute("SELECT lat_e6, lon_e6 FROM sample_points")}
    assert tried == {point_key(*a) for a in addresses}  # every address once, nothing else
    result = summary.cities["zagreb"]
    assert 0 < result.have < 30 and "no more untried points" in result.stop_reason
    again = run_download(project, config)  # a re-run asks about no address twice
    assert again.cities["zagreb"].points == 0 and apis.world.counts["metadata"] == 12
