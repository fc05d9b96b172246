"""streetclip-probe end to end from a tiny random CLIP vision tower saved with save_pretrained (the real hub
name is only a default): train the probe, predict with the saved bundle (no folder, no hub), evaluate, the
learning curve; offline or without transformers it is one line within 2 s."""

from __future__ import annotations

import time

import pytest

transformers = pytest.importorskip("transformers", reason='the clip extra (pip install "geospottr[clip]")')

from core.cli.main import main  # noqa: E402 - after the importorskip
from core.errors import GeoSpottrError  # noqa: E402
from core.explain import explain  # noqa: E402
from core.learning import learning_curve  # noqa: E402
from core.models import registry  # noqa: E402
from core.prediction import Predictor  # noqa: E402
from core.training.trainer import train  # noqa: E402

from .helpers import fast_config  # noqa: E402


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A 2-layer ViT on 32 px inputs, random weights, saved like a downloaded model folder."""
    config = transformers.CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                           num_attention_heads=2, image_size=32, patch_size=8, projection_dim=16)
    folder = tmp_path_factory.mktemp("clip") / "tiny-clip"
    transformers.CLIPVisionModelWithProjection(config).save_pretrained(folder)
    return folder


def test_train_predict_evaluate_and_curve_from_a_local_clip_folder(small_project, tiny_clip, capsys):
    cfg = fast_config(arch="streetclip-probe", weights=str(tiny_clip), image_size=48, arch_kwargs={"view_size": 32})
    result = train(small_project, cfg)
    assert result.status == "finished"
    predictor = Predictor.load(result.best_checkpoint)  # rebuilt from the config in the bundle, weights_only
    assert predictor.meta.arch == "streetclip-probe" and predictor.meta.arch_kwargs["clip_config"]["image_size"] == 32
    path = next(small_project.images_dir.rglob("*.jpg"))
    assert len(predictor.predict(path).ranking) == 4
    code = main(["--project", str(small_project.root), "evaluate", "--run", result.run_id])
    assert code == 0 and "macro" in capsys.readouterr().out.lower()
    curve = learning_curve(small_project, cfg)
    assert curve.arch == "streetclip-probe" and len(curve.points) == 4
    # A vision transformer has no conv stage for Grad-CAM: the heat map falls back to occlusion.
    explanation = explain(predictor, path)
    assert explanation.method == "occlusion" and explanation.heatmap.shape == explanation.image.size[::-1]


def test_offline_hub_name_is_one_line_within_two_seconds(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens: the hub is unreachable
    monkeypatch.setenv("NO_PROXY", "")
    started = time.monotonic()
    with pytest.raises(GeoSpottrError) as caught:
        registry.build("streetclip-probe", 4, weights="imagenet")
    assert time.monotonic() - started < 2.5
    message = str(caught.value)
    assert "\n" not in message and "geolocal/StreetCLIP" in message and "--weights DIR" in message


def test_a_folder_that_is_no_clip_model_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GeoSpottrError, match="not a CLIP model folder"):
        registry.build("streetclip-probe", 4, weights=str(tmp_path / "empty"))
    with pytest.raises(GeoSpottrError, match="no such folder"):
        registry.build("streetclip-probe", 4, weights=str(tmp_path / "missing.bin"))
