"""Zero-shot city ranking with StreetCLIP: no training run, just the project's city names.

StreetCLIP was trained to match street photos with captions naming their place, so its image embedding
can be compared with the text embedding of "A Street View photo in {city}, {country}." for each of the
project's cities; the softmax of the scaled cosine similarities is the ranking (`predict --zero-shot`).
`ZeroShotPredictor` is an ordinary `PredictorBase`, so predicting files, folders, places and whole splits
works as for a trained model. Weights as for `streetclip-probe` (`clip_probe.from_pretrained`): a hub
name or a local folder holding the model and its processor, offline in one line within 2 s.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from ..models.bundle import BundleMeta, ClassInfo
from ..models.clip_probe import DEFAULT_WEIGHTS, from_pretrained, transformers
from .base import PredictorBase

PROMPT = "A Street View photo in {city}, {country}."
ARCH = "streetclip-zero-shot"


def _features(output: Any) -> torch.Tensor:
    """Projected features from `get_*_features` (a tensor, or an output whose pooler_output holds them)."""
    features = output if isinstance(output, torch.Tensor) else output.pooler_output
    return torch.nn.functional.normalize(features, dim=-1)


class ZeroShotPredictor(PredictorBase):
    """Ranks `classes` by CLIP image-text similarity to one caption per city."""

    def __init__(self, classes: Sequence[ClassInfo], weights: str = "imagenet", tta: bool = False) -> None:
        tf = transformers()
        self.model = from_pretrained(tf.CLIPModel, weights).eval()
        self.processor = from_pretrained(tf.CLIPProcessor, weights)
        crop = self.processor.image_processor.crop_size
        meta = BundleMeta(arch=ARCH, classes=list(classes), image_size=int(crop["height"]),
                          mean=tuple(self.processor.image_processor.image_mean),
                          std=tuple(self.processor.image_processor.image_std),
                          arch_kwargs={"weights": DEFAULT_WEIGHTS if weights == "imagenet" else weights})
        super().__init__(meta, tta, source=meta.arch_kwargs["weights"])
        captions = [PROMPT.format(city=c.name, country=c.country or "") for c in classes]
        tokens = self.processor.tokenizer(captions, padding=True, return_tensors="pt")
        with torch.no_grad():
            self.text = _features(self.model.get_text_features(**tokens))

    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        batch = list(images) + ([img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for img in images] if self.tta else [])
        pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            logits = self.model.logit_scale.exp() * _features(self.model.get_image_features(pixel_values=pixels)) @ self.text.T
            probs = torch.softmax(logits.double(), dim=1).numpy()
        if self.tta:
            probs = (probs[:len(images)] + probs[len(images):]) / 2
        return probs
