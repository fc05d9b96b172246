"""Item 2 of issue 25: the inference path's preprocessing is PIL + numpy (`core.models.preprocessing`), gives
what torchvision's eval transform gave, and predicting a photo never imports torchvision."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from core.models.preprocessing import eval_array, resample_matrix
from tests.conftest import REPO


def _torchvision_eval(img: Image.Image, size: int, mean, std, crop_bottom: float = 0.0) -> np.ndarray:
    """The eval transform as it was written with torchvision before issue 25 (the reference)."""
    import torchvision.transforms.v2 as T

    from core.models.preprocessing import CropBottom

    steps = [CropBottom(crop_bottom)] if crop_bottom else []
    steps += [T.Resize(size, antialias=True), T.CenterCrop(size), T.ToImage(), T.ToDtype(torch.float32, scale=True),
              T.Normalize(list(mean), list(std))]
    return T.Compose(steps)(img).numpy()


@pytest.mark.parametrize("photo_size, size, crop", [((96, 72), 64, 0.0), ((72, 96), 48, 0.1), ((640, 640), 640, 0.0),
                                                     ((640, 640), 224, 0.25), ((301, 199), 113, 0.0)])
def test_eval_array_is_torchvisions_eval_transform(photo_factory, photo_size, size, crop):
    from core.imaging import load_image

    img = load_image(photo_factory("p.jpg", 3, size=photo_size))
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    ours = eval_array(img, size, mean, std, crop)
    assert ours.shape == (3, size, size) and ours.dtype == np.float32
    assert np.abs(ours - _torchvision_eval(img, size, mean, std, crop)).max() < 1e-5


@pytest.mark.parametrize("size_in, size_out", [(640, 320), (320, 160), (200, 320)])
def test_resample_matrix_is_torchs_antialiased_bilinear(size_in, size_out):
    x = torch.rand(2, 3, size_in, size_in, generator=torch.Generator().manual_seed(0))
    w = torch.tensor(resample_matrix(size_in, size_out))
    expected = F.interpolate(x, size=(size_out, size_out), mode="bilinear", align_corners=False, antialias=True)
    assert (w @ x @ w.T - expected).abs().max() < 1e-5


def test_predicting_a_photo_never_imports_torchvision(tiny_probe_bundle, photo_factory):
    photo = photo_factory("one.jpg", 1)
    code = ("import sys\nfrom core.cli.main import main\n"
            f"rc = main(['predict', '--model', {str(tiny_probe_bundle)!r}, {str(photo)!r}, '--device', 'cpu'])\n"
            "print('rc', rc, 'torch', 'torch' in sys.modules, 'torchvision', 'torchvision' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert "rc 0 torch True torchvision False" in out.stdout, out.stdout + out.stderr
