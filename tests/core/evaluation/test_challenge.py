"""Human vs model: seeded draws, both sides scored alike, games kept in the project database."""

from __future__ import annotations

import pytest

from core import geo
from core.errors import GeoSpottrError
from core.evaluation.challenge import Challenge, scoreboard, start_challenge


def test_the_same_seed_draws_the_same_images(project, predictor):
    a = start_challenge(project, predictor, rounds=4, seed=7)
    b = start_challenge(project, predictor, rounds=4, seed=7)
    c = start_challenge(project, predictor, rounds=4, seed=8)
    ids = lambda ch: [r.image_id for r in ch.rounds()]
    assert ids(a) == ids(b) != ids(c)
    test_ids = {r.id for r in project.images(split="test")}
    assert set(ids(a)) <= test_ids and len(set(ids(a))) == 4


def test_city_and_point_guesses_are_scored_like_the_model(project, predictor):
    game = start_challenge(project, predictor, rounds=3, seed=1, player="ana")
    first = game.next_round()
    assert first.number == 1 and not first.played
    truth = project.city(first.true_city)
    done = game.guess_city(1, truth.name, seconds=4.5)     # names, slugs and folded names all work
    assert done.played and done.human.correct and done.human.kind == "city"
    km = geo.haversine_km(truth.lat, truth.lon, first.true_lat, first.true_lon)
    # Both sides on the project's play area (its cities' bounding box), not the world map.
    scale = geo.play_area_km(project.cities())
    assert game.scale_km == pytest.approx(scale) and scale < 1000
    assert done.human.distance_km == pytest.approx(km) and done.human.points == geo.scaled_points(km, scale)
    assert done.model.points == geo.scaled_points(done.model.distance_km, scale)
    assert 0 < done.model.confidence <= 1
    with pytest.raises(GeoSpottrError, match="already played"):
        game.guess_city(1, truth.slug)

    second = game.next_round()
    point = game.guess_point(second.number, second.true_lat, second.true_lon, seconds=2.0)
    assert point.human.distance_km == pytest.approx(0.0, abs=1e-6) and point.human.points == 5000
    assert point.human.correct   # the nearest city to the true point is the true city
    third = game.rounds()[2]
    far = project.city("split") if third.true_city != "split" else project.city("osijek")
    with pytest.raises(GeoSpottrError, match="not in this project"):
        game.guess_city(3, "Atlantis")
    wrong = game.guess_city(3, far.slug, seconds=10)
    assert not wrong.human.correct and wrong.human.points < 5000

    summary = Challenge(project, game.id).summary()   # reopened from the database
    assert summary.scale_km == pytest.approx(scale)
    assert summary.rounds_played == summary.rounds_total == 3 and summary.player == "ana"
    assert summary.human.accuracy == pytest.approx(2 / 3)
    assert summary.human.mean_seconds == pytest.approx((4.5 + 2.0 + 10) / 3)
    assert summary.model_side.rounds == 3
    assert summary.human.total_points == sum(r.human.points for r in game.rounds())
    assert summary.winner in ("human", "model", "tie")
    assert game.next_round() is None
    assert scoreboard(project)[0].challenge_id == game.id


def test_bad_requests_are_clear_errors(project, predictor):
    game = start_challenge(project, predictor, rounds=1, seed=3)
    with pytest.raises(GeoSpottrError, match="not a point"):
        game.guess_point(1, 123.0, 0.0)
    with pytest.raises(GeoSpottrError, match="no round 5"):
        game.round(5)
    with pytest.raises(GeoSpottrError, match="no challenge"):
        Challenge(project, 99999)
    with pytest.raises(GeoSpottrError, match="at least 1"):
        start_challenge(project, predictor, rounds=0)
    summary = game.summary()
    assert summary.human is None and summary.winner is None


def test_more_rounds_than_places_plays_each_place_once(project, predictor):
    """The tiny project has two views per location: a game never shows the same place twice (issue 27)."""
    records = {r.id: r for r in project.images(split="test")}
    places = {r.location_id for r in records.values()}
    assert len(places) < len(records)  # the fixture does hold several views of one place
    rounds = start_challenge(project, predictor, rounds=len(records) + 5, seed=2).rounds()
    assert sorted(records[r.image_id].location_id for r in rounds) == sorted(places)
