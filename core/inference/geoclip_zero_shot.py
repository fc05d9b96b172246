"""Zero-shot city ranking with GeoCLIP's GPS head (`predict --zero-shot geoclip`): no training run.

GeoCLIP (Vivanco Cepeda et al., NeurIPS 2023; the MIT-licensed `geoclip` package, `pip install
"geospottr[geoclip]"`) embeds a photo (a frozen CLIP ViT-L/14 and an MLP) and GPS points (a location
encoder) in one space; the softmax of the scaled similarities over its gallery of 100,000 points is where
the photo was taken. The package is used as it is: its model class, weights and gallery. The backbone is a
hub name (default `geoclip_cities.DEFAULT_BACKBONE`) or a local folder (``--weights DIR``, read offline).

The gallery's location features do not depend on the photo: they are computed once (about a minute on a
CPU) and kept in the user's cache folder (`geoclip_cities.gallery_cache`), so each photo costs one image
forward pass and one (512 x 100,000) product. How the distribution becomes the project's cities, the
"elsewhere" mass and the GPS guess: `core.inference.geoclip_cities`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ..errors import GeoSpottrError
from ..imaging import ImageError
from ..models.bundle import BundleMeta, ClassInfo
from . import geoclip_cities as gc
from .base import PredictorBase
from .results import DEFAULT_BATCH, GroupPrediction, ImageSource, PredictFailure, Prediction, group_name, source_name

ARCH = "geoclip-zero-shot"
#: Gallery points encoded per forward pass of the location encoder.
GALLERY_CHUNK = 4096


def _load_model(backbone: str):
    """GeoCLIP with its packaged weights and gallery, on `backbone` (a checked folder or hub name)."""
    gc.check_installed()
    try:
        import transformers
        from geoclip import GeoCLIP
    except ImportError as exc:  # a broken install: transformers or pandas too old, ...
        raise GeoSpottrError(f"GeoCLIP could not be imported ({exc}): {gc.INSTALL}") from None
    transformers.utils.logging.disable_progress_bar()  # its "Loading weights" bar is no news to a user
    try:
        return GeoCLIP(clip_path=None if backbone == gc.DEFAULT_BACKBONE else backbone).eval()
    except (OSError, ValueError) as exc:
        raise GeoSpottrError(f"{backbone}: GeoCLIP could not load it as its CLIP backbone "
                             f"({str(exc).splitlines()[0]})") from None


def gallery_features(model, key: str | None = None, cache: Path | None = None) -> torch.Tensor:
    """The gallery's normalised location features `(gallery, 512)`, float32, from the cache when there."""
    key = key or gc.gallery_key()
    cache = cache or gc.gallery_cache(key)
    if cache.is_file():
        try:
            stored = np.load(cache)
            if stored.shape == (len(model.gps_gallery), 512):
                return torch.from_numpy(stored.astype(np.float32))
        except (OSError, ValueError):
            pass  # a damaged cache file: compute again and replace it
    print(f"GeoCLIP: encoding its {len(model.gps_gallery):,} gallery points once (about a minute on a CPU), "
          f"kept in {cache}", file=sys.stderr, flush=True)
    encoder, gallery = model.location_encoder, model.gps_gallery
    with torch.no_grad():
        parts = [torch.nn.functional.normalize(encoder(gallery[i:i + GALLERY_CHUNK]), dim=1)
                 for i in range(0, len(gallery), GALLERY_CHUNK)]
    features = torch.cat(parts)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        part = cache.with_name(f".{cache.name}.{os.getpid()}.part")
        with open(part, "wb") as fh:
            np.save(fh, features.numpy().astype(np.float16))  # 100 MB; cosine error ~1e-4
        os.replace(part, cache)
    except OSError as exc:
        print(f"GeoCLIP: could not keep the gallery features in {cache} ({exc.strerror or exc})", file=sys.stderr)
    return features


