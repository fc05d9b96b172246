"""Scene filter: indoor and non-street frames, with a Places365 ResNet the user supplies.

The weights are MIT CSAIL's Places365 release (``resnet18_places365.pth.tar`` or
``resnet50_places365.pth.tar``); GeoSpottr cannot ship or download them, so the check runs only with
``--weights PATH``. The checkpoint is read with ``torch.load(weights_only=True)`` (via
`core.models.backbones.read_state_dict`), the ``module.`` prefix that CSAIL's DataParallel training left
on every key is removed, and the architecture is recognised from the keys.

Our list ``resources/places365_categories.csv`` flags each of the 365 categories indoor/outdoor and
street-like. An image is flagged when the probability mass on indoor categories reaches `indoor`
(default 0.5), or when it is outdoors but the mass on street-like categories is below `street` (default
0.05: only frames the classifier is sure show no street at all, e.g. open sea, a forest interior, sky).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..devices import pick_device
from ..errors import GeoSpottrError
from ..models.backbones import read_state_dict
from ..models.bundle import IMAGENET_MEAN, IMAGENET_STD
from ..resources import resource_path
from ..training.transforms import eval_transform
from .types import Finding, Sample

if TYPE_CHECKING:
    from .checks import ScanContext

NUM_CATEGORIES = 365
DEFAULT_INDOOR = 0.5
DEFAULT_STREET = 0.05
INPUT_SIZE = 224
PLACES_RESIZE = 256


@dataclass(frozen=True)
class Category:
    index: int
    name: str
    indoor: bool
    street: bool


@lru_cache(maxsize=1)
def categories() -> tuple[Category, ...]:
    """The 365 categories in output order, from our resource file (``#`` lines are comments)."""
    path = resource_path("places365_categories.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    cats = tuple(Category(int(r["index"]), r["category"], r["scene"] == "indoor", r["street"] == "1") for r in rows)
    if [c.index for c in cats] != list(range(NUM_CATEGORIES)):
        raise GeoSpottrError(f"{path}: expected the {NUM_CATEGORIES} Places365 categories in order")
    return cats


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str = "module.") -> dict[str, torch.Tensor]:
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}


def build_places_model(path: Path | str) -> nn.Module:
    """A torchvision ResNet-18 or ResNet-50 with 365 outputs holding the CSAIL weights at `path`."""
    from torchvision.models import resnet18, resnet50

    path = Path(path).expanduser()
    if not path.is_file():
        raise GeoSpottrError(f"{path}: no such file (the scene check needs CSAIL's resnet18_places365.pth.tar "
                             "or resnet50_places365.pth.tar)")
    state = strip_prefix(read_state_dict(path))
    fc = state.get("fc.weight")
    if fc is None or "conv1.weight" not in state:
        raise GeoSpottrError(f"{path}: not a Places365 ResNet checkpoint (use CSAIL's resnet18_places365.pth.tar "
                             "or resnet50_places365.pth.tar; wideresnet and densenet are not supported)")
    if fc.shape[0] != NUM_CATEGORIES:
        raise GeoSpottrError(f"{path}: has {fc.shape[0]} outputs, a Places365 model has {NUM_CATEGORIES}")
    model = (resnet50 if "layer1.0.conv3.weight" in state else resnet18)(num_classes=NUM_CATEGORIES)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise GeoSpottrError(f"{path}: weights do not fit a ResNet-18/50 ({str(exc).splitlines()[0][:120]})") from None
    return model.eval()


def judge(probs: np.ndarray, indoor: float = DEFAULT_INDOOR, street: float = DEFAULT_STREET) -> tuple[str, float, dict] | None:
    """``(message, score, details)`` when a 365-way distribution says indoor or non-street, else None."""
    cats = categories()
    indoor_mask = np.array([c.indoor for c in cats])
    street_mask = np.array([c.street for c in cats])
    p_indoor = float(probs[indoor_mask].sum())
    p_street = float(probs[street_mask].sum())
    top = cats[int(np.argmax(probs))]
    details = {"p_indoor": round(p_indoor, 3), "p_street": round(p_street, 3), "top": top.name,
               "p_top": round(float(probs.max()), 3)}
    if p_indoor >= indoor:
        return f"indoor scene (P(indoor) {p_indoor:.2f}; looks like {top.name})", p_indoor, details
    if p_street < street:
        return f"no street in view (P(street) {p_street:.2f}; looks like {top.name})", 1.0 - p_street, details
    return None


class SceneCheck:
    """Classifies every scanned image; flags indoor and non-street ones as it goes."""

    input_size = INPUT_SIZE

    def __init__(self, model: nn.Module, indoor: float | None = None, street: float | None = None) -> None:
        self.model = model.eval().to(pick_device("auto"))
        self.indoor = DEFAULT_INDOOR if indoor is None else float(indoor)
        self.street = DEFAULT_STREET if street is None else float(street)
        # Places365's own evaluation: shorter side to 256, centre 224 crop, ImageNet normalisation.
        self.transform = eval_transform(INPUT_SIZE, IMAGENET_MEAN, IMAGENET_STD, resize=PLACES_RESIZE)

    @classmethod
    def load(cls, path: Path | str, indoor: float | None = None, street: float | None = None) -> "SceneCheck":
        return cls(build_places_model(path), indoor, street)

    def observe(self, samples: Sequence[Sample]) -> list[Finding]:
        if not samples:
            return []
        with torch.inference_mode():
            batch = torch.stack([self.transform(s.image) for s in samples]).to(next(self.model.parameters()).device)
            probs = torch.softmax(self.model(batch).float(), dim=1).cpu().numpy()
        out = []
        for s, p in zip(samples, probs):
            verdict = judge(p, self.indoor, self.street)
            if verdict:
                message, score, details = verdict
                out.append(Finding(s.record.id, "scene", round(score, 4), message, details=details))
        return out

    def finish(self) -> list[Finding]:
        return []


def load_check(context: ScanContext) -> SceneCheck:
    options = context.options
    return SceneCheck.load(options.scene_weights, indoor=options.indoor, street=options.street)
