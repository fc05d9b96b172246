"""City catalog search, ambiguity rules, safe slugs; distances and scores."""

import math
import random

import pytest

from core import geo
from core.data import catalog
from core.errors import GeoSpottrError


def test_search_lists_several_santiagos_with_countries():
    results = catalog.search("santiago")
    assert len(results) >= 5
    assert results[0].country == "CL"  # the famous one first (exact name, largest population)
    assert len({c.country for c in results}) >= 4


def test_resolve_picks_largest_and_country_pins():
    assert catalog.resolve("Santiago").country == "CL"
    assert catalog.resolve("Santiago,PH").country == "PH"
    assert catalog.resolve("zurich").name in ("Zurich", "Zürich")
    with pytest.raises(GeoSpottrError, match="no city"):
        catalog.resolve("Nowhereville Xyz")


def test_seed_preset_has_the_seed_slugs():
    slugs = [c.slug for c in catalog.preset("seed")]
    assert slugs == ["amsterdam", "berlin", "bogota", "buenosaires", "capetown", "chicago", "losangeles",
                     "melbourne", "milan", "montevideo", "newyork", "riodejaneiro", "santiago", "seoul",
                     "singapore", "taipei", "telaviv", "tokyo", "toronto", "vancouver", "vienna", "zurich"]


@pytest.mark.parametrize("name,slug", [("Buenos Aires", "buenosaires"), ("Bogotá", "bogota"), ("../../etc", "etc"),
                                       ("São Paulo", "saopaulo"), ("CON", "concity"), ("a/b\\c", "abc")])
def test_slugs_are_safe_folder_names(name, slug):
    assert catalog.slugify(name) == slug


def test_slug_of_nothing_is_an_error():
    with pytest.raises(GeoSpottrError):
        catalog.slugify("../..")


def test_haversine_and_points():
    # Zagreb -> Split is about 260 km as the crow flies.
    d = geo.haversine_km(45.8144, 15.978, 43.5081, 16.4402)
    assert 250 < d < 270
    assert geo.geoguessr_points(0) == 5000
    assert geo.geoguessr_points(1492.7) == round(5000 / math.e)


class _City:
    def __init__(self, lat: float, lon: float, radius_km: float | None = None) -> None:
        self.lat, self.lon, self.radius_km = lat, lon, radius_km


def test_points_scale_with_the_play_area_as_geoguessr_scales_them_with_the_map():
    # Cities spanning about 400 km (Pula to Osijek, roughly): a guess 397 km off is a poor guess there,
    # not the 3,833 of 5,000 the world map would give.
    croatia = [_City(44.87, 13.85), _City(45.55, 18.69), _City(43.51, 16.44), _City(45.81, 15.98)]
    d = geo.play_area_km(croatia)
    assert 350 < d < 600
    assert geo.geoguessr_points(397) > 3800
    assert geo.scaled_points(397, d) < 10
    assert geo.scaled_points(0, d) == 5000
    assert geo.scaled_points(d / 10, d) == round(5000 / math.e)
    # The world formula is the scaled one with the world map's diagonal.
    assert geo.scaled_points(1492.7, geo.WORLD_DIAGONAL_KM) == geo.geoguessr_points(1492.7)


def test_a_world_spanning_project_plays_on_the_world_map_and_one_town_has_a_floor():
    world = [_City(45.8, 16.0), _City(-33.4, -70.6), _City(35.7, 139.7)]
    assert geo.play_area_km(world) == geo.WORLD_DIAGONAL_KM
    assert geo.play_area_km([]) == geo.WORLD_DIAGONAL_KM
    town = geo.play_area_km([_City(45.0, 16.0, radius_km=0.5)])
    assert town == geo.MIN_PLAY_AREA_KM
    assert 25 < geo.play_area_km([_City(45.0, 16.0)]) < 30  # the default 10 km reach each way


def test_random_points_stay_in_radius_and_fill_it():
    rng = random.Random(1)
    dists = [geo.haversine_km(45.0, 16.0, *geo.random_point_in_radius(45.0, 16.0, 10.0, rng)) for _ in range(2000)]
    assert max(dists) <= 10.0 + 1e-6
    # Uniform over the disc: half the points lie beyond R/sqrt(2).
    outer = sum(d > 10 / math.sqrt(2) for d in dists) / len(dists)
    assert 0.45 < outer < 0.55
