"""Predictor on a really trained tiny model: inputs of every kind, batches that survive bad files, bundles
that are not bundles."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.imaging import ImageError
from core.inference.prediction import PredictFailure, Prediction, Predictor
from core.models.bundle import BundleError, read_bundle
from tests.conftest import make_photo
from tests.core.bad_images import write_corpus


def _class_photo(tmp_path: Path, name: str, kind: int, seed: int = 77) -> Path:
    return make_photo(tmp_path / name, seed=seed, kind=kind)


def test_path_image_and_bytes_give_the_same_ranking(predictor, tmp_path):
    path = _class_photo(tmp_path, "a.jpg", kind=2)
    by_path = predictor.predict(path)
    by_bytes = predictor.predict(path.read_bytes())
    by_image = predictor.predict(Image.open(path).convert("RGB"))
    assert by_path.source == str(path)
    for other in (by_bytes, by_image):
        assert [c.slug for c in other.ranking] == [c.slug for c in by_path.ranking]
        np.testing.assert_allclose(other.probabilities, by_path.probabilities, atol=1e-6)


def test_probabilities_sum_to_one_and_the_ranking_is_sorted(predictor, project, tmp_path):
    slugs = [c.slug for c in project.cities()]
    for kind in range(4):
        pred = predictor.predict(_class_photo(tmp_path, f"{kind}.jpg", kind=kind, seed=500 + kind), top_k=3)
        assert sum(pred.probabilities) == pytest.approx(1.0, abs=1e-9)
        assert len(pred.ranking) == 3
        assert [c.probability for c in pred.ranking] == sorted((c.probability for c in pred.ranking), reverse=True)
        assert pred.top.slug == slugs[kind]   # the model learned the palettes (cities sorted as trained)
        assert pred.top.lat == project.city(pred.top.slug).lat
    everything = predictor.predict(_class_photo(tmp_path, "x.jpg", kind=0), top_k=0)
    assert len(everything.ranking) == 4
    assert sum(c.probability for c in everything.ranking) == pytest.approx(1.0)


def test_tta_averages_the_mirror_and_still_sums_to_one(trained, tmp_path):
    path = _class_photo(tmp_path, "t.jpg", kind=1)
    plain = Predictor.load(trained.bundle).predict(path)
    tta = Predictor.load(trained.bundle, tta=True).predict(path)
    assert sum(tta.probabilities) == pytest.approx(1.0)
    assert tta.top.slug == plain.top.slug


def test_bad_input_corpus_predicts_or_fails_with_one_line_naming_the_file(predictor, tmp_path):
    corpus = write_corpus(tmp_path / "bad")
    # A real JPEG header followed by garbage: a corrupt (not merely truncated) file.
    good = corpus["good.jpg"][0].read_bytes()
    corrupt = tmp_path / "bad" / "corrupt.jpg"
    corrupt.write_bytes(good[:200] + bytes(np.random.default_rng(0).integers(0, 255, 3000, dtype=np.uint8)))
    corpus["corrupt.jpg"] = (corrupt, False)
    folder = tmp_path / "bad" / "a-folder.jpg"
    folder.mkdir()
    corpus["a-folder.jpg"] = (folder, False)
    names = sorted(corpus)
    results = list(predictor.predict_many([corpus[n][0] for n in names], batch_size=3))
    assert len(results) == len(names)   # one result per input, in order; the batch never stopped
    for name, result in zip(names, results):
        path, usable = corpus[name]
        if usable:
            assert isinstance(result, Prediction), (name, result)
            assert sum(result.probabilities) == pytest.approx(1.0)
        else:
            assert isinstance(result, PredictFailure), name
            assert str(path) in result.reason and "\n" not in result.reason
        # single predictions raise the same one-line error instead
        if not usable:
            with pytest.raises(ImageError, match=name.replace(".", r"\.")):
                predictor.predict(path)


def test_exif_rotation_is_applied_before_predicting(predictor, tmp_path):
    """A photo stored on its side with EXIF orientation 6 predicts like the upright photo."""
    upright = _class_photo(tmp_path, "up.jpg", kind=3, seed=9)
    img = Image.open(upright)
    exif = Image.Exif()
    exif[0x0112] = 6   # "rotate 90 clockwise to display": store it rotated counter-clockwise
    sideways = tmp_path / "side.jpg"
    img.transpose(Image.Transpose.ROTATE_90).save(sideways, "JPEG", quality=95, exif=exif.tobytes())
    a, b = predictor.predict(upright), predictor.predict(sideways)
    assert b.top.slug == a.top.slug
    np.testing.assert_allclose(b.probabilities, a.probabilities, atol=0.05)
    assert predictor.open(sideways).size == img.size


def test_group_prediction_combines_views_and_reports_failures(predictor, tmp_path):
    views = [_class_photo(tmp_path, f"place/{i}.jpg", kind=0, seed=300 + i) for i in range(3)]
    broken = tmp_path / "place" / "broken.jpg"
    broken.write_bytes(b"")
    result = predictor.predict_group([*views, broken], top_k=2)
    assert len(result.views) == 3 and len(result.failures) == 1
    assert result.combined.views == 3
    assert result.combined.source == str(tmp_path / "place")
    assert sum(result.combined.probabilities) == pytest.approx(1.0)
    assert result.combined.top.slug == result.views[0].top.slug
    empty = predictor.predict_group([broken])
    assert empty.combined is None and len(empty.failures) == 1


# ---------------------------------------------------------------------- bundles that are not bundles
class _Evil:
    """Unpickling this would create a file: proof that loading executed code."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_bad_model_files_give_clear_errors_and_never_run_pickled_code(trained, tmp_path):
    not_a_bundle = tmp_path / "notes.pt"
    not_a_bundle.write_text("hello")
    truncated = tmp_path / "truncated.pt"
    data = trained.bundle.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    plain = tmp_path / "plain.pt"
    torch.save(read_bundle(trained.bundle).state_dict, plain)
    newer = tmp_path / "newer.pt"
    payload = torch.load(trained.bundle, weights_only=True)
    torch.save({**payload, "version": 99}, newer)
    future = tmp_path / "future.pt"
    meta = json.loads(payload["meta"])
    torch.save({**payload, "meta": json.dumps({**meta, "arch": "future-net"})}, future)
    evil = tmp_path / "evil.pt"
    marker = tmp_path / "pwned"
    _Evil.marker = marker
    buf = io.BytesIO()
    torch.save({"format": "geospottr-bundle", "version": 1, "x": _Evil()}, buf)
    evil.write_bytes(buf.getvalue())
    database = tmp_path / "geospottr.db"
    db = sqlite3.connect(database)
    db.execute("CREATE TABLE t(x)")
    db.commit()
    db.close()
    expected = {not_a_bundle: "not a GeoSpottr model bundle: it is a text file", database: "it is an SQLite database",
                truncated: "damaged or truncated",
                plain: "not a GeoSpottr model bundle", newer: "newer GeoSpottr", future: "unknown model 'future-net'", evil: "unsafe to load",
                tmp_path / "missing.pt": "no such model file"}
    for path, reason in expected.items():
        with pytest.raises(BundleError, match=reason) as info:
            Predictor.load(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not marker.exists()
