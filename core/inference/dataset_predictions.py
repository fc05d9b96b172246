"""Predict the dataset: the model's guess for each of the project's images, kept in the project
(`Project.store_predictions`) so the curation grid can filter by what the model says ("wrong", "says
Rijeka"), sort by how sure it is and badge each thumbnail with its guess, as FiftyOne users expect.

The model is given (a `core.inference.base.PredictorBase`: the PyTorch bundle or its ONNX export), so this
module never imports torch. Guesses are written in chunks: a cancelled or failed run keeps what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from ..data.project import Project
from ..events import Control, EventCallback, ignore_events
from .results import Prediction

if TYPE_CHECKING:
    from .base import PredictorBase

#: Guesses per write (a cancel loses at most this many).
CHUNK = 256


@dataclass(frozen=True)
class DatasetPredictions:
    """What one run of `predict_dataset` did."""

    predicted: int
    right: int        # of the predicted images that have a label
    labelled: int
    unreadable: int

    def summary(self, model: str) -> str:
        share = f" ({self.right / self.labelled:.0%} of the labelled ones right)" if self.labelled else ""
        bad = f"; {self.unreadable} could not be read" if self.unreadable else ""
        return f"{model} predicted {self.predicted:,} images{share}{bad}"


def predict_dataset(project: Project, predictor: PredictorBase, model: str, statuses: Sequence[str] | None = None,
                    *, on_event: EventCallback = ignore_events, control: Control | None = None,
                    batch_size: int = 16) -> DatasetPredictions:
    """Store `predictor`'s top guess for every image with one of `statuses` (None: all), naming the model
    `model` ("run 2026...-lite0 (val 45%)"). Emits progress events (scope ``"predict"``); cancellable."""
    known = {c.slug for c in predictor.classes}
    records = project.images(status=list(statuses) if statuses else None)
    paths = [project.image_path(r) for r in records]
    pending: dict[str, tuple[str, float]] = {}
    predicted = right = labelled = unreadable = 0
    results = predictor.predict_many(paths, top_k=1, batch_size=batch_size, on_event=on_event,
                                     control=control or Control(), total=len(paths))
    for record, result in zip(records, results):
        if not isinstance(result, Prediction):
            unreadable += 1
            continue
        top = result.ranking[0]
        pending[record.id] = (top.slug, top.probability)
        predicted += 1
        if record.city_slug in known:
            labelled += 1
            right += top.slug == record.city_slug
        if len(pending) >= CHUNK:
            project.store_predictions(model, pending)
            pending.clear()
    project.store_predictions(model, pending)
    return DatasetPredictions(predicted, right, labelled, unreadable)


#: What `correctness` says of one image, in legend order.
CORRECTNESS = ("right", "wrong", "unlabelled", "no prediction")


def correctness(labels: Sequence[str | None], ids: Sequence[str],
                guesses: Mapping[str, tuple[str, float]]) -> list[str]:
    """Per image (`ids` and their city slugs `labels`, None: unlabelled): whether the stored guess
    (`Project.predictions`) is "right" or "wrong", "unlabelled" (a guess, but no label to judge it by) or
    "no prediction" (never predicted: run "Predict all")."""
    out = []
    for image_id, label in zip(ids, labels):
        guess = guesses.get(image_id)
        out.append("no prediction" if guess is None else "unlabelled" if label is None
                   else "right" if guess[0] == label else "wrong")
    return out
