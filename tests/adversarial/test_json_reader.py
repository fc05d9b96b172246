"""One JSON reader: nothing in the app parses JSON but `core.typed` (a FIFO, a huge file, ``[[[[...`` nested a
million deep, a list where an object belongs: one line naming the file, never a hang or a traceback).

The rule is checked on the source (an AST scan, like the one decode function's), and on the files the
data-centric tools added, which had each got their own ``json.loads``: a download plan, a saved learning
curve and a model bundle's metadata, each crafted in a way no earlier test used."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from tests.conftest import REPO

from .conftest import cli, one_line_error

#: The app's own code; `core/typed.py` is the one module allowed to call the json module's parser.
SCANNED = ("core", "geospottr_gui")
DEEP = "[" * 200_000


def _json_parse_calls(path: Path) -> list[int]:
    """Line numbers of ``json.loads``/``json.load`` calls, however imported (``from json import loads as x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    modules = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names if alias.name == "json"}
    names = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and node.module == "json" for alias in node.names if alias.name in ("loads", "load")}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr in ("loads", "load") and isinstance(func.value, ast.Name)
                and func.value.id in modules) or (isinstance(func, ast.Name) and func.id in names):
            lines.append(node.lineno)
    return lines


def test_nothing_but_the_typed_reader_parses_json():
    found = {}
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            calls = _json_parse_calls(path)
            if calls:
                found[path.relative_to(REPO).as_posix()] = calls
    assert found == {"core/typed.py": found.get("core/typed.py")} and len(found["core/typed.py"]) == 1, found


def test_the_scan_sees_every_spelling(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import json\nimport json as j\nfrom json import loads as parse\n"
                     "json.loads('1')\nj.load(fh)\nparse('2')\njson.dumps(3)\nother.loads('4')\n")
    assert _json_parse_calls(probe) == [4, 5, 6]


def _plan(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, words", [
    (DEEP, "nested too deeply"),
    ('{"version": 1, "provider": "streetview", "cities": [{"slug": "../../outside", "new": 1, "target": 1}]}',
     "refused city slug"),
    ('{"version": 1, "provider": "streetview", "cities": [{"slug": "zagreb", "new": 1, "target": 1},'
     ' {"slug": "zagreb", "new": 2, "target": 2}]}', "zagreb is planned twice"),
    ('{"version": 1, "provider": "streetview", "cities": [{"slug": "zagreb", "new": 1, "target": 1, "areas":'
     ' [{"bbox": [1' + "0" * 400 + ', 45, 16, 46], "weight": 1}]}]}', "bbox"),
    ('\xff\xfe{"version": 1}', "not UTF-8"),
])
def test_a_crafted_plan_is_one_line_before_anything_is_downloaded(proj, tmp_path, text, words):
    path = tmp_path / "plan.json"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    line = one_line_error(cli("download", "--project", proj.root, "--plan", path, "--yes", timeout=60))
    assert words in line and str(path) in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_plan_that_is_a_fifo_is_refused_not_waited_on(proj, tmp_path):
    path = tmp_path / "plan.json"
    os.mkfifo(path)
    line = one_line_error(cli("download", "--project", proj.root, "--plan", path, "--yes", timeout=60))
    assert "not a regular file" in line


def _curve(proj) -> dict:
    point = {"fraction": 1.0, "images": 10.0, "macro_f1": {"value": 0.5, "low": 0.4, "high": 0.6},
             "city_f1": {s: {"value": 0.5, "low": 0.4, "high": 0.6} for s in ("split", "zagreb")},
             "city_images": {"split": 5.0, "zagreb": 5.0}}
    return {"arch": "baseline", "folds": 5, "cities": ["split", "zagreb"], "names": {}, "labelled": 10,
            "city_labelled": {"split": 5, "zagreb": 5}, "points": [point], "predictions": {}, "seconds": 1.0}


@pytest.mark.parametrize("damage, words", [
    (lambda c: c["points"][0]["macro_f1"].update(value="high"), "value must be a number"),
    (lambda c: c["points"][0]["city_f1"].pop("zagreb"), "value is missing"),
    (lambda c: c["points"][0].update(images=float("nan")), "images must be a finite number"),
    (lambda c: c["predictions"].update({"7": "atlantis"}), "not one of its cities"),
    (lambda c: c.update(points=[]), "has no points"),
])
def test_a_crafted_learning_curve_is_one_line_when_read_not_a_crash_when_drawn(proj, damage, words):
    from core.errors import GeoSpottrError
    from core.evaluation.curves import CURVE_FILE, LearningCurve, load_curve, reports_folder

    good = _curve(proj)
    assert LearningCurve.from_dict(good).lines()  # the intact file reads and prints
    damage(good)
    path = reports_folder(proj) / CURVE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(good))
    with pytest.raises(GeoSpottrError, match=words) as caught:
        load_curve(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_bundle_whose_metadata_is_nested_a_million_deep_is_one_line(tmp_path):
    import torch

    from core.models.bundle import BUNDLE_FORMAT, BUNDLE_VERSION

    path = tmp_path / "deep.pt"
    torch.save({"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "meta": DEEP, "state_dict": {}}, path)
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (90, 120, 160)).save(photo)
    line = one_line_error(cli("predict", "--model", path, photo, timeout=120))
    assert "metadata is damaged" in line and "nested too deeply" in line
