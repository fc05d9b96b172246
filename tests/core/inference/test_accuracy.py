"""Issue 25's accuracy rule: the fast path (torch-free preprocessing, views cut once for all ensemble
members, meta-device loading) predicts what the pre-issue path predicted on real photos: top-1 the same
on at least 99% of them and no probability more than 1e-3 apart."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.core.inference.conftest import real_photos

pytestmark = pytest.mark.slow


def _reference(bundle, paths) -> np.ndarray:
    """The pre-issue path: a randomly initialised model the weights are copied into, torchvision's eval
    transform, and every ensemble member cutting and resizing its own view of the frame."""
    import torchvision.transforms.v2 as T

    from core.imaging import load_image
    from core.models.bundle import build_model, read_bundle

    raw = read_bundle(bundle)
    model = build_model(raw.meta)
    model.load_state_dict(raw.state_dict)
    model.eval()
    m = raw.meta
    transform = T.Compose([T.Resize(m.image_size, antialias=True), T.CenterCrop(m.image_size), T.ToImage(),
                           T.ToDtype(torch.float32, scale=True), T.Normalize(list(m.mean), list(m.std))])
    x = torch.stack([transform(load_image(p, draft=(m.image_size, m.image_size))) for p in paths])
    with torch.no_grad():
        fused = torch.stack([F.log_softmax(member(x), dim=1) for member in model.members]).mean(dim=0)
    return torch.softmax(fused, dim=1).double().numpy()


def test_the_fast_path_predicts_what_the_old_one_did_on_real_photos(ensemble_bundle, gsv_croatia):
    from core.inference.prediction import Predictor

    paths = real_photos(gsv_croatia, 40)
    predictor = Predictor.load(ensemble_bundle, device="cpu")
    ours = np.array([r.probabilities for r in predictor.predict_many(paths)])
    before = _reference(ensemble_bundle, paths)
    assert (ours.argmax(1) == before.argmax(1)).mean() >= 0.99
    assert np.abs(ours - before).max() < 1e-3


def test_members_see_the_frame_at_the_resolution_their_probes_were_fitted_at(ensemble_bundle):
    """The table says what the code does: a 640 px input, seen by every member at the 320 px view."""
    from core.models import registry
    from core.models.bundle import load_bundle

    model, meta = load_bundle(ensemble_bundle)
    spec = registry.spec(meta.arch)
    assert meta.image_size == spec.default_image_size == 640
    assert {m.view_size for m in model.members} == {spec.defaults["view_size"]} == {320}
    assert "640 px" in spec.description and "320 px" in spec.description
    views = model.members[0].views_of(torch.zeros(1, 3, 640, 640))
    assert [tuple(v.shape) for v in views] == [(1, 3, 320, 320)]
