"""Models selectable by name, each with a one-line description the CLI and GUI show.

A builder takes ``(num_classes, weights, **kwargs)`` where `weights` is ``"imagenet"`` (pretrained
backbone), ``"none"`` (random init) or a path to a local weights file, and returns an ``nn.Module``
mapping a normalised ``(N, 3, S, S)`` batch to ``(N, num_classes)`` logits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import GeoSpottrError

DEFAULT_ARCH = "geospottr"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    builder: Callable[..., Any]
    default_image_size: int = 224
    #: What `--weights imagenet` means for this model, for help texts.
    pretrained_note: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    #: Input normalisation the (pretrained) weights expect; stored in every bundle.
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_loaded() -> None:
    """Import the modules that register models (kept lazy so `--help` never imports torch)."""
    from . import baseline, efficientnet_lite, geospottr_net  # noqa: F401  (each registers itself on import)


def spec(name: str) -> ModelSpec:
    _ensure_loaded()
    if name not in _REGISTRY:
        raise GeoSpottrError(f"unknown model {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def names() -> list[str]:
    _ensure_loaded()
    return sorted(_REGISTRY, key=lambda n: (n != DEFAULT_ARCH, n))


def build(name: str, num_classes: int, weights: str = "none", **kwargs: Any):
    """A fresh model of architecture `name` for `num_classes` classes."""
    if num_classes < 2:
        raise GeoSpottrError("a city classifier needs at least 2 cities")
    s = spec(name)
    return s.builder(num_classes=num_classes, weights=weights, **{**s.defaults, **kwargs})
