"""Evaluation of the tiny trained model on its project's test split: metrics agree with the per-image
results, report files are written, places are scored when the images carry location ids."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from core import geo
from core.errors import GeoSpottrError
from core.evaluation.metrics import (
    CSV_DIGITS,
    choose_model,
    confusion_png,
    evaluate,
    format_table,
    wilson_interval,
    write_report,
)


@pytest.fixture(scope="module")
def report(trained):
    from core.data.project import Project
    from core.inference.prediction import Predictor

    with Project.open(trained.project_root) as project:
        return evaluate(project, Predictor.load(trained.bundle))


def test_metrics_agree_with_the_per_image_results(report, project):
    test_ids = {r.id for r in project.images(split="test")}
    assert {r.image_id for r in report.images} == test_ids
    n = len(report.images)
    assert report.scores.count == n
    assert report.scores.accuracy == pytest.approx(sum(r.correct for r in report.images) / n)
    assert report.scores.accuracy >= 0.75   # the palettes are learnable
    assert report.scores.top3 >= report.scores.accuracy
    # Top-5 of 4 cities is always 100%: not reported at all (JSON null, no CLI column).
    assert report.scores.top5 is None and list(report.scores.top_k()) == [3]
    assert report.to_dict()["scores"]["top5"] is None
    header = format_table(report).splitlines()[1]
    assert "top-3" in header and "top-5" not in header
    conf = np.array(report.confusion)
    assert conf.sum() == n and np.trace(conf) == sum(r.correct for r in report.images)
    assert [c.support for c in report.per_city] == conf.sum(axis=1).tolist()
    norm = np.array(report.confusion_normalized)
    np.testing.assert_allclose(norm.sum(axis=1)[conf.sum(axis=1) > 0], 1.0, atol=1e-3)
    for c, row in zip(report.per_city, norm):
        assert c.recall == pytest.approx(row[report.classes.index(c.slug)], abs=1e-3)
    assert report.class_names == [c.label for c in project.cities()]  # "Zagreb, HR": one display form


def test_distances_and_points_follow_the_formula(report, project):
    for r in report.images:
        record = project.image(r.image_id)
        assert (r.lat, r.lon) == (record.lat, record.lon)   # measured to the photo, not the city centre
        guess = project.city(r.predicted_city)
        km = geo.haversine_km(guess.lat, guess.lon, r.lat, r.lon)
        assert r.distance_km == pytest.approx(km)
        assert r.points == round(5000 * np.exp(-km / 1492.7))
    kms = [r.distance_km for r in report.images]
    assert report.scores.median_km == pytest.approx(float(np.median(kms)))
    assert report.scores.within_km["750"] == pytest.approx(np.mean([k <= 750 for k in kms]))


def test_places_combine_the_views_of_each_location(report, project):
    locations = {r.location_id for r in project.images(split="test")}
    assert report.place_scores is not None and len(report.places) == len(locations)
    assert sum(p.views for p in report.places) == len(report.images)
    assert {p.place for p in report.places} == locations
    ps = report.place_scores
    assert ps.accuracy_ci[0] <= ps.accuracy <= ps.accuracy_ci[1] and 0 <= ps.macro_f1 <= 1
    assert report.scores.macro_f1 == report.macro["f1"]
    per_place_row = next(line for line in format_table(report).splitlines() if line.startswith("per place"))
    assert f"{ps.accuracy_ci[0]:.1%}-{ps.accuracy_ci[1]:.1%}" in per_place_row


def test_wilson_interval_is_honest_about_small_samples():
    assert wilson_interval(19, 19)[0] == pytest.approx(0.832, abs=1e-3)  # all 19 right: not "100%"
    assert wilson_interval(0, 19)[1] == pytest.approx(0.168, abs=1e-3)
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.404, abs=1e-3) and hi == pytest.approx(0.596, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    narrow, wide = wilson_interval(520, 1000), wilson_interval(52, 100)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_report_files(report, tmp_path):
    paths = write_report(report, tmp_path / "out")
    data = json.loads(paths["report"].read_text())
    assert data["scores"]["accuracy"] == report.scores.accuracy
    assert len(data["per_city"]) == 4 and data["macro"]["f1"] >= 0
    with paths["predictions"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(report.images) and rows[0]["path"].endswith(".jpg")
    with paths["places"].open() as fh:
        places = list(csv.DictReader(fh))
    # the two files name places alike (a join works) and print floats alike
    assert {r["place"] for r in rows} == {p["place"] for p in places}
    decimals = {len(v.split(".")[1]) for r in rows + places for k, v in r.items()
                if k in ("confidence", "distance_km") and "." in v}
    assert max(decimals) <= CSV_DIGITS
    assert Image.open(paths["confusion"]).format == "PNG"
    assert paths["places"].exists()
    table = format_table(report)
    assert "macro avg" in table and "per place" in table


def test_most_confident_mistakes_are_mistakes_sorted_by_confidence(report):
    mistakes = report.most_confident_mistakes()
    assert all(not m.correct for m in mistakes)
    assert [m.confidence for m in mistakes] == sorted((m.confidence for m in mistakes), reverse=True)


def test_confusion_png_handles_empty_rows():
    png = confusion_png([[3, 1, 0], [0, 0, 0], [1, 0, 2]], ["Zagreb", "Split", "Rijeka"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_choose_model(project, trained, tmp_path):
    run = choose_model(project, run=trained.run_id)
    assert run.bundle == trained.bundle and run.report_dir == trained.bundle.parent
    (project.runs_dir / "only-last").mkdir(exist_ok=True)
    (project.runs_dir / "only-last" / "config.json").write_text("{}")
    (project.runs_dir / "only-last" / "last.pt").write_bytes(b"x")
    assert choose_model(project, run="only-last").bundle.name == "last.pt"
    (tmp_path / "m.pt").write_bytes(b"x")
    other = choose_model(project, model=tmp_path / "m.pt")
    assert other.report_dir == project.root / "reports" / "m"
    # every run's best.pt gets its own report folder, named after the run
    by_file = choose_model(project, model=trained.bundle)
    assert by_file.report_dir == project.root / "reports" / f"{trained.run_id}-best"
    with pytest.raises(GeoSpottrError, match="no run 'nope' in this project"):
        choose_model(project, run="nope")
    with pytest.raises(GeoSpottrError, match="no model file"):
        choose_model(project, model=tmp_path / "gone.pt")
    with pytest.raises(GeoSpottrError):
        choose_model(project)


def test_unknown_split_is_a_clear_error(project, predictor):
    with pytest.raises(GeoSpottrError, match="split must be"):
        evaluate(project, predictor, split="nope")


@pytest.mark.slow
def test_real_street_view_places(gsv_croatia, tmp_path):
    """A slice of gsv-croatia (real 640px photos, 4 headings per place): labelled by nearest city,
    split by place, and evaluated per image and per place with distances to the photos' coordinates."""
    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project
    from core.data.splitting import split_project
    from core.inference.prediction import Predictor
    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo, save_bundle
    from tests.conftest import CROATIA_CITIES

    with (gsv_croatia / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))[:64]   # 16 places x 4 headings
    subset = tmp_path / "manifest.csv"
    with subset.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "path": str(gsv_croatia / r["path"])} for r in rows)
    with Project.init(tmp_path / "p", [catalog.resolve(q) for q in CROATIA_CITIES]) as project:
        import_source(project, subset)
        split_project(project, ratios=(0.5, 0.0, 0.5), seed=0)
        cities = project.cities()
        meta = BundleMeta(arch="baseline", image_size=32,
                          classes=[ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in cities])
        bundle = save_bundle(tmp_path / "m.pt", registry.build("baseline", len(cities)), meta)
        report = evaluate(project, Predictor.load(bundle))
        test = project.images(split="test")
    assert report.scores.count == len(test) > 0
    assert all(p.views == 4 for p in report.places)
    assert len(report.places) == len({r.location_id for r in test}) == len(test) // 4
    assert all(r.distance_km > 0 for r in report.images)   # real coordinates, never a city centre exactly
