"""Issue 15 items 11, 13, 15 and the cosmetic line: bad coordinates are refused per row, exported cells
cannot run as spreadsheet formulas, `cities SLUG --target` updates, import errors are logged once, and a
damaged EXIF block prints no warning."""

from __future__ import annotations

import csv

import pytest

from core.data.importing import import_source
from core.errors import GeoSpottrError

from .conftest import cli, one_line_error
from .hostile import corrupt_exif_jpeg, jpeg

BAD_COORDS = [("1e999", "16.0", "finite"), ("nan", "nan", "finite"), ("999", "-999", "outside"),
              ("45.8", "inf", "finite"), ("north", "16", "non-number"), ("-91", "0", "outside"), ("0", "180.5", "outside")]


def _csv(path, rows, fields=("path", "lat", "lon")):
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_bad_coordinates_are_refused_per_row(tmp_path, proj):
    rows = []
    for i, (lat, lon, _) in enumerate(BAD_COORDS):
        (tmp_path / f"{i}.jpg").write_bytes(jpeg((40, 30), seed=i))
        rows.append({"path": f"{i}.jpg", "lat": lat, "lon": lon})
    (tmp_path / "ok.jpg").write_bytes(jpeg((40, 30), seed=99))
    rows.append({"path": "ok.jpg", "lat": "45.81", "lon": "15.98"})
    report = import_source(proj, _csv(tmp_path / "in.csv", rows))
    assert report.added == 1 and len(report.rejected) == len(BAD_COORDS)
    for (where, reason), (_, _, words) in zip(report.rejected, BAD_COORDS):
        assert words in reason, (where, reason)
    (record,) = proj.images()
    assert (record.lat, record.lon, record.city_slug) == (45.81, 15.98, "zagreb")


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0"])
def test_max_km_must_be_a_real_distance(tmp_path, proj, value):
    src = _csv(tmp_path / "in.csv", [{"path": "x.jpg", "lat": "45", "lon": "16"}])
    assert "--max-km" in one_line_error(cli("--project", proj.root, "import", src, "--max-km", value))


def test_exported_csv_cells_cannot_start_formulas_and_round_trip(tmp_path, proj):
    evil = ["=HYPERLINK(\"http://x\",\"click\")", "+1+1", "-2+3", "@SUM(A1)"]
    rows = []
    for i, text in enumerate(evil):
        (tmp_path / f"{i}.jpg").write_bytes(jpeg((40, 30), seed=20 + i))
        rows.append({"path": f"{i}.jpg", "city": "zagreb", "attribution": text, "licence": text})
    import_source(proj, _csv(tmp_path / "in.csv", rows, ("path", "city", "attribution", "licence")))
    out = tmp_path / "out.csv"
    assert cli("--project", proj.root, "export", out, "--format", "csv").returncode == 0
    cells = [row["attribution"] for row in csv.DictReader(out.open())] + [row["licence"] for row in csv.DictReader(out.open())]
    assert cells and all(c.startswith("'") for c in cells)
    assert not any(row["lat"].startswith("'") for row in csv.DictReader(out.open()))  # numbers untouched
    folder = tmp_path / "tree"
    assert cli("--project", proj.root, "export", folder).returncode == 0
    from core.data.project import Project

    with Project.init(tmp_path / "other") as other:  # the quote is ours: a re-import takes it off
        import_source(other, folder)
        assert sorted(r.attribution for r in other.images()) == sorted(evil)


def test_cities_slug_target_radius_updates_the_city(proj):
    result = cli("--project", proj.root, "cities", "zagreb", "--target", "10", "--radius-km", "15")
    assert result.returncode == 0 and "updated zagreb" in result.stdout, result.stderr
    city = proj.city("zagreb")
    assert (city.target_count, city.radius_km) == (10, 15.0)
    assert "radius" in one_line_error(cli("--project", proj.root, "cities", "zagreb", "--radius-km", "nan"))
    with pytest.raises(GeoSpottrError):
        proj.update_city("zagreb", radius_km=-1)


def test_import_errors_are_logged_once_per_file_and_reason(tmp_path, proj):
    (tmp_path / "src" / "zagreb").mkdir(parents=True)
    (tmp_path / "src" / "zagreb" / "bad.jpg").write_bytes(b"not a photo")
    for _ in range(3):
        import_source(proj, tmp_path / "src")
    assert len(proj.import_errors()) == 1


def test_a_corrupt_exif_block_prints_no_warning(tmp_path, proj):
    (tmp_path / "src" / "zagreb").mkdir(parents=True)
    (tmp_path / "src" / "zagreb" / "exif.jpg").write_bytes(corrupt_exif_jpeg())
    result = cli("--project", proj.root, "import", tmp_path / "src")
    assert result.returncode == 0 and "1 added" in result.stdout, result.stderr
    assert "EXIF" not in result.stderr and "Warning" not in result.stderr
