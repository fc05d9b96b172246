"""On the CPU both engines run a batch through the model a few photos at a time (`CPU_FORWARD_PIXELS`,
issue 25: faster per photo there) and give the same probabilities as one forward pass of the whole batch."""

from __future__ import annotations

import numpy as np
import pytest

from core.inference import base


def _images(photo_factory, predictor, n=5):
    return [predictor.open(photo_factory(f"p{i}.jpg", i)) for i in range(n)]


def test_the_chunk_follows_the_input_size(tiny_probe_bundle):
    from core.inference.prediction import Predictor

    predictor = Predictor.load(tiny_probe_bundle, device="cpu")
    assert predictor.meta.image_size == 64
    assert predictor.cpu_chunk == base.CPU_FORWARD_PIXELS // 64**2
    predictor.meta.image_size = 640  # the default model's input: one photo per forward pass
    assert predictor.cpu_chunk == 1


def test_pytorch_runs_chunks_and_predicts_the_same(tiny_probe_bundle, photo_factory, monkeypatch):
    from core.inference.prediction import Predictor

    predictor = Predictor.load(tiny_probe_bundle, device="cpu")
    images = _images(photo_factory, predictor)
    whole = predictor.probabilities(images)
    sizes: list[int] = []
    predictor.model.register_forward_pre_hook(lambda _m, inputs: sizes.append(len(inputs[0])))
    monkeypatch.setattr(base, "CPU_FORWARD_PIXELS", 2 * 64 * 64)
    chunked = predictor.probabilities(images)
    assert sizes == [2, 2, 1]
    assert np.abs(whole - chunked).max() < 1e-6
    assert np.allclose(chunked.sum(axis=1), 1.0)


def test_onnx_runs_chunks_and_predicts_the_same(tiny_probe_bundle, photo_factory, monkeypatch, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from core.inference.onnx_engine import OnnxPredictor
    from core.inference.onnx_export import export_onnx

    predictor = OnnxPredictor.load(export_onnx(tiny_probe_bundle, tmp_path / "tiny.onnx"), tta=True)
    images = _images(photo_factory, predictor)
    whole = predictor.probabilities(images)
    runs: list[int] = []
    run = predictor.session.run

    class Spy:  # onnxruntime's session object does not take new attributes
        def run(self, names, feeds):
            runs.append(len(next(iter(feeds.values()))))
            return run(names, feeds)

    predictor.session = Spy()
    monkeypatch.setattr(base, "CPU_FORWARD_PIXELS", 2 * 64 * 64)
    chunked = predictor.probabilities(images)
    assert runs == [2, 2, 1] * 2  # and the mirrored batch (TTA) the same way
    assert np.abs(whole - chunked).max() < 1e-6
