"""Geo (haversine) label smoothing targets and the training loss."""

from __future__ import annotations

import pytest
import torch

from core.geo import haversine_km
from core.models.bundle import ClassInfo
from core.training.losses import TrainingLoss, default_geo_tau_km, geo_targets

# Zagreb, Osijek, Rijeka, Split: Zagreb's nearest is Rijeka (~130 km), Split is ~260 km away.
CITIES = [ClassInfo("osijek", "Osijek", "HR", 45.5511, 18.6939), ClassInfo("rijeka", "Rijeka", "HR", 45.3431, 14.4092),
          ClassInfo("split", "Split", "HR", 43.5089, 16.4392), ClassInfo("zagreb", "Zagreb", "HR", 45.8144, 15.9780)]


def test_default_tau_is_a_third_of_the_median_nearest_city_distance():
    nearest = sorted(min(haversine_km(a.lat, a.lon, b.lat, b.lon) for b in CITIES if b is not a) for a in CITIES)
    assert default_geo_tau_km(CITIES) == pytest.approx((nearest[1] + nearest[2]) / 2 / 3)
    assert 30 < default_geo_tau_km(CITIES) < 80


def test_geo_targets_sum_to_one_peak_at_the_true_city_and_decay_with_distance():
    zagreb = 3
    t = geo_targets([zagreb, zagreb, 0], [(45.80, 15.95), (None, None), (45.55, 18.69)], CITIES, tau_km=50)
    assert torch.allclose(t.sum(1), torch.ones(3))
    assert (t.argmax(1) == torch.tensor([zagreb, zagreb, 0])).all()
    row = t[0]
    assert row[1] > row[2]  # Rijeka (near Zagreb) gets more mass than Split (far)
    assert row[2] > 0
    assert torch.allclose(t[1], geo_targets([zagreb], [(CITIES[3].lat, CITIES[3].lon)], CITIES, 50)[0])


def test_a_smaller_tau_concentrates_the_target():
    wide = geo_targets([3], [(45.8, 15.95)], CITIES, tau_km=200)[0]
    narrow = geo_targets([3], [(45.8, 15.95)], CITIES, tau_km=20)[0]
    assert narrow[3] > wide[3] > 0.25


def test_training_loss_uses_geo_targets_by_sample_index():
    targets = geo_targets([0, 1], [(None, None), (None, None)], CITIES, tau_km=60)
    loss = TrainingLoss(geo=targets)
    logits = torch.log(targets.clone())
    good = loss(logits, torch.tensor([0, 1]), torch.tensor([0, 1]))
    swapped = loss(logits, torch.tensor([0, 1]), torch.tensor([1, 0]))
    assert good < swapped
    plain = TrainingLoss(label_smoothing=0.1)(torch.zeros(2, 4), torch.tensor([0, 1]), torch.tensor([0, 1]))
    assert plain.item() == pytest.approx(torch.log(torch.tensor(4.0)).item(), rel=1e-5)
