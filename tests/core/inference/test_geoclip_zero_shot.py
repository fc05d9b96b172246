"""predict --zero-shot geoclip: GeoCLIP's real GPS head (the geoclip package's location encoder, image MLP,
logit scale and 100K gallery) on a tiny random CLIP backbone saved with save_pretrained (the hub name is only
a default), through the CLI on a real photo; the city rule checked on planted gallery distributions; a missing
extra, folder or hub is one line within 2 s.

The gallery's location features take about a minute on two CPU cores: they are computed once for the module
(into a module-wide cache folder) and read back by every later test.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli.main import main
from core.inference import geoclip_cities as gc
from core.inference.results import CityScore

from ...conftest import GSV_CROATIA, make_photo

CITIES = "Zagreb,Osijek,Rijeka,Split"
ZAGREB = (45.8150, 15.9819)
HAS_GEOCLIP = all(importlib.util.find_spec(n) for n in ("geoclip", "transformers", "pandas"))
needs_geoclip = pytest.mark.skipif(not HAS_GEOCLIP, reason='the geoclip extra (pip install "geospottr[geoclip]")')


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("geoclip") / "hr"
    assert main(["init", str(root), "--cities", CITIES]) == 0
    return root


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A real Street View photo of the sample set when present, else a generated one."""
    real = sorted((GSV_CROATIA / "images").glob("*.jpg"))[:1] if GSV_CROATIA.is_dir() else []
    return real[0] if real else make_photo(tmp_path_factory.mktemp("photo") / "street.jpg", seed=3, size=(160, 120))


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory) -> Path:
    """A random CLIP with a 1-layer 32 px vision tower and GeoCLIP's projection width (768, so the package's
    real MLP fits), with its image processor, saved like a downloaded model folder."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("clip") / "tiny-clip-768"
    text = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                max_position_embeddings=16, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32,
                  patch_size=8)
    transformers.CLIPModel(transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=768)
                           ).save_pretrained(folder)
    transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
                                    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory) -> Path:
    """One XDG cache folder for the module: the gallery features are computed once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def geoclip_cli(project, tiny_backbone, cache_home, monkeypatch, capsys):
    """Runs ``predict --zero-shot geoclip --weights TINY ARGS...``; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--project", str(project), "predict", "--zero-shot", "geoclip", "--weights", str(tiny_backbone),
                     *args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def gallery() -> np.ndarray:
    """The package's real GPS gallery as (lat, lon) rows, read without pandas or torch."""
    spec = importlib.util.find_spec("geoclip")
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "gps_gallery" / "coordinates_100K.csv"
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1))


# ---------------------------------------------------------------------- the rule, planted
def test_city_reach_is_the_project_radius_but_never_under_the_city_scale():
    class City:
        lat, lon, radius_km, bbox = 45.8, 16.0, None, None

    city = City()
    assert gc.city_reach_km(city) == gc.CITY_SCALE_KM              # no radius: 10 km default, raised to 25
    city.radius_km = 40.0
    assert gc.city_reach_km(city) == 40.0
    city.radius_km, city.bbox = None, (15.0, 45.3, 17.0, 46.3)      # a bbox city: its farthest corner
    assert 90 < gc.city_reach_km(city) < 110


@needs_geoclip
def test_planted_gallery_mass_goes_to_the_nearest_city_within_its_reach_else_elsewhere():
    from core.models.meta import ClassInfo

    points = gallery()
    classes = [ClassInfo("zagreb", "Zagreb", "HR", *ZAGREB), ClassInfo("split", "Split", "HR", 43.5081, 16.4402)]
    owner = gc.assign_gallery(points, classes, [25.0, 25.0])
    near_zagreb = np.flatnonzero(gc._distances_km(points[:, 0], points[:, 1], *ZAGREB) < 20)
    paris = int(np.argmin(gc._distances_km(points[:, 0], points[:, 1], 48.8566, 2.3522)))
    assert len(near_zagreb) > 10 and set(owner[near_zagreb]) == {0} and owner[paris] == -1
    dist = np.zeros((3, len(points)))
    dist[0, near_zagreb] = 1.0                                       # all mass near Zagreb
    dist[1, near_zagreb], dist[1, paris] = 0.4 / len(near_zagreb), 0.6   # most of it in Paris
    dist[2] = 1.0                                                    # uniform over the world
    cities, elsewhere = gc.city_mass(dist, owner, len(classes))
    assert cities[0] == pytest.approx([1.0, 0.0]) and elsewhere[0] == pytest.approx(0.0)
    assert cities[1] == pytest.approx([0.4, 0.0]) and elsewhere[1] == pytest.approx(0.6)
    assert cities[2].sum() + elsewhere[2] == pytest.approx(1.0) and elsewhere[2] > 0.99
    top = gc.gps_guesses(points, dist[1], classes, top_k=2)
    assert top[0].city == "zagreb" and top[0].probability == pytest.approx(0.6) and top[0].distance_km > 1000


