"""Issue 24 item 6: no bad value is stored. Coordinates pass one rule (`core.values.checked_point`) from a
CSV, a download answer (Street View metadata, Mapillary search: 999, NaN, Infinity) or a direct call;
numbers from text pass one strict decimal parser (no ``4_5.8``, ``nan``, non-ASCII digits); numeric CLI
options, decimals and whole numbers, one typed converter family; a CSV's status and split are kept only with ``--trust-status``.
Every case checks the rows and files before and after."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest

from core.data.importing import import_source
from core.errors import GeoSpottrError
from core.imaging import validate_bytes
from core.values import BadValue, checked_point, parse_decimal

from .conftest import cli, download_config, one_line_error
from .hostile import jpeg

#: (lat, lon) cells a CSV from anywhere may hold; each row must be refused with its own one-line reason.
HOSTILE_CELLS = [("4_5.8", "16.0", "plain decimal"), ("45.8", "1_6", "plain decimal"),
                 ("\u0664\u0665.\u0668", "16", "plain decimal"), ("0x2d", "16", "non-number"),
                 ("NaN", "16", "finite"), ("45.8", "-Infinity", "finite"), ("1e999", "16", "finite"),
                 ("45.8", "", "both"), ("90.0001", "16", "outside"), ("45.8", "-180.5", "outside"),
                 ("45,8", "16", "non-number"), ("45.8 16", "16", "non-number")]
GOOD_CELLS = [(" 45.81 ", "15.98"), ("+45.81", "1.598e1"), ("45.", ".5")]


def _state(project) -> tuple[int, int]:
    return len(project.images()), len(list(project.images_dir.rglob("*.jpg")))


def _write_csv(path, rows, fields):
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_strict_decimals_and_one_coordinate_rule():
    for text in ("4_5.8", "nan", "inf", "-Infinity", "1e999", "0x10", "\u0664\u0665", "", " ", "1.2.3", "--1"):
        with pytest.raises(BadValue):
            parse_decimal(text)
    assert [parse_decimal(t) for t in ("1", "-0.5", ".5", "5.", "+1e-3", " 7 ")] == [1, -0.5, 0.5, 5, 0.001, 7]
    for lat, lon in ((999, 0), (0, 181), (float("nan"), 0), (0, float("inf")), (True, 0), ("45", 16), (None, 1)):
        with pytest.raises(BadValue):
            checked_point(lat, lon)
    assert checked_point(-90, 180) == (-90.0, 180.0)


def test_csv_coordinates_are_refused_per_row(tmp_path, proj):
    rows = []
    for i, (lat, lon, _) in enumerate(HOSTILE_CELLS + [(lat, lon, "") for lat, lon in GOOD_CELLS]):
        (tmp_path / f"{i}.jpg").write_bytes(jpeg((40, 30), seed=100 + i))
        rows.append({"path": f"{i}.jpg", "lat": lat, "lon": lon})
    before = _state(proj)
    report = import_source(proj, _write_csv(tmp_path / "in.csv", rows, ["path", "lat", "lon"]))
    assert report.added == len(GOOD_CELLS) and len(report.rejected) == len(HOSTILE_CELLS)
    for (_, reason), (lat, lon, words) in zip(report.rejected, HOSTILE_CELLS):
        assert words in reason and "\n" not in reason, (lat, lon, reason)
    assert _state(proj) == (before[0] + len(GOOD_CELLS), before[1] + len(GOOD_CELLS))
    assert all(-90 <= r.lat <= 90 and -180 <= r.lon <= 180 for r in proj.images())


def test_add_image_refuses_impossible_coordinates(proj):
    valid = validate_bytes(jpeg((32, 24), seed=1))
    before = _state(proj)
    for lat, lon in ((999, 16.0), (float("nan"), 16.0), (45.0, float("inf")), (45.0, None)):
        with pytest.raises(GeoSpottrError, match="latitude|longitude|outside"):
            proj.add_image(valid.jpeg, sha256=valid.sha256, width=32, height=24, city="zagreb", source="import",
                           lat=lat, lon=lon)
    assert _state(proj) == before


def test_a_csv_cannot_accept_or_split_its_photos_unless_trusted(tmp_path, proj):
    rows = []
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(jpeg((40, 30), seed=200 + i))
        rows.append({"path": f"{i}.jpg", "city": "zagreb", "status": "accepted", "split": "test"})
    table = _write_csv(tmp_path / "in.csv", rows[:2], ["path", "city", "status", "split"])
    result = cli("--project", proj.root, "import", table)
    assert result.returncode == 0 and "2 added" in result.stdout, result.stderr[-2000:]
    assert {(r.status, r.split) for r in proj.images()} == {("pending", None)}
    trusted = _write_csv(tmp_path / "trusted.csv", rows[2:], ["path", "city", "status", "split"])
    result = cli("--project", proj.root, "import", trusted, "--trust-status")
    assert result.returncode == 0 and "1 added" in result.stdout, result.stderr[-2000:]
    assert sorted((r.status, r.split) for r in proj.images()) == [("accepted", "test"), ("pending", None),
                                                                    ("pending", None)]


@pytest.mark.parametrize("where", [(999.0, 16.4), (float("nan"), 16.4), (45.8, float("inf")), (-91.0, 0.0)])
@pytest.mark.parametrize("provider", ["streetview", "mapillary"])
def test_download_answers_with_impossible_coordinates_store_nothing(tmp_path, provider, where):
    from core.acquisition import run_download
    from tests.core.acquisition.conftest import make_project, make_world
    from tests.core.acquisition.fake_apis import FakeApis

    world = make_world()
    world.answer_location = where
    project = make_project(tmp_path / "project")
    try:
        with FakeApis(world) as apis:
            try:  # every answer is bad: the job may stop on its consecutive-failure guard, naming why
                summary = run_download(project, replace(download_config(apis, provider), cities=["split"],
                                                        per_city=2))
                assert summary.total("saved") == 0
            except GeoSpottrError as exc:
                assert "not a point on the Earth" in str(exc) or "must be a finite number" in str(exc), exc
        assert _state(project) == (0, 0)
        assert project.conn.execute("SELECT COUNT(*) FROM images WHERE lat IS NOT NULL").fetchone()[0] == 0
    finally:
        project.close()


@pytest.mark.parametrize("args", [
    ["download", "--provider", "streetview", "--timeout", "nan"],
    ["download", "--provider", "streetview", "--timeout", "0"],
    ["download", "--provider", "mapillary", "--qps", "-1"],
    ["download", "--provider", "streetview", "--fov", "inf"],
    ["download", "--provider", "streetview", "--backoff", "1_0"],
    ["cities", "zagreb", "--radius-km", "Infinity"],
    ["import", "nowhere.csv", "--max-km", "nan"],
    ["train", "--lr", "nan"],
    ["train", "--label-smoothing", "1"],
    ["train", "--crop-bottom", "-0.1"],
])
def test_numeric_options_are_typed(proj, args):
    before = _state(proj)
    result = cli("--project", proj.root, *args, timeout=60)
    assert result.returncode == 2, result.stdout  # argparse's usage error, before anything runs
    line = one_line_error(result)
    assert "expected a finite decimal number" in line and args[-2] in line
    assert _state(proj) == before


@pytest.mark.parametrize("args", [
    ["split", "--seed", "-1"],                      # numpy's generator: a traceback
    ["split", "--seed", "1_0"],                     # Python's int() reads 10
    ["init", "elsewhere", "--target", "99999999999999999999999"],  # was accepted and silently unused
    ["cities", "zag", "--limit", "-1"],             # listed every result but the last
    ["challenge", "--rounds", "0"],
    ["download", "--provider", "streetview", "--per-city", "\u0663"],  # an Arabic-Indic 3, which int() takes
    ["download", "--provider", "streetview", "--workers", "+4"],
    ["train", "--workers", "-1"],
    ["predict", "--top-k", "0x10", "photo.jpg"],
    ["advise", "--photos", "10000001"],
])
def test_whole_number_options_are_typed(proj, args):
    before = _state(proj)
    result = cli("--project", proj.root, *args, timeout=60)
    assert result.returncode == 2, result.stdout
    line = one_line_error(result)
    option = [a for a in args if a.startswith("--")][-1]
    assert "expected a whole number" in line and option in line
    assert _state(proj) == before


def test_no_option_takes_a_plain_int_or_float():
    """Every numeric option of every command goes through `core.cli.options` (the one converter family)."""
    import argparse

    from core.cli.main import build_parser

    plain = []
    parsers = [("geospottr", build_parser())]
    while parsers:
        name, parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend((f"{name} {n}", p) for n, p in action.choices.items())
            elif action.type in (int, float):
                plain.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not plain, plain


@pytest.mark.parametrize("ratios", ["nan,0,1", "inf,1,1", "1e308,1e308,1", "0.6,0.2", "1_0,1,1", "0,0,0", "-1,1,1"])
def test_split_ratios_must_be_finite(tmp_path, proj, ratios):
    (tmp_path / "src" / "zagreb").mkdir(parents=True)
    for i in range(4):
        (tmp_path / "src" / "zagreb" / f"{i}.jpg").write_bytes(jpeg((40, 30), seed=300 + i))
    import_source(proj, tmp_path / "src")
    before = sorted((r.id, r.split) for r in proj.images())
    line = one_line_error(cli("--project", proj.root, "split", f"--ratios={ratios}"))
    assert "ratios must be three" in line
    assert sorted((r.id, r.split) for r in proj.images()) == before


def test_a_typed_challenge_guess_is_a_point_only_when_both_are_plain_decimals():
    from core.cli.eval_cmds import _point

    assert _point("45.81, 15.98") == (45.81, 15.98) and _point("-33.9,18.4") == (-33.9, 18.4)
    for text in ("4_5.8,16", "nan,16", "45.8,inf", "Zagreb", "45.8", "1,2,3", "\u0664\u0665,16"):
        assert _point(text) is None, text