class GeoClipPredictor(PredictorBase):
    """Ranks `classes` by the mass of GeoCLIP's GPS distribution within each city's reach.

    `reaches_km` is one reach per class (`geoclip_cities.city_reach_km` of the project's cities). Its
    predictions carry `gps` (the most likely gallery points) and `elsewhere` (the mass outside every reach),
    so `probabilities` rows sum to 1 - elsewhere.
    """

    def __init__(self, classes: Sequence[ClassInfo], reaches_km: Sequence[float], weights: str | None = None,
                 tta: bool = False, device: str = "cpu", gps_top_k: int = gc.GPS_TOP_K) -> None:
        gc.check_installed()
        backbone = gc.check_backbone(weights)
        self.model = _load_model(backbone)
        processor = self.model.image_encoder.image_processor
        processor = getattr(processor, "image_processor", processor)
        crop = getattr(processor, "crop_size", None) or {"height": 224}
        meta = BundleMeta(arch=ARCH, classes=list(classes), image_size=int(crop["height"]),
                          mean=tuple(processor.image_mean), std=tuple(processor.image_std),
                          arch_kwargs={"weights": backbone})
        super().__init__(meta, tta, source=f"GeoCLIP ({backbone})")
        self.gps_top_k = gps_top_k
        self.gallery = self.model.gps_gallery.numpy().astype(np.float64)
        self.owner = gc.assign_gallery(self.gallery, self.classes, reaches_km)
        if device != "cpu":
            from ..devices import pick_device

            self.model.to(pick_device(device))
        self._device = next(self.model.image_encoder.mlp.parameters()).device
        self.features = gallery_features(self.model).to(self._device)
        self.scale = float(self.model.logit_scale.detach().exp())

    @property
    def device_name(self) -> str:
        return str(self._device)

    # ------------------------------------------------------------------ scoring
    def gallery_probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        """`(len(images), gallery)` float64: GeoCLIP's distribution over its GPS gallery for each image."""
        batch = list(images) + ([img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for img in images] if self.tta else [])
        if not batch:
            return np.zeros((0, len(self.gallery)))
        pixels = self.model.image_encoder.preprocess_image(batch).to(self._device)
        with torch.no_grad():
            embedding = torch.nn.functional.normalize(self.model.image_encoder(pixels).float(), dim=1)
            probs = torch.softmax(self.scale * embedding @ self.features.T, dim=1).double().cpu().numpy()
        if self.tta:
            probs = (probs[:len(images)] + probs[len(images):]) / 2
        return probs

    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        """`(len(images), classes)` city probabilities; each row sums to 1 minus its elsewhere mass."""
        return gc.city_mass(self.gallery_probabilities(images), self.owner, len(self.classes))[0]

    def _predictions(self, names: Sequence[str], gallery_probs: np.ndarray, top_k: int) -> list[Prediction]:
        cities, elsewhere = gc.city_mass(gallery_probs, self.owner, len(self.classes))
        return [Prediction(source=name, probabilities=tuple(float(p) for p in row), ranking=self.rank(row, top_k),
                           gps=gc.gps_guesses(self.gallery, probs, self.classes, self.gps_top_k),
                           elsewhere=float(rest))
                for name, row, probs, rest in zip(names, cities, gallery_probs, elsewhere)]

    def _predict_batch(self, names: Sequence[str], images: list[Image.Image], top_k: int) -> list[Prediction]:
        """`PredictorBase`'s batches (`predict`, `predict_many`), each prediction with its GPS guesses and
        elsewhere mass (the base class would keep only the city probabilities)."""
        return self._predictions(names, self.gallery_probabilities(images), top_k)

    def predict_group(self, sources: Sequence[ImageSource], top_k: int = 5,
                      batch_size: int = DEFAULT_BATCH) -> GroupPrediction:
        """Several photos of one place: the mean of their gallery distributions, then the same rule."""
        views, failures, dists = [], [], []
        for index, source in enumerate(sources):
            name = source_name(source, index)
            try:
                image = self.open(source, index)
            except ImageError as exc:
                failures.append(PredictFailure(name, str(exc)))
                continue
            probs = self.gallery_probabilities([image])
            dists.append(probs[0])
            views.append(self._predictions([name], probs, top_k)[0])
        combined = None
        if dists:
            mean = np.mean(dists, axis=0, keepdims=True)
            combined = self._predictions([group_name([v.source for v in views])], mean, top_k)[0]
            combined = Prediction(combined.source, combined.probabilities, combined.ranking, len(views),
                                  combined.gps, combined.elsewhere)
        return GroupPrediction(combined=combined, views=tuple(views), failures=tuple(failures))

