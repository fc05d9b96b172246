"""Issue 15 item 5: a model file's metadata is checked before anything is built from it; absurd sizes are
refused in milliseconds and bounded memory, NaN weights and bad coordinates are clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from core.models.bundle import BundleError, load_bundle

from .conftest import cli, one_line_error
from .hostile import jpeg


def tampered(src, dst, state=None, **meta_changes):
    payload = torch.load(src, weights_only=True)
    meta = json.loads(payload["meta"])
    meta.update(meta_changes)
    payload["meta"] = json.dumps(meta)
    if state is not None:
        payload["state_dict"] = state(dict(payload["state_dict"]))
    torch.save(payload, dst)
    return dst


def _nan_first(state):
    name = next(iter(state))
    state[name] = torch.full_like(state[name], float("nan"))
    return state


CLASS = {"slug": "split", "name": "Split", "country": "HR", "lat": 43.5, "lon": 16.4}
CASES = {
    "hidden": ({"arch_kwargs": {"hidden": 6_000_000}}, "hidden"),
    "hidden_fits_cap": ({"arch_kwargs": {"hidden": 500_000}}, "do not fit"),
    "image_size": ({"image_size": 60000}, "image_size"),
    "image_size_text": ({"image_size": "224"}, "image_size"),
    "unknown_kwarg": ({"arch_kwargs": {"evil": 1}}, "no setting"),
    "unknown_field": ({"payload": "x"}, "unknown metadata field"),
    "arch": ({"arch": "os.system"}, "unknown model"),
    "coords_text": ({"classes": [dict(CLASS, lat="north"), dict(CLASS, slug="zagreb")]}, "not a place"),
    "coords_inf": ({"classes": [dict(CLASS, lon=1e999), dict(CLASS, slug="zagreb")]}, "not a place"),
    "slug": ({"classes": [dict(CLASS, slug="../../x"), dict(CLASS, slug="zagreb")]}, "slug"),
    "one_class": ({"classes": [CLASS]}, "2 to"),
    "std_zero": ({"std": [0, 0, 0]}, "std"),
    "mean_nan": ({"mean": [float("nan"), 0, 0]}, "mean"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_metadata_is_refused_before_building(tmp_path, bundle_path, case):
    changes, words = CASES[case]
    bad = tampered(bundle_path, tmp_path / "bad.pt", **changes)
    with pytest.raises(BundleError, match=words):
        load_bundle(bad)


def test_nan_weights_are_an_error_not_nan_percent(tmp_path, bundle_path):
    bad = tampered(bundle_path, tmp_path / "nan.pt", state=_nan_first)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(jpeg((64, 48)))
    result = cli("predict", "--model", bad, photo)
    assert "NaN" in one_line_error(result) and "nan%" not in result.stdout
