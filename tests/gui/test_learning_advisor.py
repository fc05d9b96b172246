"""Evaluate > Learning curve and Dataset > Download > What to collect next, on a real project whose saved
curve makes Split the weak city: the plot and outlook show, the advisor ranks Split first, and "Download
this plan" downloads the plan (loopback Street View server) into the planned cities and sub-areas."""

from __future__ import annotations

import csv

import pytest

from core.data import catalog
from core.data.importing import import_source
from core.data.project import Project
from core.data.splitting import split_project
from core.evaluation.curves import FRACTIONS, CurvePoint, Interval, LearningCurve, reports_folder, save_curve
from geospottr_gui.views.evaluate.learning_curve import LearningCurvePanel
from tests.conftest import make_photo
from tests.core.acquisition.conftest import CITIES, RADIUS_KM, make_world
from tests.core.acquisition.fake_apis import FakeApis

from .conftest import context_for
from .dataset_support import download_panel_on_fake_apis

WEAK = "split"
#: F1 at 100% per city: Split weak; the curve's points follow F1 = 1 - b n^-0.3 for each city.
LEVEL = {"rijeka": 0.8, "split": 0.35, "zagreb": 0.75}


@pytest.fixture
def apis():
    with FakeApis(make_world()) as server:
        yield server


@pytest.fixture
def project(tmp_path):
    """The loopback world's three cities (1 km discs), 12 photos each (6 places) just east of each centre
    (where the fake world has panoramas), split; a saved curve where 3 in 4 of Split's are wrong."""
    p = Project.init(tmp_path / "p")
    rows = []
    for k, query in enumerate(CITIES):
        city = catalog.resolve(query)
        p.add_city(city, target_count=12, radius_km=RADIUS_KM)
        for i in range(12):
            path = make_photo(tmp_path / "src" / f"{k}-{i}.jpg", 50 * k + i, kind=k)
            rows.append({"path": str(path), "city": city.name, "lat": city.lat + 0.001 * (i % 3),
                         "lon": city.lon + 0.002 + 0.0005 * (i // 2), "location_id": f"{k}-{i // 2}"})
    with (tmp_path / "m.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import_source(p, tmp_path / "m.csv")
    split_project(p, ratios=(0.7, 0.3, 0.0), seed=0)
    labelled = p.images(split=("train", "val"))
    slugs = sorted(LEVEL)
    counts = {s: sum(r.city_slug == s for r in labelled) for s in slugs}
    points = []
    for f in FRACTIONS:
        n = {s: counts[s] * f * 0.8 for s in slugs}
        city = {s: Interval(1 - (1 - LEVEL[s]) * f ** -0.3, 0.0, 1.0) for s in slugs}
        points.append(CurvePoint(f, sum(n.values()), Interval(sum(c.value for c in city.values()) / 3, 0.0, 1.0),
                                 city, n))
    wrong = [r for i, r in enumerate(r for r in labelled if r.city_slug == WEAK) if i % 4]  # 3 in 4 wrong
    predictions = {r.id: ("zagreb" if r in wrong else r.city_slug) for r in labelled}
    save_curve(LearningCurve("efficientnet-lite-ensemble-probe", 5, slugs, {c.slug: c.name for c in p.cities()},
                             len(labelled), counts, points, predictions), reports_folder(p))
    yield p
    p.close()


def test_learning_curve_tab_shows_the_saved_curve_and_the_outlook(qtbot, project, tmp_path):
    panel = LearningCurvePanel(context_for(project, tmp_path))
    qtbot.addWidget(panel)
    panel.resize(1000, 600)
    panel.show()
    qtbot.waitUntil(lambda: panel.curve is not None)
    text = panel.status.text()
    assert "with 2x photos" in text and text.index("Split") < text.index("Zagreb")  # worst city first
    items = panel.plot.plot_item.listDataItems()
    assert len(items) == 2 * 4  # points and fit for the macro F1 and each city


def test_advisor_ranks_the_weak_city_first_and_downloads_its_plan(qtbot, project, tmp_path, apis):
    window, panel = download_panel_on_fake_apis(qtbot, project, tmp_path, apis)
    advisor = panel.advisor
    advisor.photos.setValue(20)
    advisor.advise_button.click()
    qtbot.waitUntil(lambda: advisor.table.rowCount() == 3 and advisor.use_button.isEnabled(), timeout=60000)
    assert advisor.table.item(0, 0).text() == "Split" and advisor.table.item(0, 3).text().startswith("Zagreb")
    assert "At most $" in advisor.summary.text()
    planned = {c.slug: c.new for c in advisor.advice.plan().cities}
    assert planned[WEAK] == max(planned.values()) and sum(planned.values()) == 20
    before = project.city_counts()
    advisor.use_button.click()
    assert panel.plan is not None and "Split +" in panel.plan_label.text()
    qtbot.waitUntil(lambda: panel.job is not None and not panel.job.running, timeout=60000)
    assert not panel.error.isVisible(), panel.error.text()
    after = project.city_counts()
    new = {s: after[s] - before[s] for s in after if after[s] != before[s]}
    assert set(new) <= set(planned) and 0 < new[WEAK] <= planned[WEAK]  # the sparse fake world may run out
    # The new photos were looked for in the planned cells: each lies within a panorama's snap (300 m) of one.
    cells = [a.bbox for c in advisor.advice.plan().cities if c.slug == WEAK for a in c.areas]
    margin = 0.004  # degrees, ~300 m
    for r in project.images(city=WEAK, source="streetview"):
        assert any(b[0] - margin <= r.lon <= b[2] + margin and b[1] - margin <= r.lat <= b[3] + margin for b in cells)
    qtbot.waitUntil(lambda: panel.plan is None)  # finished: the form is the form again


def test_measuring_the_curve_can_be_cancelled_and_keeps_the_saved_one(qtbot, project, tmp_path):
    """Measuring extracts features first (minutes on a big project): Cancel stops it, the button comes back
    and the saved curve is the one on disk before."""
    from core.evaluation.curves import CURVE_FILE

    saved = (reports_folder(project) / CURVE_FILE).read_bytes()
    panel = LearningCurvePanel(context_for(project, tmp_path))
    qtbot.addWidget(panel)
    panel.show()
    assert panel.cancel_button.isHidden()
    panel.measure_button.click()
    assert panel.cancel_button.isVisible() and not panel.measure_button.isEnabled()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.measure_button.isEnabled(), timeout=60000)
    assert "Cancelled" in panel.status.text() and panel.cancel_button.isHidden()
    assert (reports_folder(project) / CURVE_FILE).read_bytes() == saved
