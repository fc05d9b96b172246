"""Item 4 of issue 25: the ensemble probe is explained by Grad-CAM (every CNN member at its last conv
stage, taken with the gradient of the fused score), not by the 50-pass occlusion fallback, and the map
of a planted patch peaks on the patch; occlusion, where it still runs, reports the time left."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.core.explain.planted import patch_share, planted_photo
from tests.core.inference.conftest import CITIES

SIZE = 256


@pytest.fixture(scope="module")
def patch_predictor():
    return build_patch_predictor()


def build_patch_predictor():
    """Lite0 + Lite1 (ImageNet) + colour statistics whose first city is 'the patch is there': each member's
    class-0 weights point from a photo's features without the patch to the same photo's with it, its bias
    halfway between (every other city scores 0)."""
    from core.inference.prediction import Predictor
    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo

    spec = registry.spec("efficientnet-lite-ensemble-probe")
    kwargs = {**spec.defaults, "view_size": SIZE,
              "backbones": ["efficientnet-lite0", "efficientnet-lite1", "colour"]}
    model = registry.build(spec.name, len(CITIES), weights="imagenet", **kwargs).eval()
    meta = BundleMeta(arch=spec.name, classes=[ClassInfo(c, c.title(), "HR", 45.0, 16.0) for c in CITIES],
                      image_size=SIZE, mean=spec.mean, std=spec.std, arch_kwargs=kwargs)
    predictor = Predictor(model, meta)
    photos = [(planted_photo(seed, 0, (SIZE, SIZE)), planted_photo(seed, 0, (SIZE, SIZE), patch=False))
              for seed in range(4)]
    with torch.no_grad():
        for member in model.members:
            with_patch = torch.cat([member.view_features(predictor.batch([a])) for a, _ in photos]).mean(dim=(0, 1))
            without = torch.cat([member.view_features(predictor.batch([b])) for _, b in photos]).mean(dim=(0, 1))
            direction = 50 * (with_patch - without) / (with_patch - without).norm()
            member.classifier.weight.zero_()
            member.classifier.bias.zero_()
            member.classifier.weight[0] = direction
            member.classifier.bias[0] = -direction @ (with_patch + without) / 2  # > 0 with the patch, < 0 without
    return predictor


def test_every_cnn_member_is_a_grad_cam_layer_and_the_colour_member_is_not(patch_predictor):
    from core.inference.explain import cam_layers

    layers = cam_layers(patch_predictor.model)
    members = patch_predictor.model.members
    assert layers == [members[0].embedding.head.conv_head, members[1].embedding.head.conv_head]


def test_the_ensembles_map_of_a_planted_patch_peaks_on_the_patch(patch_predictor):
    photo = planted_photo(99, 0, (SIZE, SIZE))
    explanation = patch_predictor.explain(photo, city=CITIES[0])
    assert explanation.method == "grad-cam"
    mass, area = patch_share(explanation.heatmap)
    assert mass > 3 * area
    peak = np.unravel_index(int(np.argmax(explanation.heatmap)), explanation.heatmap.shape)
    assert peak[0] >= SIZE * 0.6 and peak[1] <= SIZE * 0.4   # bottom-left, where the patch is


def test_the_split_wide_heat_maps_use_grad_cam_for_the_ensemble_too(patch_predictor):
    from core.inference.explain import explain_batch

    photos = [planted_photo(seed, 0, (SIZE, SIZE)) for seed in (7, 8)]
    maps, probs = explain_batch(patch_predictor, photos)
    assert probs.shape == (2, len(CITIES))
    assert all(patch_share(m)[0] > 3 * patch_share(m)[1] for m in maps)


def test_occlusion_reports_the_time_left(patch_predictor):
    events = []
    patch_predictor.explain(planted_photo(5, 0, (SIZE, SIZE)), method="occlusion", on_event=events.append)
    assert events and events[-1].done == events[-1].total == 49
    assert all("s left" in e.message and e.scope == "explain" for e in events)
