"""Saliency maps and the shortcut check on a model that really learned a planted shortcut."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.cli.main import main
from core.errors import GeoSpottrError

from .planted import CITIES, patch_share, planted_photo


@pytest.fixture(scope="module")
def predictor(planted):
    from core.inference.prediction import Predictor

    return Predictor.load(planted.bundle)


def test_the_planted_model_reads_the_patch(predictor, planted):
    right = sum(predictor.predict(p).top.slug == CITIES[k] for p, k in zip(planted.photos, planted.labels))
    assert right >= 0.8 * len(planted.photos)


@pytest.mark.parametrize("method", ["auto", "occlusion"])
def test_heat_map_mass_concentrates_on_the_patch(predictor, planted, method):
    shares = [patch_share(predictor.explain(p, method=method).heatmap) for p in planted.photos]
    mass = float(np.mean([m for m, _ in shares]))
    area = shares[0][1]
    assert area < 0.1 and mass > 3 * area, f"{mass:.0%} of the evidence in {area:.0%} of the photo"


def test_map_covers_what_the_model_saw_at_the_photo_size(predictor, tmp_path):
    path = tmp_path / "wide.png"
    planted_photo(5, 2, size=(160, 96)).save(path)
    explanation = predictor.explain(path)
    assert explanation.heatmap.shape == (96, 160)
    assert explanation.box == (32, 0, 128, 96)   # the centred square the eval transform crops
    assert explanation.heatmap[:, :32].max() == 0 and explanation.heatmap[:, 128:].max() == 0
    assert explanation.heatmap.max() == pytest.approx(1.0)
    assert f"evidence for {explanation.city.name}" in explanation.title


def test_any_ranked_city_and_contrastive_maps(predictor, planted):
    photo = planted.photos[0]
    second = predictor.explain(photo, city="Zagreb")
    assert second.city.slug == "zagreb" and second.versus is None
    versus = predictor.explain(photo, city="osijek", versus="split")
    assert versus.versus.slug == "split" and "why Osijek, HR rather than Split, HR" in versus.title
    assert versus.heatmap.shape == second.heatmap.shape
    with pytest.raises(GeoSpottrError, match="not one of this model's cities"):
        predictor.explain(photo, city="Paris")
    with pytest.raises(GeoSpottrError, match="against itself"):
        predictor.explain(photo, city="split", versus="split")


def test_overlay_png_shows_the_heat_over_the_photo(predictor, planted):
    import io

    from core.inference.heatmaps import explanation_png

    explanation = predictor.explain(planted.photos[3])
    drawn = Image.open(io.BytesIO(explanation_png(explanation, opacity=0.8))).convert("RGB")
    assert drawn.width == 96 and drawn.height > 96   # the caption bar below the photo
    photo = np.asarray(explanation.image, dtype=float)
    over = np.asarray(drawn, dtype=float)[:96]
    hot = explanation.heatmap > 0.8
    cold = explanation.heatmap < 0.02
    assert np.abs(over - photo)[hot].mean() > 5 * max(1.0, np.abs(over - photo)[cold].mean())


def test_shortcut_check_warns_about_the_planted_patch(predictor, planted):
    from core.evaluation.shortcuts import check_shortcuts

    report = check_shortcuts(predictor, planted.photos, split="test")
    bottom = next(r for r in report.regions if r.key == "bottom")
    assert bottom.warn and bottom.evidence_share > 2 * bottom.area_share
    assert any("of the evidence comes from the bottom 12% of the frame: the car or the watermark; "
               "consider cropping: train --crop-bottom 0.12" in w for w in report.warnings)


def test_shortcut_check_is_quiet_for_a_model_that_looks_at_the_scene(planted):
    from core.evaluation.shortcuts import check_shortcuts
    from core.inference.prediction import Predictor

    control = Predictor.load(planted.control)
    photos = []
    for k in range(len(CITIES)):
        for i in range(3):
            photos.append(planted_photo(70_000 + 10 * k + i, k, patch=False, tint=True))
    assert sum(control.predict(p).top.slug == CITIES[i // 3] for i, p in enumerate(photos)) >= 9
    report = check_shortcuts(control, photos)
    assert report.warnings == [] and report.images == len(photos)


def test_crop_bottom_in_the_bundle_hides_the_patch_at_inference(planted, planted_meta, tmp_path):
    """The same weights with crop_bottom 0.15 recorded: prediction and explanation never see the patch."""
    import torch

    from core.evaluation.shortcuts import check_shortcuts
    from core.inference.prediction import Predictor
    from core.models.bundle import load_bundle, save_bundle

    model, _ = load_bundle(planted.bundle)
    cropped = save_bundle(tmp_path / "cropped.pt", model, planted_meta(crop_bottom=0.15))
    predictor = Predictor.load(cropped)
    photo = planted_photo(1, 0)
    recoloured = np.asarray(photo).copy()
    recoloured[-14:] = 0                              # anything in the cut-off strip
    same = [predictor.transform(photo), predictor.transform(Image.fromarray(recoloured))]
    assert torch.equal(same[0], same[1])
    explanation = predictor.explain(photo)
    assert explanation.box[3] <= 96 - 14 and explanation.heatmap[-14:].max() == 0
    report = check_shortcuts(predictor, planted.photos)
    assert report.regions[0].evidence_share == 0 and not report.regions[0].warn


def test_cli_predict_explain_writes_one_overlay_per_photo(planted, tmp_path, capsys):
    out = tmp_path / "heat"
    photos = planted.photos[:2] + [planted.photos[5]]
    assert main(["predict", "--model", str(planted.bundle), "--json", "--explain", str(out),
                 *map(str, photos)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3       # stdout is still the JSON Lines, untouched
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(f"{p.stem}.explain.png" for p in photos)
    assert "wrote 3 heat maps" in captured.err
    assert Image.open(out / written[0]).size[0] == 96


def test_cli_evaluate_shortcuts_warns_and_writes_the_figures(planted_project, capsys):
    root = str(planted_project.root)
    assert main(["evaluate", "--project", root, "--run", "planted", "--device", "cpu", "--shortcuts"]) == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "train --crop-bottom 0.12" in captured.err
    assert "shortcut check over" in captured.out
    data = json.loads((planted_project.runs_dir / "planted" / "shortcuts.json").read_text())
    assert data["split"] == "test" and data["regions"][0]["key"] == "bottom" and data["warnings"]


def test_cli_predict_explain_versus_a_city(predictor, planted, tmp_path, capsys):
    """--versus makes the maps contrastive; a photo whose top city is that city gets the plain map."""
    out = tmp_path / "heat"
    tops = {predictor.predict(p).top.slug: p for p in planted.photos}
    photos = [tops["split"], next(p for slug, p in tops.items() if slug != "split")]
    assert main(["predict", "--model", str(planted.bundle), "--explain", str(out), "--versus", "Split",
                 *map(str, photos)]) == 0
    err = capsys.readouterr().err
    assert "wrote 2 heat maps" in err and "1 photo had Split as top city: plain heat map" in err
    assert len(list(out.iterdir())) == 2
    assert main(["predict", "--model", str(planted.bundle), "--explain", str(out), "--versus", "Paris",
                 str(photos[0])]) != 0
    assert "'Paris' is not one of this model's cities" in capsys.readouterr().err
    assert main(["predict", "--model", str(planted.bundle), "--versus", "split", str(photos[0])]) != 0
    assert "give --explain OUT_DIR too" in capsys.readouterr().err
