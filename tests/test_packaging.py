"""Packaging: desktop integration files, icons, resources in the wheel, versions, the GUI smoke test.

The slow end-to-end check (fresh venv, pinned torch, installed wheel) is packaging/check_wheel.py; here
each piece it relies on is checked quickly.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from core import __version__
from core.cli.main import main as cli_main
from core.resources import resource_path, resources_root
from core.versions import format_versions, runtime_versions
from geospottr_gui.app import DESKTOP_ID
from tests.conftest import REPO, load_script

LINUX = REPO / "packaging" / "linux"
DESKTOP = LINUX / f"{DESKTOP_ID}.desktop"
METAINFO = LINUX / f"{DESKTOP_ID}.metainfo.xml"


def _load_script(name: str):
    """A module from packaging/ (a folder of scripts, not a package)."""
    return load_script(f"packaging/{name}.py")


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive in the Desktop Entry spec
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_opens_images_with_the_gui():
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "geospottr-gui" and "%F" in entry["Exec"]
    assert entry["Icon"] == DESKTOP_ID
    mimetypes = entry["MimeType"].rstrip(";").split(";")
    assert {"image/jpeg", "image/png"} <= set(mimetypes)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_file_validates():
    proc = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout.lower()


def test_metainfo_matches_desktop_file_and_version():
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == DESKTOP_ID
    assert root.find("launchable").text == DESKTOP.name
    assert root.find("releases/release").get("version") == __version__
    assert {m.text for m in root.findall("provides/mediatype")} >= {"image/jpeg", "image/png"}


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli not installed")
def test_metainfo_validates_with_appstreamcli():
    proc = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_icon_pngs_have_their_sizes_and_come_from_the_svg():
    render_icons = _load_script("render_icons")
    assert render_icons.check() == []
    ET.parse(render_icons.SVG)  # the source is well-formed XML
    assert render_icons.SIZES == (16, 32, 48, 64, 128, 256, 512)
    with Image.open(render_icons.png_path(64)) as img:
        assert img.mode == "RGBA"
        assert img.getpixel((0, 0))[3] == 0, "corners are transparent (rounded tile)"
        assert img.getpixel((32, 32))[3] == 255


def test_resource_path_finds_the_icons():
    assert resource_path("icons", "geospottr.svg").is_file()
    assert resource_path("icons", "geospottr-256.png") == resources_root() / "icons" / "geospottr-256.png"


def test_resource_path_inside_a_pyinstaller_bundle(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    resources_root.cache_clear()
    try:
        assert resource_path("maps", "x.js") == tmp_path / "geospottr_resources" / "maps" / "x.js"
    finally:
        resources_root.cache_clear()


def test_wheel_contains_resources_and_both_entry_points(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("geospottr-*.whl")
    _load_script("check_wheel").check_wheel_contents(wheel)  # raises CheckFailed with what is missing


def test_runtime_versions_lists_the_stack_without_importing_qt():
    code = ("import sys, core.versions as v; d = v.runtime_versions(); "
            "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'; print(sorted(d))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for key in ("GeoSpottr", "Python", "torch", "torchvision", "PySide6", "Platform", "Device"):
        assert key in proc.stdout
    # `geospottr versions` names Qt as its help says (issue 27): the bundled one, read without importing it.
    assert "'Qt'" in proc.stdout


def test_runtime_versions_reports_qt_once_loaded_and_the_model_bundle():
    import PySide6.QtCore

    from core.models.bundle import BundleMeta, ClassInfo

    meta = BundleMeta(arch="baseline", classes=[ClassInfo("zagreb", "Zagreb", "HR", 45.8, 16.0)], run_id="r1")
    versions = runtime_versions(meta)
    assert versions["GeoSpottr"] == __version__
    assert versions["Qt"] == PySide6.QtCore.qVersion()
    assert versions["Model bundle"].startswith("baseline, 1 cities from run r1")
    lines = format_versions(versions).splitlines()
    assert len(lines) == len(versions) and lines[0].startswith("GeoSpottr:")


def test_cli_version_and_versions_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"geospottr {__version__}"
    assert cli_main(["versions", "--json"]) == 0
    out = capsys.readouterr().out
    assert f'"GeoSpottr": "{__version__}"' in out and '"Qt": "' in out


def test_gui_smoke_test_flag_opens_the_window_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "geospottr_gui.app", "--smoke-test"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_pyinstaller_spec_compiles():
    source = (REPO / "packaging" / "geospottr.spec").read_text(encoding="utf-8")
    compile(source, "geospottr.spec", "exec")


def test_torch_import_after_chromium_started_does_not_crash(tmp_path):
    """libtriton loaded after Chromium segfaults (Linux CUDA torch); preload_before_chromium prevents it."""
    code = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from geospottr_gui.native_libs import preload_before_chromium
preload_before_chromium()
from PySide6.QtWebEngineWidgets import QWebEngineView
app = QApplication(sys.argv)
view = QWebEngineView()
loaded = []
def then_import_torch(ok):
    loaded.append(ok)
    import torchvision.models  # noqa: F401 - the import that used to crash
    app.quit()
view.loadFinished.connect(then_import_torch)
QTimer.singleShot(120_000, app.quit)
view.setHtml("<p>ok</p>")
view.show()
app.exec()
sys.exit(0 if loaded == [True] else 3)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-1500:]}"
