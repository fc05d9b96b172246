"""The collect-next advisor on a real project with a planted weak city: it ranks first, its confusions are
named, its plan gets the most photos, sampled where its mistakes lie; `advise` writes the plan."""

from __future__ import annotations

import csv
import json

import pytest

from core.acquisition.jobs import DownloadConfig, estimate_cost
from core.acquisition.plan import load_plan
from core.acquisition.sampling import Area, Region
from core.cli.main import main
from core.data import catalog
from core.data.importing import import_source
from core.data.project import Project
from core.data.splitting import split_project
from core.evaluation.advisor import advise, city_cells
from core.evaluation.learning import learning_curve
from core.training.trainer import train
from tests.conftest import CROATIA_CITIES, make_photo

from .test_learning_curve import tiny_recipe

WEAK = "split"


@pytest.fixture(scope="module")
def weak_split_project(tmp_path_factory):
    """4 cities x 8 places x 2 views. Zagreb, Osijek and Rijeka each have their own palette; half of Split's
    places (north-east of its centre) look like the other cities, the other half (south-west) like Split."""
    root = tmp_path_factory.mktemp("advisor")
    project = Project.init(root / "project", [catalog.resolve(q) for q in CROATIA_CITIES], target_count=16)
    rows = []
    for k, city in enumerate(project.cities()):
        min_lon, min_lat, max_lon, max_lat = Area.of(city).bounds
        for place in range(8):
            confusing = city.slug == WEAK and place >= 4
            # Split's confusing places lie a quarter of the half-extent north-east of its centre, the rest
            # a quarter south-west: two different cells of the advisor's 4 x 4 grid.
            sign = 1 if confusing else -1
            lat = city.lat + sign * (max_lat - min_lat) / 8 + 0.0005 * place
            lon = city.lon + sign * (max_lon - min_lon) / 8 + 0.0005 * place
            for view in range(2):
                kind = (place + view) % 3 if confusing else k
                kind = kind if not confusing or kind != k else (k + 1) % 4
                path = make_photo(root / "src" / city.slug / f"{place}-{view}.jpg", 100 * k + 10 * place + view,
                                  (64, 48), kind)
                rows.append({"path": str(path), "city": city.slug, "lat": lat, "lon": lon,
                             "location_id": f"{city.slug}-{place}"})
    manifest = root / "src" / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "city", "lat", "lon", "location_id"])
        writer.writeheader()
        writer.writerows(rows)
    import_source(project, manifest)
    split_project(project, ratios=(0.7, 0.15, 0.15), seed=0)
    yield project
    project.close()


def test_the_planted_weak_city_ranks_first_and_gets_its_photos_where_its_mistakes_are(weak_split_project):
    project = weak_split_project
    curve = learning_curve(project, tiny_recipe())
    advice = advise(project, curve, photos=60)
    first = advice.cities[0]
    assert first.slug == WEAK, [(c.slug, round(c.gain, 4), c.f1_now.value) for c in advice.cities]
    assert first.f1_now.value == min(c.f1_now.value for c in advice.cities)
    assert first.mistaken_for and first.mistaken_for[0][0] != WEAK
    assert first.new == max(c.new for c in advice.cities) and sum(c.new for c in advice.cities) == 60
    # Its neediest cell is the north-east one, where its mistakes are.
    city = project.city(WEAK)
    top = first.cells[0]
    assert top.errors > 0 and top.bbox[1] >= city.lat and top.bbox[0] >= city.lon
    # The plan: absolute targets, sub-areas, and the downloader's own cost bound for them.
    plan = advice.plan()
    planned = {c.slug: c for c in plan.cities}
    assert planned[WEAK].new == first.new and planned[WEAK].areas[0].bbox == top.bbox
    config = plan.configure(DownloadConfig(provider="streetview"))
    assert advice.estimate == estimate_cost(project, config) and advice.estimate.images == 60
    assert "mistaken for" in "\n".join(advice.lines())


def test_cells_cover_the_region_and_rank_errors_and_empty_ones_above_well_covered_ones(tmp_path):
    with Project.init(tmp_path / "p", [catalog.resolve(q) for q in CROATIA_CITIES]) as project:
        zagreb, cities = project.city("zagreb"), project.cities()
        min_lon, min_lat, max_lon, max_lat = Area.of(zagreb).bounds
        at = lambda i, j: (min_lat + (j + 0.5) * (max_lat - min_lat) / 4, min_lon + (i + 0.5) * (max_lon - min_lon) / 4)
        points = [(*at(1, 1), False)] * 10 + [(*at(2, 2), True)] * 3 + [(*at(2, 2), False)]
        cells = city_cells(zagreb, cities, points)
        assert len(cells) == 16  # the corners of its disc's box too: nearer Zagreb than any other city
        assert (cells[0].photos, cells[0].errors) == (4, 3)
        assert cells[-1].photos == 10 and all(c.photos == 0 for c in cells[1:-1])
        # A photo 60 km out (labelled Zagreb as its nearest city) widens the grid to its region.
        far = (zagreb.lat + 0.1, zagreb.lon + 0.75, True)
        wide = city_cells(zagreb, cities, [*points, far])
        assert max(c.bbox[2] for c in wide) >= far[1] and any(c.errors == 1 and c.photos == 1 for c in wide)
        assert all(Region(zagreb, cities).contains((c.bbox[1] + c.bbox[3]) / 2, (c.bbox[0] + c.bbox[2]) / 2) or c.photos
                   for c in wide)


def test_cli_advise_measures_the_curve_with_the_runs_recipe_and_writes_the_plan(weak_split_project, tmp_path, capsys):
    project = weak_split_project
    run = train(project, tiny_recipe())
    out_plan = tmp_path / "plan.json"
    code = main(["--project", str(project.root), "advise", "--photos", "40", "--out", str(out_plan), "--run", run.run_id,
                 "--refresh"])
    out = capsys.readouterr().out
    assert code == 0 and "mistaken for" in out and f"download --plan {out_plan}" in out
    assert out.index("1. Split") < out.index("2. ")
    plan = load_plan(out_plan)
    assert plan.photos == 40 and plan.provider == "streetview" and plan.cities[0].areas
    # Without --refresh the saved curve is reused while it matches the labelled photos.
    assert main(["--project", str(project.root), "advise", "--photos", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cities"] == []
