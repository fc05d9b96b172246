"""The PyTorch engine: ranked cities for a photo (or for several photos of one place) from a model bundle.

`Predictor` is what the CLI, the evaluation, the explanations and the GUI use for a ``.pt`` bundle: it loads
the bundle once and then predicts a path, a PIL image or raw bytes, singly or in batches. Decoding,
batching, failures and ranking are shared with the ONNX engine in `core.inference.base.PredictorBase`; every
image is decoded by `core.imaging.load_image` (EXIF orientation, CMYK, 16-bit, alpha, truncation and bomb
checks) and preprocessed by `core.models.preprocessing.eval_array`, so a bad file becomes a `PredictFailure`
with a one-line reason and a batch goes on with the next file. Nothing here imports torchvision.

This module imports torch. The values it returns (`Prediction`, `PredictFailure`, `GroupPrediction`),
the multi-view rule `combine_views` (and why it is the mean), input expansion and the CSV layout live
in the torch-free `core.inference.results`; they are re-exported here for callers that hold a `Predictor` anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..devices import configure_threads, pick_device
from ..errors import GeoSpottrError
from ..events import EventCallback
from ..models.bundle import BundleError, BundleMeta, load_bundle
from ..training.transforms import eval_transform
from .base import PredictorBase, normalised
from .results import (
    DEFAULT_BATCH,
    CityScore,
    GroupPrediction,
    ImageSource,
    PredictFailure,
    Prediction,
    combine_views,
    expand_inputs,
    folder_groups,
)

__all__ = ["DEFAULT_BATCH", "CityScore", "GroupPrediction", "ImageSource", "PredictFailure", "Prediction", "Predictor",
           "combine_views", "expand_inputs", "folder_groups"]


class Predictor(PredictorBase):
    """A loaded PyTorch model and its bundle metadata (see `PredictorBase` for the calls)."""

    can_explain = True

    def __init__(self, model: nn.Module, meta: BundleMeta, device: str | torch.device = "cpu",
                 tta: bool = False, source: str = "") -> None:
        super().__init__(meta, tta=tta, source=source)
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.transform = eval_transform(meta)

    @property
    def device_name(self) -> str:
        return str(self.device)

    @classmethod
    def load(cls, path: Path | str, device: str | torch.device = "cpu", tta: bool = False) -> "Predictor":
        """Load a bundle (raises `BundleError` with a clear reason for anything that is not one).

        ``device="auto"`` picks CUDA, else Apple MPS, else the CPU (`core.devices.pick_device`).
        """
        device = pick_device(device)
        configure_threads()
        try:
            model, meta = load_bundle(path, device)
        except BundleError:
            raise
        except GeoSpottrError as exc:  # e.g. an architecture this version does not have
            raise BundleError(f"{path}: {exc}") from None
        return cls(model, meta, device=device, tta=tta, source=str(path))

    def batch(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """The model's input for decoded RGB images: ``(N, 3, S, S)`` on the model's device."""
        return torch.stack([self.transform(img) for img in images]).to(self.device)

    @torch.inference_mode()
    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        """`(len(images), classes)` probabilities for decoded RGB images (one forward pass, or two with TTA)."""
        if not images:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        batch = self.batch(images)
        probs = torch.softmax(self._forward(batch).float(), dim=1)
        if self.tta:
            probs = (probs + torch.softmax(self._forward(torch.flip(batch, dims=[3])).float(), dim=1)) / 2
        return normalised(probs.cpu().double().numpy())

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        """The model's logits; on the CPU in chunks of `cpu_chunk` photos (faster per photo there)."""
        step = self.cpu_chunk if self.device.type == "cpu" else len(batch)
        if len(batch) <= step:
            return self.model(batch)
        return torch.cat([self.model(batch[i:i + step]) for i in range(0, len(batch), step)])

    def explain(self, source: ImageSource, city: str | int | None = None, versus: str | int | None = None,
                method: str = "auto", on_event: EventCallback | None = None):
        """A heat map over the photo of what made the model choose `city` (default: its top guess), at the
        photo's size; `versus` another city for "why this rather than that". See `core.inference.explain`."""
        from .explain import explain

        return explain(self, source, city=city, versus=versus, method=method, on_event=on_event)
