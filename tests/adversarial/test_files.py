"""Issue 15 items 3 and 4: files that never end, block on open, lie about their size or their pixels give
one clear line each, the batch goes on, and memory stays bounded (checked under RLIMIT_AS)."""

from __future__ import annotations

import csv
import json

import pytest

from core.imaging import DECODE_PIXELS, ImageError, load_image, validate_bytes

from .conftest import cli, needs_linux, run_bounded
from .hostile import flat_jpeg, jpeg, jpeg_claiming, png_claiming, special_files, strip_jpeg, strip_png


def test_special_files_are_refused_and_the_batch_goes_on(tmp_path, proj):
    folder = tmp_path / "src" / "zagreb"
    specials = special_files(folder)
    (folder / "good.jpg").write_bytes(jpeg((40, 30), seed=7))
    rows = [{"path": str(p), "city": "zagreb"} for p in specials.values()]
    rows.append({"path": str(folder / "good.jpg"), "city": "split"})
    with (tmp_path / "list.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "city"])
        writer.writeheader()
        writer.writerows(rows)
    result = cli("--project", proj.root, "import", tmp_path / "list.csv", timeout=60)  # a FIFO must not hang it
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 added" in result.stdout
    for name, path in specials.items():
        assert f"rejected {path}" in result.stdout, name
    assert "not a regular file" in result.stdout and "too large" in result.stdout

    result = cli("--project", proj.root, "import", tmp_path / "src", timeout=60)  # the folder form too
    assert result.returncode == 0 and "1 already in the project" in result.stdout, result.stderr[-2000:]
    assert f"rejected {specials['sparse']}" in result.stdout


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_csv_is_refused_not_waited_on(tmp_path, proj):
    import os

    os.mkfifo(tmp_path / "list.csv")
    result = cli("--project", proj.root, "import", tmp_path / "list.csv", timeout=60)
    assert result.returncode == 1 and "not a regular file" in result.stderr


def test_absurd_shapes_and_bombs_are_refused_big_photos_downscaled():
    cases = {"strip.png": (strip_png(1, 20000), "aspect"), "strip.jpg": (strip_jpeg(1, 60000), "aspect"),
             "bomb.png": (png_claiming(100_000, 100_000), "bomb"), "bomb.jpg": (jpeg_claiming(65000, 65000), "bomb")}
    for name, (data, reason) in cases.items():
        with pytest.raises(ImageError, match=reason):
            validate_bytes(data, name)
        with pytest.raises(ImageError, match=reason):
            load_image(data, draft=(224, 224))
    big = flat_jpeg((9000, 6000))  # 54 MP: decoded at half scale, stored reduced
    valid = validate_bytes(big, "phone.jpg")
    assert valid.width * valid.height <= DECODE_PIXELS and (valid.width, valid.height) == (4500, 3000)
    assert valid.jpeg != big and valid.sha256  # the stored copy is the reduced one


BOUNDED_DECODE = """
    import json, sys
    from core.imaging import ImageError, load_image, validate_bytes
    from tests.adversarial.hostile import flat_jpeg, strip_jpeg, strip_png
    out = {}
    for name, data in (("strip_png", strip_png(1, 20000)), ("strip_jpg", strip_jpeg(1, 60000))):
        try:
            load_image(data, draft=(224, 224))
            out[name] = "decoded"
        except ImageError as exc:
            out[name] = str(exc)
    big = validate_bytes(flat_jpeg((12000, 9000)), "108mp.jpg")   # a 108 MP phone photo
    out["big"] = [big.width, big.height]
    try:
        load_image(sys.argv[1])
    except ImageError as exc:
        out["sparse"] = str(exc)
    print(json.dumps(out))
"""


@needs_linux
def test_decoding_stays_in_bounded_memory(tmp_path):
    sparse = special_files(tmp_path)["sparse"]
    result = run_bounded(BOUNDED_DECODE.replace("sys.argv[1]", repr(str(sparse))),
                         preload="import numpy, PIL.Image\n")
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert "aspect" in out["strip_png"] and "aspect" in out["strip_jpg"]
    assert out["big"] == [6000, 4500] and "too large" in out["sparse"]


MODEL_SIDE = """
    import json
    from core.models.bundle import BundleError, load_bundle
    from core.inference.prediction import Predictor
    out = {}
    predictor = Predictor.load(MODEL)
    out["predict"] = [getattr(r, "reason", "ok") for r in predictor.predict_many(PHOTOS)]
    try:
        load_bundle(BIG_LAYER)
        out["big_layer"] = "loaded"
    except BundleError as exc:
        out["big_layer"] = str(exc)
    print(json.dumps(out))
"""


@needs_linux
def test_model_side_cases_run_in_bounded_memory(tmp_path, bundle_path):
    """One interpreter with torch, capped: the 165-byte 1x20000 PNG that took 4.8 GB in predict is refused
    and the next photo still predicted; a bundle asking for a ~0.7 GB layer is refused before allocating."""
    from .test_bundle import tampered

    strip = tmp_path / "strip.png"
    strip.write_bytes(strip_png(1, 20000))
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg((64, 48), seed=9))
    big = tampered(bundle_path, tmp_path / "big.pt", arch_kwargs={"hidden": 900_000})
    code = (MODEL_SIDE.replace("MODEL", repr(str(bundle_path))).replace("PHOTOS", repr([str(strip), str(good)]))
            .replace("BIG_LAYER", repr(str(big))))
    result = run_bounded(code, preload="import torch, torchvision\nimport core.inference.prediction\ntorch.set_num_threads(1)\n")
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert "aspect" in out["predict"][0] and out["predict"][1] == "ok"
    assert "do not fit" in out["big_layer"]


def test_evaluate_lists_a_strip_in_the_test_split_and_goes_on(tmp_path, one_torch_thread):
    """The 15 KB 1x60000 JPEG that made `evaluate` die with MemoryError: now one failure among the rest."""
    import torch

    from core.evaluation.metrics import evaluate
    from core.inference.prediction import Predictor
    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo, save_bundle
    from tests.conftest import build_tiny_project

    project = build_tiny_project(tmp_path, per_city=4, size=(48, 36))
    cities = project.cities()
    torch.manual_seed(0)
    meta = BundleMeta(arch="baseline", image_size=32, classes=[ClassInfo(c.slug, c.name, c.country, c.lat, c.lon)
                                                                for c in cities])
    bundle = save_bundle(tmp_path / "m.pt", registry.build("baseline", len(cities)), meta)
    split = next(s for s in ("test", "val", "train") if project.images(split=s))
    tests = project.images(split=split)
    project.image_path(tests[0]).write_bytes(strip_jpeg(1, 60000))  # swapped in behind the project's back
    report = evaluate(project, Predictor.load(bundle), split=split)
    assert len(report.failures) == 1 and "aspect" in report.failures[0][1]
    assert len(report.images) == len(tests) - 1
    project.close()
