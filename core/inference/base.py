"""What every prediction engine shares (`PredictorBase`); `core.inference.engines.load_predictor` picks and loads one.

Two engines rank cities: `core.inference.prediction.Predictor` (a PyTorch bundle, ``.pt``) and
`core.inference.onnx_engine.OnnxPredictor` (an ONNX file written by ``geospottr export-model``, run by onnxruntime
and numpy without importing torch). They differ only in `probabilities` (decoded photos -> class
probabilities); decoding, batching, failures, progress events, ranking and combining views are written
once here, in `PredictorBase`. This module is torch-free, so a front end may import it on any thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from ..errors import GeoSpottrError
from ..events import DONE, PROGRESS, Control, Event, EventCallback, ignore_events
from ..imaging import ImageError, decode, load_image, to_rgb
from ..models.meta import BundleMeta, ClassInfo
from ..models.preprocessing import draft_size
from .results import (
    DEFAULT_BATCH,
    CityScore,
    GroupPrediction,
    ImageSource,
    PredictFailure,
    Prediction,
    combine_views,
    group_name,
    rank,
    source_name,
)

#: Pixels per forward pass on the CPU. Batches are there to fill a GPU; on the CPU a forward pass of many
#: photos at once costs more per photo than a few at a time (their activations no longer fit the caches):
#: the default model at 640 px, one thread, took 118-130 ms CPU per photo one at a time, 131-159 ms two or
#: four at a time and 195-216 ms sixteen at a time (`benchmarks/bench_batch.py`, issue 25). So CPU
#: engines cut a batch into chunks of about this many pixels: 1 photo at 640 or 320 px, 4 at 224, 12 at 128.
CPU_FORWARD_PIXELS = 4 * 224 * 224


class PredictorBase(ABC):
    """A loaded model and its bundle metadata, ready to rank cities.

    Load it once (`core.inference.engines.load_predictor`; loading takes a while) and call `predict`, `predict_many` or
    `predict_group` as often as needed. `tta=True` also scores the mirrored image and averages the two
    distributions (street scenes are left/right symmetric in distribution; costs a second forward pass).
    Calls from several threads may overlap: scoring changes no state.
    """

    #: What `explain` can do with this engine (the ONNX graph has no gradients).
    can_explain = False

    def __init__(self, meta: BundleMeta, tta: bool = False, source: str = "") -> None:
        self.meta = meta
        self.tta = tta
        self.source = source
        self.classes: list[ClassInfo] = list(meta.classes)

    @property
    def device_name(self) -> str:
        """Where the model runs, for status lines and cache keys."""
        return "cpu"

    @property
    def cpu_chunk(self) -> int:
        """Photos per forward pass on the CPU (`CPU_FORWARD_PIXELS`)."""
        return max(1, CPU_FORWARD_PIXELS // max(1, self.meta.image_size) ** 2)

    # ------------------------------------------------------------------ decoding
    def open(self, source: ImageSource, index: int = 0, draft: bool = True) -> Image.Image:
        """The source as an oriented RGB image; raises `ImageError` naming it. `draft` lets a JPEG decode
        at about the model's input size (fast); False keeps the photo's full size (heat maps, overlays)."""
        size = draft_size(self.meta.image_size) if draft else None
        if isinstance(source, Image.Image):
            return source if source.mode == "RGB" else to_rgb(source)
        if isinstance(source, (bytes, bytearray)):
            return decode(bytes(source), source_name(source, index), size)
        if isinstance(source, (str, Path)):
            return load_image(source, draft=size)
        raise ImageError(f"{source_name(source, index)}: unsupported input type {type(source).__name__}")

    # ------------------------------------------------------------------ scoring
    @abstractmethod
    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        """`(len(images), classes)` float64 probabilities for decoded RGB images, rows summing to 1."""

    def rank(self, probabilities: Sequence[float] | np.ndarray, top_k: int = 5) -> tuple[CityScore, ...]:
        """The `top_k` best cities (all of them when `top_k` is 0 or more than there are)."""
        return rank(self.classes, probabilities, top_k)

    def _prediction(self, name: str, probs: np.ndarray, top_k: int, views: int = 1) -> Prediction:
        return Prediction(source=name, probabilities=tuple(float(p) for p in probs),
                          ranking=self.rank(probs, top_k), views=views)

    def _predict_batch(self, names: Sequence[str], images: list[Image.Image], top_k: int) -> list[Prediction]:
        """The predictions of one batch of decoded images. An engine whose results carry more than the
        cities' probabilities (GeoCLIP's GPS guesses) overrides this, and keeps the batching around it."""
        return [self._prediction(name, probs, top_k) for name, probs in zip(names, self.probabilities(images))]

    def predict(self, source: ImageSource, top_k: int = 5) -> Prediction:
        """Rank cities for one image; raises `ImageError` (one line naming the file) if it is unusable."""
        return self._predict_batch([source_name(source)], [self.open(source)], top_k)[0]

    def explain(self, source: ImageSource, city: str | int | None = None, versus: str | int | None = None,
                method: str = "auto", on_event: EventCallback | None = None):
        """A heat map of what made the model choose `city`; engines without gradients refuse in one line."""
        raise GeoSpottrError(f"{self.source}: heat maps need the PyTorch bundle (.pt), not an ONNX export")

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
            decoded = [(name, item) for name, item in pending if isinstance(item, Image.Image)]
            scored = iter(self._predict_batch([name for name, _ in decoded], [image for _, image in decoded], top_k))
            for _, item in pending:
                yield item if isinstance(item, PredictFailure) else next(scored)
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


def normalised(probs: np.ndarray) -> np.ndarray:
    """float64 rows summing to exactly 1 (float32 softmax rows sum to 1 only within rounding)."""
    out = np.asarray(probs, dtype=np.float64)
    return out / out.sum(axis=1, keepdims=True)
