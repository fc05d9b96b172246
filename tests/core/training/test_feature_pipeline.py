"""The feature-caching pipeline (`core.training.cache.extract`): one decode per photo for every member,
chunked and resumable after ``kill -9``, a photo that fails to decode skipped and counted, and the cache
sharded across 2 gloo processes equal to the single-process one. Real JPEGs, real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.events import LOG, WARNING, Event
from core.training import cache, runs
from core.training import transforms as training_transforms
from core.training.trainer import train
from tests.conftest import REPO, make_photo

from . import cache_worker
from .helpers import fast_config
from .test_probe_balance import TINY_ENSEMBLE, TINY_PROBE

PHOTOS = 30  # 4 chunks of 8: the kill lands after the first, the shards get two each


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    for i in range(PHOTOS):
        make_photo(folder / f"{i:03d}.jpg", seed=i, size=(48, 40))
    return folder


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **extra}


def test_every_photo_is_decoded_once_for_all_members_of_an_ensemble(small_project, monkeypatch, tmp_path):
    decoded: list[str] = []
    real = training_transforms.load_image
    monkeypatch.setattr(training_transforms, "load_image", lambda path, *a, **k: decoded.append(str(path)) or real(path, *a, **k))
    monkeypatch.setattr(type(small_project), "cache_dir", property(lambda self: tmp_path / "cache"))
    result = train(small_project, fast_config(arch="efficientnet-lite-ensemble-probe", image_size=48,
                                              arch_kwargs=TINY_ENSEMBLE))
    assert result.status == "finished"
    assert len(TINY_ENSEMBLE["backbones"]) >= 2
    labelled = {str(small_project.image_path(r)) for split in ("train", "val") for r in small_project.images(split=split)}
    assert sorted(decoded) == sorted(labelled)  # every train and val photo, once, for both members
    assert len(list((tmp_path / "cache" / "probe").glob("*.npy"))) == 2 * len(TINY_ENSEMBLE["backbones"])


def test_a_photo_that_cannot_be_decoded_is_skipped_named_and_counted(small_project, monkeypatch, tmp_path):
    victim = small_project.image_path(next(iter(small_project.images(split="train"))))
    original = victim.read_bytes()
    victim.write_bytes(original[:200])  # a truncated JPEG in the middle of the job
    monkeypatch.setattr(type(small_project), "cache_dir", property(lambda self: tmp_path / "cache"))
    events: list[Event] = []
    try:
        result = train(small_project, fast_config(arch="efficientnet-lite0-probe", image_size=48,
                                                  arch_kwargs=TINY_PROBE), on_event=events.append)
    finally:
        victim.write_bytes(original)
    assert result.status == "finished"
    warnings = [e.message for e in events if e.kind == WARNING]
    assert any(str(victim) in w for w in warnings)
    train_count = len(list(small_project.images(split="train")))
    assert any(e.kind == LOG and f"1 of {train_count} photos could not be decoded" in e.message for e in events)
    logged = [json.loads(line) for line in (Path(result.run_dir) / runs.METRICS).read_text().splitlines()]
    assert any(str(victim) in r.get("message", "") for r in logged)  # a line in the run log


def test_a_build_killed_mid_way_resumes_from_its_last_chunk(photos, tmp_path):
    killed = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-m", "tests.core.training.cache_worker", str(photos), str(killed)],
                          env=_env(GEOSPOTTR_TEST_KILL_AT="cache-chunk"), cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    state = json.loads((killed / "member0.building.json").read_text())
    assert state["done"] == cache_worker.CHUNK and not (killed / "member0.npy").exists()
    calls: list[int] = []
    resumed = cache_worker.build(photos, killed, calls=calls)
    assert sum(calls) == PHOTOS - cache_worker.CHUNK  # only the rows after the committed chunk
    fresh = cache_worker.build(photos, tmp_path / "fresh")
    for (a, _), (b, _) in zip(resumed, fresh):
        assert np.array_equal(a, b)
    assert not list(killed.glob("*.building.*"))  # no state, no half array, no lock file left


@pytest.mark.parametrize("damage", [
    lambda path: path.write_bytes(path.read_bytes()[:150]),                        # cut inside the rows
    lambda path: path.write_bytes(b"\x80\x04K\x01." * 40),                          # a pickle, not an array
    lambda path: np.save(path, np.zeros((PHOTOS + 1, 16), np.float16)),            # one row too many
    lambda path: np.save(path, np.zeros((PHOTOS, 16), np.float64)),                # not this build's type
])
def test_a_damaged_finished_cache_is_rebuilt_with_a_warning_not_read(photos, tmp_path, damage):
    fresh = cache_worker.build(photos, tmp_path / "fresh")
    folder = tmp_path / "damaged"
    cache_worker.build(photos, folder)
    damage(folder / "member0.npy")
    calls: list[int] = []
    events: list[Event] = []
    rebuilt = cache_worker.build(photos, folder, calls=calls, on_event=events.append)
    assert sum(calls) == PHOTOS  # one pass, for the damaged member only
    assert any(e.kind == WARNING and "member0.npy: a damaged feature cache, rebuilt" in e.message for e in events)
    for (a, _), (b, _) in zip(rebuilt, fresh):
        assert np.array_equal(a, b)


def test_a_damaged_resume_state_starts_the_build_over(photos, tmp_path):
    killed = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-m", "tests.core.training.cache_worker", str(photos), str(killed)],
                          env=_env(GEOSPOTTR_TEST_KILL_AT="cache-chunk"), cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    state = killed / "member0.building.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), "bad": {"three": "x"}}))  # not an index
    calls: list[int] = []
    resumed = cache_worker.build(photos, killed, calls=calls)
    assert sum(calls) == PHOTOS  # nothing trusted from the damaged state: every row again
    fresh = cache_worker.build(photos, tmp_path / "fresh")
    for (a, _), (b, _) in zip(resumed, fresh):
        assert np.array_equal(a, b)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_cache_sharded_over_two_gloo_processes_equals_the_single_process_one(photos, tmp_path):
    sharded = tmp_path / "sharded"
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, "-m", "tests.core.training.cache_worker", str(photos), str(sharded)],
                              env=_env(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                                       MASTER_PORT=port), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for rank in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err.decode()[-2000:]
    single = cache_worker.build(photos, tmp_path / "single")
    for i, (rows, _) in enumerate(single):
        assert np.array_equal(np.load(sharded / f"member{i}.npy"), rows)


def test_batches_fit_the_available_memory():
    assert cache.batch_for_memory(16, 640, 320, 6, available=16 * 1024 ** 3) == 16
    small = cache.batch_for_memory(16, 640, 320, 6, available=512 * 1024 ** 2)
    assert 1 <= small < 16
    assert cache.batch_for_memory(16, 640, available=1) == 1


def test_a_fine_tune_skips_a_photo_it_cannot_decode(small_project, tmp_path):
    victims = [small_project.image_path(r) for split in ("train", "val")
               for r in list(small_project.images(split=split))[:1]]
    originals = [v.read_bytes() for v in victims]
    for v in victims:
        v.write_bytes(b"not a jpeg at all")
    events: list[Event] = []
    try:
        result = train(small_project, fast_config(epochs=2), on_event=events.append)
    finally:
        for v, data in zip(victims, originals):
            v.write_bytes(data)
    assert result.status == "finished" and result.epochs_done == 2
    warned = [e.message for e in events if e.kind == WARNING]
    assert all(sum(str(v) in w for w in warned) == 1 for v in victims)  # named once, not once per epoch
    assert any(e.kind == LOG and e.message.startswith("2 photos could not be decoded") for e in events)
