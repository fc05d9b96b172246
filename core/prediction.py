"""Ranked cities for a photo (or for several photos of one place) from a trained model bundle.

`Predictor` is the one object the CLI, the evaluation and the GUI use: it loads a bundle once and then
predicts a path, a PIL image or raw bytes, singly or in batches. Every image is decoded by
`core.imaging.load_image` (EXIF orientation, CMYK, 16-bit, alpha, truncation and bomb checks), so a bad
file becomes a `PredictFailure` with a one-line reason and a batch goes on with the next file.

This module imports torch. The values it returns (`Prediction`, `PredictFailure`, `GroupPrediction`),
the multi-view rule `combine_views` (and why it is the mean), input expansion and the CSV layout live
in the torch-free `core.results`; they are re-exported here for callers that hold a `Predictor` anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from .devices import pick_device
from .errors import GeoSpottrError
from .events import DONE, PROGRESS, Control, Event, EventCallback, ignore_events
from .imaging import ImageError, decode, load_image, to_rgb
from .models.bundle import BundleError, BundleMeta, ClassInfo, load_bundle
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
    group_name,
    rank,
    source_name,
)
from .training.transforms import draft_size, eval_transform

__all__ = ["DEFAULT_BATCH", "CityScore", "GroupPrediction", "ImageSource", "PredictFailure", "Prediction", "Predictor",
           "combine_views", "expand_inputs", "folder_groups"]


class Predictor:
    """A loaded model and its bundle metadata, ready to rank cities.

    Build it with `Predictor.load(path)` (once; loading takes a while) and call `predict`, `predict_many`
    or `predict_group` as often as needed. `tta=True` also scores the mirrored image and averages the two
    distributions (street scenes are left/right symmetric in distribution; costs a second forward pass).
    Not thread-safe for concurrent calls; give each worker thread its own calls in turn.
    """

    def __init__(self, model: nn.Module, meta: BundleMeta, device: str | torch.device = "cpu",
                 tta: bool = False, source: str = "") -> None:
        self.model = model.to(device).eval()
        self.meta = meta
        self.device = torch.device(device)
        self.tta = tta
        self.source = source
        self.transform = eval_transform(meta)
        self.classes: list[ClassInfo] = list(meta.classes)

    @classmethod
    def load(cls, path: Path | str, device: str | torch.device = "cpu", tta: bool = False) -> "Predictor":
        """Load a bundle (raises `BundleError` with a clear reason for anything that is not one).

        ``device="auto"`` picks CUDA, else Apple MPS, else the CPU (`core.devices.pick_device`).
        """
        device = pick_device(device)
        try:
            model, meta = load_bundle(path, device)
        except BundleError:
            raise
        except GeoSpottrError as exc:  # e.g. an architecture this version does not have
            raise BundleError(f"{path}: {exc}") from None
        return cls(model, meta, device=device, tta=tta, source=str(path))

    # ------------------------------------------------------------------ decoding
    def open(self, source: ImageSource, index: int = 0, draft: bool = True) -> Image.Image:
        """The source as an oriented RGB image; raises `ImageError` naming it. `draft` lets a JPEG decode
        at about the model's input size (fast); False keeps the photo's full size (heat maps, overlays)."""
        draft = draft_size(self.meta.image_size) if draft else None
        if isinstance(source, Image.Image):
            return source if source.mode == "RGB" else to_rgb(source)
        if isinstance(source, (bytes, bytearray)):
            return decode(bytes(source), source_name(source, index), draft)
        if isinstance(source, (str, Path)):
            return load_image(source, draft=draft)
        raise ImageError(f"{source_name(source, index)}: unsupported input type {type(source).__name__}")

    # ------------------------------------------------------------------ scoring
    @torch.inference_mode()
    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        """`(len(images), classes)` probabilities for decoded RGB images (one forward pass, or two with TTA)."""
        if not images:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        batch = torch.stack([self.transform(img) for img in images]).to(self.device)
        probs = torch.softmax(self.model(batch).float(), dim=1)
        if self.tta:
            probs = (probs + torch.softmax(self.model(torch.flip(batch, dims=[3])).float(), dim=1)) / 2
        out = probs.cpu().double().numpy()
        return out / out.sum(axis=1, keepdims=True)

    def rank(self, probabilities: Sequence[float], top_k: int = 5) -> tuple[CityScore, ...]:
        """The `top_k` best cities (all of them when `top_k` is 0 or more than there are)."""
        return rank(self.classes, probabilities, top_k)

    def _prediction(self, name: str, probs: np.ndarray, top_k: int, views: int = 1) -> Prediction:
        return Prediction(source=name, probabilities=tuple(float(p) for p in probs),
                          ranking=self.rank(probs, top_k), views=views)

    def predict(self, source: ImageSource, top_k: int = 5) -> Prediction:
        """Rank cities for one image; raises `ImageError` (one line naming the file) if it is unusable."""
        img = self.open(source)
        return self._prediction(source_name(source), self.probabilities([img])[0], top_k)

    def explain(self, source: ImageSource, city: str | int | None = None, versus: str | int | None = None,
                method: str = "auto"):
        """A heat map over the photo of what made the model choose `city` (default: its top guess), at the
        photo's size; `versus` another city for "why this rather than that". See `core.explain`."""
        from .explain import explain

        return explain(self, source, city=city, versus=versus, method=method)

    def predict_many(self, sources: Iterable[ImageSource], top_k: int = 5, batch_size: int = DEFAULT_BATCH,
                     on_event: EventCallback = ignore_events, control: Control | None = None,
                     total: int | None = None) -> Iterator[Prediction | PredictFailure]:
        """Predict in batches, yielding one result per source in input order; unusable files yield a
        `PredictFailure` and the batch goes on. Emits progress events (scope ``"predict"``)."""
        control = control or Control()
        if total is None and isinstance(sources, Sequence):
            total = len(sources)
        done = 0
        pending: list[tuple[str, Image.Image | PredictFailure]] = []

        def flush() -> Iterator[Prediction | PredictFailure]:
            nonlocal done
            images = [item for _, item in pending if isinstance(item, Image.Image)]
            probs = iter(self.probabilities(images))
            for name, item in pending:
                yield item if isinstance(item, PredictFailure) else self._prediction(name, next(probs), top_k)
            done += len(pending)
            pending.clear()
            on_event(Event(PROGRESS, done=done, total=total, scope="predict"))

        for index, source in enumerate(sources):
            control.checkpoint()
            name = source_name(source, index)
            try:
                pending.append((name, self.open(source, index)))
            except ImageError as exc:
                pending.append((name, PredictFailure(name, str(exc))))
            if len(pending) >= batch_size:
                yield from flush()
        if pending:
            yield from flush()
        on_event(Event(DONE, scope="predict"))

    def predict_group(self, sources: Sequence[ImageSource], top_k: int = 5,
                      batch_size: int = DEFAULT_BATCH) -> GroupPrediction:
        """Several photos of one place: each view's ranking and one combined ranking (`combine_views`)."""
        results = list(self.predict_many(sources, top_k=top_k, batch_size=batch_size))
        views = tuple(r for r in results if isinstance(r, Prediction))
        failures = tuple(r for r in results if isinstance(r, PredictFailure))
        combined = None
        if views:
            probs = combine_views(np.array([v.probabilities for v in views]))
            name = group_name([v.source for v in views])
            combined = self._prediction(name, probs, top_k, views=len(views))
        return GroupPrediction(combined=combined, views=views, failures=failures)

