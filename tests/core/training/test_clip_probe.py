"""streetclip-probe end to end from a tiny random CLIP vision tower saved with save_pretrained (the real hub
name is only a default): train the probe, predict with the saved bundle (no folder, no hub), evaluate,
explain, the learning curve; predict --zero-shot from a tiny full CLIP with its processor; offline it is one
line within 2 s."""

from __future__ import annotations

import json
import time

import pytest

transformers = pytest.importorskip("transformers", reason='the clip extra (pip install "geospottr[clip]")')

from core.cli.main import main  # noqa: E402 - after the importorskip
from core.errors import GeoSpottrError  # noqa: E402
from core.evaluation.learning import learning_curve  # noqa: E402
from core.inference.explain import explain  # noqa: E402
from core.inference.prediction import Predictor  # noqa: E402
from core.models import registry  # noqa: E402
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
    with pytest.raises(GeoSpottrError, match="no such folder"):  # a path, never sent to the hub as a name
        registry.build("streetclip-probe", 4, weights=str(tmp_path / "models" / "missing"))


def _byte_chars() -> list[str]:
    """The 256 characters CLIP's byte-level BPE writes bytes as (printable ones stand for themselves)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in kept]
    return [chr(b) for b in kept] + [chr(256 + n) for n in range(len(extra))]


@pytest.fixture(scope="module")
def tiny_clip_with_text(tmp_path_factory):
    """A tiny full CLIP (text and vision towers, random) and a character-level processor, saved as a folder."""
    root = tmp_path_factory.mktemp("clip-full")
    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)} | {c + "</w>": len(chars) + i for i, c in enumerate(chars)}
    vocab |= {"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1}
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.CLIPTokenizer(str(root / "vocab.json"), str(root / "merges.txt"))
    images = transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    text = dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                max_position_embeddings=128, bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"])
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                  patch_size=8)
    folder = root / "tiny-clip-full"
    transformers.CLIPModel(transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
                           ).save_pretrained(folder)
    transformers.CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def test_zero_shot_ranks_the_projects_cities_without_a_training_run(small_project, tiny_clip_with_text, capsys):
    photos = sorted(small_project.images_dir.rglob("*.jpg"))[:3]
    base = ["--project", str(small_project.root), "predict", "--zero-shot", "--weights", str(tiny_clip_with_text)]
    assert main([*base, "--json", "--top-k", "0", *map(str, photos)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert {c["city"] for c in row["ranking"]} == {c.slug for c in small_project.cities()}
        assert sum(c["probability"] for c in row["ranking"]) == pytest.approx(1.0, abs=1e-6)
    assert main([*base, "--run", "x", str(photos[0])]) == 1
    assert "no --run" in capsys.readouterr().err
