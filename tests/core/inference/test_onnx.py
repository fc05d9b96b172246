"""Item 5 of issue 25: `geospottr export-model` writes an ONNX file that predicts like the PyTorch bundle,
`predict --model X.onnx` never imports torch, and bad ONNX files get one clear line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from core.cli.main import main
from tests.conftest import REPO
from tests.core.inference.conftest import real_photos

pytest.importorskip("onnxruntime", reason="the ONNX engine is optional: pip install 'geospottr[onnx]'")
pytest.importorskip("onnx", reason="the ONNX engine is optional: pip install 'geospottr[onnx]'")


@pytest.fixture(scope="module")
def tiny_onnx(tiny_probe_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert main(["export-model", "--model", str(tiny_probe_bundle), "--onnx", str(out)]) == 0
    return out


@pytest.mark.slow
def test_the_onnx_export_of_the_default_model_agrees_with_torch_on_real_photos(ensemble_bundle, gsv_croatia, tmp_path):
    from core.inference.engines import load_predictor
    from core.inference.onnx_export import export_onnx

    onnx_file = export_onnx(ensemble_bundle, tmp_path / "ensemble.onnx")
    paths = real_photos(gsv_croatia, 20)
    torch_probs = np.array([r.probabilities for r in load_predictor(ensemble_bundle, device="cpu").predict_many(paths)])
    onnx_probs = np.array([r.probabilities for r in load_predictor(onnx_file).predict_many(paths)])
    assert np.abs(torch_probs - onnx_probs).max() < 1e-4


def test_predict_with_an_onnx_file_never_imports_torch(tiny_onnx, tiny_probe_bundle, photo_factory):
    photos = [str(photo_factory(f"p{i}.jpg", i)) for i in range(3)]
    code = ("import json, sys\nfrom core.cli.main import main\n"
            f"rc = main(['predict', '--model', {str(tiny_onnx)!r}, '--json', *{photos!r}])\n"
            "print('rc', rc, 'torch', 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert "rc 0 torch False" in out.stdout, out.stdout + out.stderr
    from core.inference.engines import load_predictor

    expected = [r.probabilities for r in load_predictor(tiny_probe_bundle, device="cpu").predict_many(photos)]
    got = [r.probabilities for r in load_predictor(tiny_onnx).predict_many(photos)]
    assert np.abs(np.array(expected) - np.array(got)).max() < 1e-4


def test_a_corrupt_onnx_file_is_one_clear_line(tmp_path, photo_factory, capsys):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07garbage that is no protobuf" * 50)
    assert main(["predict", "--model", str(bad), str(photo_factory("p.jpg", 1))]) != 0
    err = capsys.readouterr().err.strip()
    assert "not a readable ONNX model" in err and len(err.splitlines()) == 1


def test_an_onnx_file_without_geospottr_metadata_is_one_clear_line(tiny_onnx, tmp_path, photo_factory, capsys):
    import onnx

    proto = onnx.load(str(tiny_onnx))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    assert main(["predict", "--model", str(bare), str(photo_factory("p.jpg", 1))]) != 0
    err = capsys.readouterr().err.strip()
    assert "without GeoSpottr's metadata" in err and "export-model" in err and len(err.splitlines()) == 1


def test_heat_maps_need_the_pytorch_bundle(tiny_onnx, tmp_path, photo_factory, capsys):
    assert main(["predict", "--model", str(tiny_onnx), str(photo_factory("p.jpg", 1)),
                 "--explain", str(tmp_path / "maps")]) != 0
    assert "heat maps need the PyTorch bundle" in capsys.readouterr().err


def test_export_wants_an_onnx_file_name(tiny_probe_bundle, tmp_path, capsys):
    assert main(["export-model", "--model", str(tiny_probe_bundle), "--onnx", str(tmp_path / "x.pt")]) != 0
    assert "must end in .onnx" in capsys.readouterr().err
