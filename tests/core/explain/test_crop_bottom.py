"""`train --crop-bottom F`: recorded in the run and its bundle, applied by the shared preprocessing."""

from __future__ import annotations

import json

import pytest

from core.cli.main import main


def test_train_crop_bottom_is_recorded_and_applied_at_inference(tiny_project, one_torch_thread):
    from core.inference.prediction import Predictor
    from core.models.bundle import read_bundle

    root = str(tiny_project.root)
    assert main(["train", "--project", root, "--arch", "baseline", "--weights", "none", "--image-size", "32",
                 "--epochs", "1", "--max-steps", "1", "--workers", "0", "--device", "cpu",
                 "--crop-bottom", "0.25"]) == 0
    run = next(tiny_project.runs_dir.iterdir())
    assert json.loads((run / "config.json").read_text())["crop_bottom"] == 0.25
    assert read_bundle(run / "best.pt").meta.crop_bottom == 0.25
    transform = Predictor.load(run / "best.pt").transform
    from PIL import Image

    striped = Image.new("RGB", (80, 40))
    striped.paste((255, 255, 255), (0, 30, 80, 40))  # the bottom quarter: cut off before anything else
    assert transform(striped).equal(transform(Image.new("RGB", (80, 40))))


def test_crop_bottom_out_of_range_is_one_clear_error(tiny_project, capsys):
    assert main(["train", "--project", str(tiny_project.root), "--arch", "baseline", "--weights", "none",
                 "--crop-bottom", "0.8"]) != 0
    assert "--crop-bottom must be between 0 and 0.5" in capsys.readouterr().err


@pytest.mark.parametrize("size, crop, box", [((100, 100), 0.0, (0, 0, 100, 100)), ((100, 100), 0.12, (6, 0, 94, 88)),
                                             ((160, 90), 0.0, (35, 0, 125, 90)), ((60, 120), 0.25, (0, 15, 60, 75))])
def test_input_box_is_the_part_of_the_photo_the_model_sees(size, crop, box):
    from core.training.transforms import input_box

    assert input_box(*size, crop_bottom=crop) == box
