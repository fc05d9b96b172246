"""Label errors: images whose city label a trained model confidently contradicts.

Uses a `core.inference.base` engine (a PyTorch bundle or its ONNX export; the same preprocessing as
`geospottr predict`). An image is flagged
when the model's top city is not its label and gets at least `confidence` (default 0.8); the score is how
far the model prefers its city over the label (p_top - p_label), so the clearest contradictions come
first. Images the model trained on are checked too but say less (it may have memorised a wrong label):
the split is in each finding's details, and a finding on a val or test image is the stronger signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from .types import Finding, Sample

if TYPE_CHECKING:
    from ..inference.base import PredictorBase
    from .checks import ScanContext

DEFAULT_CONFIDENCE = 0.8


class LabelCheck:
    def __init__(self, predictor: PredictorBase, confidence: float | None = None) -> None:
        self.predictor = predictor
        self.confidence = DEFAULT_CONFIDENCE if confidence is None else float(confidence)
        self.index = {c.slug: i for i, c in enumerate(predictor.classes)}
        self.input_size = predictor.meta.image_size

    @classmethod
    def load(cls, path: Path | str, confidence: float | None = None,
             load_model: Callable[[Path], PredictorBase] | None = None) -> "LabelCheck":
        """The check with the model at `path`, got through `load_model` (default: `core.inference.engines.load_predictor`)."""
        from ..inference.engines import load_predictor

        return cls((load_model or load_predictor)(Path(path)), confidence)

    def observe(self, samples: Sequence[Sample]) -> list[Finding]:
        known = [s for s in samples if s.record.city_slug in self.index]
        probs = self.predictor.probabilities([s.image for s in known])
        out = []
        for s, p in zip(known, probs):
            label = self.index[s.record.city_slug]
            top = int(np.argmax(p))
            if top == label or p[top] < self.confidence:
                continue
            predicted = self.predictor.classes[top].slug
            said, labelled = self.predictor.classes[top].label, self.predictor.classes[label].label
            out.append(Finding(s.record.id, "label_error", round(float(p[top] - p[label]), 4),
                               f"labelled {labelled}, model says {said} ({p[top]:.0%}; label {p[label]:.0%})",
                               details={"label": s.record.city_slug, "predicted": predicted, "p_predicted": round(float(p[top]), 4),
                                        "p_label": round(float(p[label]), 4), "split": s.record.split}))
        return out

    def finish(self) -> list[Finding]:
        return []


def load_check(context: ScanContext) -> LabelCheck:
    return LabelCheck.load(context.options.model, confidence=context.options.label_confidence,
                           load_model=context.options.load_model)
