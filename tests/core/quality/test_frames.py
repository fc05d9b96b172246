"""Frame checks on generated bad frames: each is named for what it is, good frames pass."""

from __future__ import annotations

import pytest

from core.quality.frames import FrameThresholds, classify, measure

from .conftest import blurred, bright_frame, dark_frame, placeholder_frame, street_like


@pytest.mark.parametrize("make, kind", [
    (placeholder_frame, "placeholder"),
    (dark_frame, "dark"),
    (bright_frame, "bright"),
    (lambda: blurred(street_like(12)), "blurry"),
    (lambda: blurred(street_like(13), 3).resize((160, 120)), "blurry"),
])
def test_bad_frames_are_named(make, kind):
    verdict = classify(measure(make()))
    assert verdict is not None and verdict[0] == kind, verdict
    assert 0 <= verdict[1] <= 1


def test_sharp_varied_frames_pass():
    for seed in range(5):
        assert classify(measure(street_like(seed))) is None


def test_thresholds_are_tunable():
    stats = measure(blurred(street_like(12), 2))
    assert classify(stats, FrameThresholds(blur=0.01)) is None
    assert classify(stats)[0] == "blurry"


def test_stats_round_trip_to_json_values():
    details = measure(street_like(1)).to_dict()
    assert set(details) == {"p5", "p95", "uniform_fraction", "sharpness"}
    assert all(isinstance(v, float) for v in details.values())
