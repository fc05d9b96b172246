"""Import says when photos lie far from every project city (and where cities seem to be missing), and
--max-km rejects them instead: real Street View photos of Croatia labelled into a Vienna/Milan project."""

from __future__ import annotations

import csv

import pytest

from core.cli.main import main
from core.data import catalog
from core.data.importing import FAR_KM, far_photos, import_source
from core.data.project import Project


def _manifest(gsv_croatia, tmp_path, rows: int = 24):
    """The first `rows` photos of the real manifest, paths made absolute."""
    with open(gsv_croatia / "manifest.csv", newline="") as fh:
        picked = [r for _, r in zip(range(rows), csv.DictReader(fh))]
    out = tmp_path / "manifest.csv"
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "lat", "lon", "location_id"])
        writer.writeheader()
        writer.writerows({"path": str(gsv_croatia / r["path"]), "lat": r["lat"], "lon": r["lon"],
                          "location_id": r["location_id"]} for r in picked)
    return out, picked


def test_croatian_photos_in_a_vienna_milan_project_are_reported_far_with_where(gsv_croatia, tmp_path):
    manifest, rows = _manifest(gsv_croatia, tmp_path)
    project = Project.init(tmp_path / "p", [catalog.resolve("Vienna,AT"), catalog.resolve("Milan,IT")])
    try:
        report = import_source(project, manifest)
        assert report.added == len(rows) and report.far is not None and report.far.count == len(rows)
        assert report.far.median_km > FAR_KM
        lat, lon = report.far.near[0]
        assert 42 < lat < 47 and 13 < lon < 20  # Croatia
        text = report.summary()
        assert f"{len(rows)} photos are more than 150 km from their nearest project city" in text
        assert "did you mean to add cities near" in text and " N, " in text and "--max-km 150" in text
    finally:
        project.close()


def test_max_km_rejects_them_instead(gsv_croatia, tmp_path, capsys):
    manifest, rows = _manifest(gsv_croatia, tmp_path, rows=8)
    root = tmp_path / "p"
    assert main(["init", str(root), "--cities", "Vienna,AT"]) == 0
    assert main(["--project", str(root), "import", str(manifest), "--max-km", "150"]) == 0
    out = capsys.readouterr().out
    assert "0 added" in out and f"{len(rows)} rejected" in out and "more than 150 km" not in out


def test_near_photos_raise_nothing_and_far_ones_cluster_by_place():
    assert far_photos([(45.8, 16.0, 3.0), (45.3, 15.9, 149.0)]) is None
    far = far_photos([(45.3, 15.9, 260.0), (45.4, 15.8, 250.0), (40.1, -3.7, 900.0)])
    assert far.count == 3 and far.median_km == 260.0 and far.near[0] == pytest.approx((45.35, 15.85)) and len(far.near) == 2
    assert "40.1 N, 3.7 W" in far.text()
