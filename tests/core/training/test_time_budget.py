"""The time budget: parsing, the choice (most accurate recipe predicted to fit, with why), the up-front
warning of a run predicted to take hours, costs measured on real photos, a real training run that trains
what the budget picked, and the plain progress lines `geospottr train` prints to a non-terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.progress_lines import ProgressLines
from core.errors import GeoSpottrError
from core.events import LOG, PROGRESS, Event
from core.training import budget, costs
from core.training.budget import Costs, choose, guard_warning, parse_duration, predict_s
from core.training.trainer import train
from tests.conftest import REPO, build_tiny_project

from .helpers import fast_config

#: A slow CPU's costs, in seconds per photo (the shape of what `costs.measure` found on the dev machine).
SLOW = Costs("cpu", decode_s=0.01, member_s={"efficientnet-lite0": 0.2, "efficientnet-lite1": 0.3,
                                             "efficientnet-lite2": 0.3, "colour": 0.02},
             finetune_step_s=0.04, finetune_eval_s=0.02)


def test_durations_parse_and_bad_ones_are_one_line_errors():
    assert parse_duration("30m") == 1800 and parse_duration("1h30m") == 5400 and parse_duration("90s") == 90
    assert parse_duration("1.5h") == 5400 and parse_duration("45") == 2700  # a bare number is minutes
    for bad in ("", "soon", "10 parsecs", "0m", "-5m", "nan"):
        with pytest.raises(GeoSpottrError, match="time budget"):
            parse_duration(bad)
    assert budget.duration_text(45) == "45s" and budget.duration_text(720) == "12m"
    assert budget.duration_text(6600) == "1h50m"


def test_the_most_accurate_recipe_that_fits_is_chosen_and_the_choice_says_why():
    n_train, n_val = 19_250, 4_125  # 27,500 photos, 70/15/15
    full = budget.RECIPES[1]
    assert predict_s(full, n_train, n_val, SLOW, 10) > 3600
    roomy = choose(100 * 3600, n_train, n_val, SLOW, 10, finetune_first=False)
    assert roomy.recipe == full and "too slow" not in roomy.why
    tight = choose(2 * 3600, n_train, n_val, SLOW, 10, finetune_first=False)
    assert tight.predicted_s <= 2 * 3600 and tight.recipe.members == ("efficientnet-lite0", "colour")
    assert full.name in tight.why and "too slow" in tight.why
    assert choose(2 * 3600, n_train, n_val, SLOW, 10, finetune_first=True).recipe.head == "probe"  # 10 epochs: too slow
    assert choose(10 * 3600, n_train, n_val, SLOW, 10, finetune_first=True).recipe.head == "finetune"
    hopeless = choose(60, n_train, n_val, SLOW, 10, finetune_first=False)
    assert "nothing is predicted to fit" in hopeless.why and hopeless.recipe == budget.RECIPES[-1]


def test_when_nothing_fits_the_fastest_recipe_trains_on_the_share_of_photos_that_does():
    n_train, n_val = 19_250, 4_125
    fastest = predict_s(budget.RECIPES[-1], n_train, n_val, SLOW, 10)
    picked = choose(fastest / 4, n_train, n_val, SLOW, 10, finetune_first=False)
    assert picked.recipe == budget.RECIPES[-1] and 0.2 < picked.share <= 0.25
    assert picked.predicted_s <= fastest / 4 * 1.01 and "25% of them" in picked.why
    floor = choose(1, n_train, n_val, SLOW, 10, finetune_first=False)  # a second: still a sensible probe
    assert round((n_train + n_val) * floor.share) == budget.MIN_SHARE_PHOTOS
    assert choose(fastest * 2, n_train, n_val, SLOW, 10, finetune_first=False).share == 1.0


def test_a_share_of_the_photos_keeps_every_city_and_whole_places_and_is_the_same_each_time():
    from core.training.data import Sample, subsample

    samples = [Sample(f"{city}-{place}-{view}.jpg", city, None, None, f"{city}-{place}")
               for city in range(5) for place in range(20 + 10 * city) for view in range(4)]
    picked = subsample(samples, 0.3, seed=7)
    assert picked == subsample(samples, 0.3, seed=7) != subsample(samples, 0.3, seed=8)
    for city in range(5):
        mine = [s for s in picked if s.label == city]
        total = sum(1 for s in samples if s.label == city)
        assert 0.3 * total <= len(mine) < 0.3 * total + 4  # whole places of 4 views
        places = {s.place for s in mine}
        assert all(sum(1 for s in mine if s.place == p) == 4 for p in places)
    assert [s for s in samples if s in picked] == picked  # order kept
    assert subsample(samples, 1.0, seed=0) == samples


def test_a_run_predicted_to_take_hours_says_so_and_names_the_faster_choice():
    line = guard_warning(budget.RECIPES[0], 19_250, 4_125, SLOW, 10, finetune_first=True)
    assert line and "predicted to take about 2h" in line and "(--time-budget 1h) picks" in line
    assert guard_warning(budget.RECIPES[-1], 300, 60, SLOW, 10, finetune_first=False) is None


@pytest.fixture
def project(tmp_path):
    p = build_tiny_project(tmp_path, per_city=10, size=(64, 48))
    yield p
    p.close()


def test_costs_are_measured_on_real_photos_and_kept(project, monkeypatch, one_torch_thread):
    monkeypatch.setattr(costs, "SAMPLE", 2)
    paths = [str(project.image_path(r)) for r in project.images(split="train")]
    kept = project.cache_dir / "costs.json"
    measured = costs.measure(paths, __import__("torch").device("cpu"), kept)
    assert measured.decode_s > 0 and measured.finetune_step_s > 0
    assert set(measured.member_s) == {"efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "colour"}
    assert all(v > 0 for v in measured.member_s.values())
    monkeypatch.setattr(costs, "Embedding", None)  # a second call measures nothing: it reads costs.json
    assert costs.measure(paths, __import__("torch").device("cpu"), kept) == measured


def test_a_run_with_a_budget_trains_the_recipe_it_picked(project, monkeypatch, one_torch_thread):
    monkeypatch.setattr(costs, "measure", lambda *a, **k: SLOW)  # a slow CPU's costs; the choice is real
    n_train, n_val = (len(list(project.images(split=split))) for split in ("train", "val"))
    lite0, with_colour = (predict_s(budget.RECIPES[i], n_train, n_val, SLOW, 2) for i in (-1, -2))
    events: list[Event] = []
    result = train(project, fast_config(arch="efficientnet-lite0", head="auto", image_size=48,
                                        time_budget=(lite0 + with_colour) / 2), on_event=events.append)
    assert result.status == "finished"
    config = json.loads((Path(result.run_dir) / "config.json").read_text())
    assert config["model"] == "efficientnet-lite0-probe" and config["time_budget"] == (lite0 + with_colour) / 2
    said = [e.message for e in events if e.kind == LOG and e.scope == "time budget"]
    assert said and "probe Lite0" in said[0] and "too slow" in said[0]


def test_a_run_whose_budget_nothing_fits_trains_on_fewer_photos_and_records_the_share(project, monkeypatch,
                                                                                       one_torch_thread):
    monkeypatch.setattr(costs, "measure", lambda *a, **k: SLOW)
    monkeypatch.setattr(budget, "MIN_SHARE_PHOTOS", 10)  # the tiny project is far below the real floor
    n_train = len(list(project.images(split="train")))
    events: list[Event] = []
    result = train(project, fast_config(arch="efficientnet-lite0", head="auto", image_size=48, time_budget=1.0),
                   on_event=events.append)
    assert result.status == "finished"
    config = json.loads((Path(result.run_dir) / "config.json").read_text())
    assert 0 < config["photo_share"] < 1
    said = [e.message for e in events if e.kind == LOG]
    assert any("drawn evenly per city by place" in line for line in said)
    sizes = [re.search(r"(\d+) train / \d+ val images", line) for line in said]
    assert [int(m.group(1)) for m in sizes if m][0] < n_train  # trained on fewer photos than the project has


def test_progress_lines_come_at_least_every_30_seconds_with_rate_and_eta():
    now = [0.0]
    lines: list[str] = []
    printer = ProgressLines(lines.append, clock=lambda: now[0])
    for step in range(1, 301):  # one step a second for five minutes
        now[0] = float(step)
        printer(Event(PROGRESS, f"epoch 1/1 loss {1 / step:.3f}", done=step, total=300, scope="training"))
    assert lines[0].startswith("training: 1/300") and lines[-1].startswith("training: 300/300 (100%)")
    assert len(lines) >= 300 / 30 and all("ETA" in line for line in lines[1:-1])  # the first has no rate yet


def test_train_to_a_non_terminal_prints_progress_lines(project):
    cmd = [sys.executable, "-m", "core", "--project", str(project.root), "train", "--arch", "baseline",
           "--image-size", "32", "--weights", "none", "--device", "cpu", "--workers", "0", "--epochs", "1",
           "--batch-size", "8", "--patience", "0"]
    out = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    progress = [line for line in out.stderr.splitlines() if line.startswith("training: ")]
    assert progress and "(100%)" in progress[-1]


def test_a_step_that_reports_nothing_gets_a_heartbeat_line():
    import time

    lines: list[str] = []
    printer = ProgressLines(lines.append, every=0.2)
    try:
        printer.note("fitting the probe on efficientnet-lite0 (1 of 4)")
        time.sleep(0.6)
    finally:
        printer.close()
    beats = [line for line in lines if line.startswith("still working")]
    assert beats and beats[0].endswith("after: fitting the probe on efficientnet-lite0 (1 of 4)")
    count = len(lines)
    time.sleep(0.3)
    assert len(lines) == count  # closed: no more lines


def test_a_job_that_reports_every_11_seconds_gets_progress_lines_not_heartbeats():
    """The heartbeat speaks only after silence: it once fired at every 20 s mark and starved the progress
    lines of a cache build reporting every 11 s (a real 4,000-photo run printed 'still working' for minutes)."""
    now = [0.0]
    written: list[tuple[float, str]] = []
    printer = ProgressLines(lambda text: written.append((now[0], text)), clock=lambda: now[0])
    for second in range(301):  # fake time: a report every 11 s, a heartbeat check every 4 s (its thread's rhythm)
        now[0] = float(second)
        if second % 11 == 0:
            printer(Event(PROGRESS, "caching", done=second, total=1000, scope="cache train"))
        if second % 4 == 0:
            printer.beat()
    times = [t for t, _ in written]
    assert not any(text.startswith("still working") for _, text in written)
    assert max(b - a for a, b in zip(times, times[1:])) <= 30
    now[0] += 60  # then a minute of silence: the heartbeat says so, at least every 30 s
    for _ in range(15):
        now[0] += 4
        printer.beat()
    assert sum(text.startswith("still working") for _, text in written) >= 2
