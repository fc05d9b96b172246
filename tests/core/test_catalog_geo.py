"""City catalog search, ambiguity rules, safe slugs; distances and scores."""

import math
import random

import pytest

from core import catalog, geo
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


def test_random_points_stay_in_radius_and_fill_it():
    rng = random.Random(1)
    dists = [geo.haversine_km(45.0, 16.0, *geo.random_point_in_radius(45.0, 16.0, 10.0, rng)) for _ in range(2000)]
    assert max(dists) <= 10.0 + 1e-6
    # Uniform over the disc: half the points lie beyond R/sqrt(2).
    outer = sum(d > 10 / math.sqrt(2) for d in dists) / len(dists)
    assert 0.45 < outer < 0.55