# ---------------------------------------------------------------------- the CLI
@needs_geoclip
@pytest.mark.slow
def test_predict_names_project_cities_elsewhere_and_the_gps_guess(geoclip_cli, photo, project):
    code, out, err = geoclip_cli("--json", "--top-k", "0", str(photo))
    assert code == 0, err
    row = json.loads(out)
    assert {c["city"] for c in row["ranking"]} == {"zagreb", "osijek", "rijeka", "split"}
    total = sum(c["probability"] for c in row["ranking"])
    assert total <= 1 + 1e-9 and total + row["elsewhere"] == pytest.approx(1.0, abs=1e-6)
    best = row["gps"][0]
    assert -90 <= best["lat"] <= 90 and -180 <= best["lon"] <= 180 and 0 < best["probability"] <= 1
    assert best["nearest_city"] in {"zagreb", "osijek", "rijeka", "split"} and best["distance_km"] >= 0
    code, out, err = geoclip_cli(str(photo))                         # the text table says the same
    assert code == 0 and "GPS guess: " in out and "km from" in out and "elsewhere" in out
    assert "encoding" not in err                                     # the gallery came from the cache


@needs_geoclip
@pytest.mark.slow
def test_planted_distribution_near_zagreb_ranks_zagreb_first(geoclip_cli, photo, monkeypatch):
    from core.inference.geoclip_zero_shot import GeoClipPredictor

    points = gallery()
    near = gc._distances_km(points[:, 0], points[:, 1], *ZAGREB) < 15

    def planted(self, images):
        return np.tile(near / near.sum(), (len(images), 1))
    monkeypatch.setattr(GeoClipPredictor, "gallery_probabilities", planted)
    code, out, err = geoclip_cli("--json", str(photo), str(photo))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 2, err
    for row in rows:
        assert row["ranking"][0]["city"] == "zagreb" and row["ranking"][0]["probability"] == pytest.approx(1.0)
        assert row["gps"][0]["nearest_city"] == "zagreb" and row["gps"][0]["distance_km"] < 15
    code, out, err = geoclip_cli("--json", "--group", str(photo), str(photo))   # two views of one place
    row = json.loads(out)
    assert code == 0 and row["views"] == 2 and row["ranking"][0]["city"] == "zagreb", err


# ---------------------------------------------------------------------- one line, fast
def _one_line_error(project, capsys, *args: str) -> str:
    started = time.monotonic()
    code = main(["--project", str(project), "predict", "--zero-shot", "geoclip", *args])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err.strip()
    assert code == 1 and elapsed < 2.5 and "\n" not in err and "Traceback" not in err, (elapsed, err)
    return err


def test_without_the_extra_it_says_what_to_install(project, photo, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "geoclip" else real(name, *a))
    assert 'pip install "geospottr[geoclip]"' in _one_line_error(project, capsys, str(photo))


@needs_geoclip
def test_a_missing_or_wrong_backbone_folder_is_one_line(project, photo, tmp_path, capsys):
    assert "no such folder" in _one_line_error(project, capsys, "--weights", str(tmp_path / "missing"), str(photo))
    (tmp_path / "empty").mkdir()
    assert "not a CLIP model folder" in _one_line_error(project, capsys, "--weights", str(tmp_path / "empty"),
                                                        str(photo))


@needs_geoclip
def test_offline_the_default_backbone_is_one_line_naming_the_download(project, photo, capsys, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens: the hub is unreachable
    monkeypatch.setenv("NO_PROXY", "")
    err = _one_line_error(project, capsys, str(photo))
    assert gc.DEFAULT_BACKBONE in err and "--weights DIR" in err


def test_the_flag_alone_before_a_photo_is_still_streetclip(project, photo, tmp_path, capsys):
    """``--zero-shot PHOTO`` (valid before the flag took a model name): StreetCLIP, the photo an input."""
    pytest.importorskip("transformers")
    code = main(["--project", str(project), "predict", "--zero-shot", str(photo), "--weights",
                 str(tmp_path / "missing.bin")])
    err = capsys.readouterr().err
    assert code == 1 and "geolocal/StreetCLIP" in err and "give at least one IMAGE" not in err


def test_result_types_carry_the_gps_guess_only_when_there_is_one():
    from core.inference.results import GpsGuess, Prediction

    score = CityScore("zagreb", "Zagreb", "HR", *ZAGREB, 0.7)
    plain = Prediction("a.jpg", (0.7, 0.3), (score,))
    assert "gps" not in plain.to_dict() and "elsewhere" not in plain.to_dict()
    guess = GpsGuess(45.8, 16.0, 0.2, "zagreb", "Zagreb", "HR", 1.5)
    data = Prediction("a.jpg", (0.7, 0.1), (score,), gps=(guess,), elsewhere=0.2).to_dict()
    assert data["gps"][0]["nearest_city"] == "zagreb" and data["elsewhere"] == 0.2
    assert guess.label == "45.8000, 16.0000, 1.5 km from Zagreb, HR"
