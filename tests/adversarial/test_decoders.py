"""Issue 24 item 2: an image is opened with an allow-list of decoders in one place, so a PostScript
program named .jpg (Pillow's EPS plugin hands it to Ghostscript) is refused from its header wherever it
comes in (import, predict, a download answer) and never runs; nothing else in the app calls `Image.open`."""

from __future__ import annotations

import ast
import inspect
import io
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from core.imaging import DECODERS, ImageError, decoders, load_image, validate_bytes
from tests.conftest import REPO

from .conftest import cli, download_config
from .hostile import eps_program, jpeg

#: Where the app's own code lives; `core/imaging.py` is the one module allowed to open an image.
SCANNED = ("core", "geospottr_gui", "benchmarks")


def _image_open_calls(path: Path, unnamed_only: bool = False) -> list[int]:
    """Line numbers of `Image.open(...)`, `PIL.Image.open(...)` or an `open` imported from PIL.Image
    (with `unnamed_only`: only those that do not name their decoders with ``formats=``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "PIL.Image" for alias in node.names if alias.name == "open"}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or unnamed_only and any(k.arg == "formats" for k in node.keywords):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "open" and (
                isinstance(func.value, ast.Name) and func.value.id == "Image"
                or isinstance(func.value, ast.Attribute) and func.value.attr == "Image"):
            lines.append(node.lineno)
        elif isinstance(func, ast.Name) and func.id in imported:
            lines.append(node.lineno)
    return lines


def test_nothing_but_the_decode_function_opens_an_image():
    """In the app (core/, geospottr_gui/) only `core.imaging` opens an image. A benchmark may be a plain
    Pillow script by design (`benchmarks/plain_predict.py`, the peer a timing is compared with), but it
    too names its decoders: no call anywhere lets Pillow pick a format."""
    found = {}
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            calls = _image_open_calls(path, unnamed_only=top == "benchmarks")
            if calls:
                found[path.relative_to(REPO).as_posix()] = calls
    assert list(found) == ["core/imaging.py"], found
    assert len(found["core/imaging.py"]) == 1  # the one call, with formats=decoders()
    assert _image_open_calls(REPO / "core" / "imaging.py", unnamed_only=True) == []


def test_the_scan_sees_every_spelling(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import PIL\nfrom PIL import Image\nfrom PIL.Image import open as pil_open\n"
                     "Image.open('a')\nPIL.Image.open('b')\npil_open('c')\nopen('d')\n")
    assert _image_open_calls(probe) == [4, 5, 6]
    probe.write_text("from PIL import Image\nImage.open('a', formats=['PNG'])\nImage.open('b')\n")
    assert _image_open_calls(probe) == [2, 3] and _image_open_calls(probe, unnamed_only=True) == [3]


def test_no_allowed_decoder_runs_a_program():
    """Pillow plugins that shell out (EPS: Ghostscript) are never among the decoders tried; the JPEG
    plugin's one `subprocess` use is `load_djpeg`, which only an explicit call reaches."""
    allowed = decoders()
    assert {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"} <= set(allowed) <= set(DECODERS)
    assert "EPS" in Image.OPEN and "EPS" not in allowed
    for name in allowed:
        module = sys.modules[Image.OPEN[name][0].__module__]
        tree = ast.parse(inspect.getsource(module))
        callers = {fn.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
                   for node in ast.walk(fn) if isinstance(node, ast.Attribute)
                   and isinstance(node.value, ast.Name) and node.value.id in ("subprocess", "os")
                   and node.attr in ("run", "call", "check_call", "check_output", "Popen", "system", "popen")}
        assert callers <= {"load_djpeg"}, (name, callers)
    assert "load_djpeg" not in (REPO / "core" / "imaging.py").read_text()


def _assert_refused_fast(call, marker: Path) -> str:
    started = time.monotonic()
    with pytest.raises(ImageError) as info:
        call()
    assert time.monotonic() - started < 5, "took too long: was the PostScript run?"
    assert not marker.exists()
    assert "not an image file" in str(info.value) and "\n" not in str(info.value)
    return str(info.value)


def test_eps_named_jpg_is_refused_by_the_decode_function(tmp_path):
    marker = tmp_path / "marker"
    data = eps_program(marker)
    assert Image.open(io.BytesIO(data)).format == "EPS"  # a real EPS: Pillow unrestricted would take it
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    _assert_refused_fast(lambda: validate_bytes(data, "photo.jpg"), marker)
    _assert_refused_fast(lambda: load_image(path, draft=(224, 224)), marker)  # predict's and the GUI's loader
    _assert_refused_fast(lambda: load_image(data), marker)


def test_eps_named_jpg_from_import_is_rejected_and_the_rest_imported(tmp_path, proj):
    marker = tmp_path / "marker"
    (tmp_path / "src" / "zagreb").mkdir(parents=True)
    (tmp_path / "src" / "zagreb" / "evil.jpg").write_bytes(eps_program(marker))
    (tmp_path / "src" / "zagreb" / "good.jpg").write_bytes(jpeg((40, 30), seed=4))
    result = cli("--project", proj.root, "import", tmp_path / "src", timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 added" in result.stdout and "evil.jpg" in result.stdout and "not an image file" in result.stdout
    assert not marker.exists()
    assert len(proj.images()) == 1 and len(list(proj.images_dir.rglob("*.jpg"))) == 1


def test_predict_refuses_eps_named_jpg(tmp_path, bundle_path):
    marker = tmp_path / "marker"
    (tmp_path / "evil.jpg").write_bytes(eps_program(marker))
    result = cli("predict", "--model", bundle_path, tmp_path / "evil.jpg", timeout=120)
    assert "not an image file" in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("provider", ["streetview", "mapillary"])
def test_a_download_answer_that_is_eps_is_refused(tmp_path, provider):
    from core.acquisition import run_download
    from tests.core.acquisition.conftest import make_project, make_world
    from tests.core.acquisition.fake_apis import FakeApis

    marker = tmp_path / "marker"
    world = make_world()
    world.image_body = eps_program(marker)
    project = make_project(tmp_path / "project")
    try:
        with FakeApis(world) as apis:
            started = time.monotonic()
            summary = run_download(project, replace(download_config(apis, provider), cities=["split"], per_city=2))
        assert time.monotonic() - started < 60
        assert summary.total("saved") == 0 and summary.total("rejected") > 0
        assert not marker.exists()
        assert project.images() == [] and list(project.images_dir.rglob("*.jpg")) == []
    finally:
        project.close()
