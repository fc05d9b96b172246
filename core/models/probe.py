"""Linear probes on frozen features, averaged over several views of the frame, and their late fusion.

Why: on a few hundred street photos a logistic regression on frozen ImageNet features is as good as
fine-tuning and trains in seconds (issue 18; `benchmarks/bench_accuracy.py` measures it). The probe is
an ordinary ``nn.Module`` (frozen backbone + one ``nn.Linear``), so it travels in the normal model bundle
and `Predictor`, evaluation, the GUI and ``weights_only`` loading need nothing new.

`EnsembleProbeNet` fuses one probe per backbone (EfficientNet-Lite0, -Lite1, -Lite2 and the colour
statistics of `colour`) by averaging their log-probabilities. Each probe is fitted on its own (C by its
own inner CV), so adding a member cannot over-fit the others; cross-validated on the development photos
the fusion beats the best single probe by several points of macro F1 (README, "Accuracy").

Views: the model gets the frame at the bundle's ``image_size`` (e.g. 640, the Street View frame size) and
looks at it several times at ``view_size`` pixels: the whole frame (downscaled) and crops of
``crop_fraction`` of it anchored at the corners and the centre (at close to native resolution), each
optionally mirrored. The pooled 1280-channel features of the views are averaged and classified. This is
how the probe "uses the pixels we have" without paying for a 640-pixel forward pass.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GeoSpottrError
from .backbones import RESNET50_FEATURES, resize_antialiased, resnet50_trunk
from .colour import ColourStatistics
from .efficientnet_lite import HEAD_CHANNELS, build_efficientnet_lite

#: Where a crop sits in the frame: (top, left) as fractions of the free margin.
ANCHORS = {"full": None, "center": (0.5, 0.5), "tl": (0.0, 0.0), "tr": (0.0, 1.0), "bl": (1.0, 0.0),
           "br": (1.0, 1.0)}
MULTI_CROP = ("full", "tl", "tr", "bl", "br", "center")
LITE_BACKBONES = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
BACKBONES = (*LITE_BACKBONES, "resnet50", "colour")
#: `EnsembleProbeNet`'s members, chosen by grouped CV (benchmarks/bench_accuracy.py): each Lite adds, and
#: the colour statistics add the most.
ENSEMBLE = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "colour")


def crop_view(x: torch.Tensor, anchor: str, fraction: float, size: int) -> torch.Tensor:
    """The `anchor` crop of `fraction` of the square batch `x`, resized to `size` (antialiased,
    `backbones.resize_antialiased`)."""
    if ANCHORS[anchor] is None or fraction >= 1.0:
        view = x
    else:
        h, w = x.shape[-2:]
        ch, cw = max(1, round(h * fraction)), max(1, round(w * fraction))
        fy, fx = ANCHORS[anchor]
        top, left = round((h - ch) * fy), round((w - cw) * fx)
        view = x[..., top:top + ch, left:left + cw]
    return resize_antialiased(view, size)


class Embedding(nn.Module):
    """A pretrained backbone up to its global-pooled features, frozen and always in eval mode.

    It runs channels_last (about 10-25% faster on CPU for these convolutions, same numbers): its input is
    converted in `forward`, its weights by `memory_format` here and again by `load_bundle` after loading.

    ``efficientnet-lite0/1/2``: 1280 channels after the head conv (key prefixes as in `efficientnet_lite`, so
    the converted ImageNet state dicts fit unchanged). ``resnet50``: 2048 channels after layer4
    (torchvision's weights, downloaded once, or a local file; see `backbones.resnet50`). ``colour``: the
    192 colour statistics of `colour.ColourStatistics` (nothing to load).
    """

    def __init__(self, backbone: str = "efficientnet-lite0", weights: str = "none") -> None:
        super().__init__()
        self.backbone = backbone
        if backbone in LITE_BACKBONES:
            net = build_efficientnet_lite(num_classes=2, weights=weights, variant=backbone.split("-")[1])
            self.frozen = net.frozen
            self.head = nn.Sequential()
            self.head.add_module("blocks", net.head.blocks)
            self.head.add_module("conv_head", net.head.conv_head)
            self.channels = HEAD_CHANNELS
        elif backbone == "resnet50":
            self.frozen, self.head = resnet50_trunk(weights)
            self.channels = RESNET50_FEATURES
        elif backbone == "colour":
            self.frozen, self.head = nn.Identity(), ColourStatistics()
            self.channels = ColourStatistics.channels
        else:
            raise ValueError(f"unknown probe backbone {backbone!r}; choose from {', '.join(BACKBONES)}")
        for p in self.parameters():
            p.requires_grad_(False)
        self.to(memory_format=self.memory_format)
        self.eval()

    #: The layout its convolutions run in (`load_bundle` puts loaded weights back into it).
    memory_format = torch.channels_last

    def train(self, mode: bool = True) -> "Embedding":
        return super().train(False)  # batch norm keeps its ImageNet statistics

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=self.memory_format)
        out = self.head(self.frozen(x))
        return out.mean(dim=(2, 3)) if out.ndim == 4 else out


class ProbeNet(nn.Module):
    """``linear(mean over views of embedding(view))``; only `classifier` is learnt (by `core.training.probe`)."""

    def __init__(self, num_classes: int, weights: str = "none", backbone: str = "efficientnet-lite0",
                 view_size: int = 320, views: Sequence[str] = ("full",), crop_fraction: float = 0.6,
                 flip: bool = False, embedding: nn.Module | None = None) -> None:
        """`embedding`: a frozen feature extractor built elsewhere (with ``backbone`` and ``channels``
        attributes; `clip_probe.ClipEmbedding`) instead of `Embedding(backbone, weights)`."""
        super().__init__()
        unknown = [v for v in views if v not in ANCHORS]
        if unknown or not views:
            raise ValueError(f"unknown probe views {unknown}; choose from {', '.join(ANCHORS)}")
        self.embedding = embedding if embedding is not None else Embedding(backbone, weights)
        self.view_size, self.views, self.crop_fraction, self.flip = view_size, tuple(views), crop_fraction, flip
        self.classifier = nn.Linear(self.embedding.channels, num_classes)

    def train(self, mode: bool = True) -> "ProbeNet":
        super().train(mode)
        self.embedding.eval()
        return self

    def view_settings(self) -> tuple:
        """What decides the views of a frame; probes with equal settings can share them (`EnsembleProbeNet`)."""
        return self.view_size, self.views, self.crop_fraction, self.flip

    def views_of(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every view of the batch `x` the probe looks at, each ``(N, 3, view_size, view_size)``."""
        out = []
        for anchor in self.views:
            view = crop_view(x, anchor, self.crop_fraction, self.view_size)
            out.append(view)
            if self.flip:
                out.append(torch.flip(view, dims=(-1,)))
        return out

    @torch.no_grad()
    def view_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, V, channels) features of every view of every image (the probe's training input)."""
        return torch.stack([self.embedding(view) for view in self.views_of(x)], dim=1)

    def classify(self, views: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits from views made by `views_of` (shared between the members of an ensemble)."""
        return self.classifier(torch.stack([self.embedding(view) for view in views], dim=1).mean(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.views_of(x))


class EnsembleProbeNet(nn.Module):
    """One `ProbeNet` per backbone, fused: ``logits = mean over members of log_softmax(member(x))``.

    The softmax of that mean is the members' normalised geometric mean of probabilities, which a single
    confident but wrong member cannot dominate the way it would an arithmetic mean of logits. Every member
    gets the same views of the frame (same settings), so the views are cut and resized once per batch,
    not once per member.
    """

    def __init__(self, num_classes: int, weights: str = "none", backbones: Sequence[str] = ENSEMBLE,
                 view_size: int = 320, views: Sequence[str] = ("full",), crop_fraction: float = 0.6,
                 flip: bool = False) -> None:
        super().__init__()
        if weights not in (None, "none", "imagenet"):
            raise GeoSpottrError("an ensemble probe loads each backbone's ImageNet weights from its own package; "
                             "weights must be 'imagenet' or 'none', not a file")
        if len(backbones) < 2 or len(set(backbones)) != len(backbones):
            raise GeoSpottrError("an ensemble probe needs two or more different backbones")
        self.members = nn.ModuleList(
            ProbeNet(num_classes, weights=weights, backbone=b, view_size=view_size, views=views,
                     crop_fraction=crop_fraction, flip=flip) for b in backbones)

    def member_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each member's ``(N, classes)`` logits, from views cut once for all of them."""
        views = self.members[0].views_of(x)
        return [m.classify(views) for m in self.members]

    @staticmethod
    def fuse(member_logits: Sequence[torch.Tensor]) -> torch.Tensor:
        """The fusion rule: the mean of the members' log-probabilities."""
        return torch.stack([F.log_softmax(z, dim=1) for z in member_logits]).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.member_logits(x))


#: Every model class `core.training.probe` fits instead of training by gradient descent.
PROBE_MODELS = (ProbeNet, EnsembleProbeNet)


def probe_members(model: nn.Module) -> list[ProbeNet]:
    """The single probes of a probe model: its members, or the probe itself."""
    return list(model.members) if isinstance(model, EnsembleProbeNet) else [model]


def build_probe(num_classes: int, weights: str = "none", **kwargs) -> ProbeNet:
    return ProbeNet(num_classes, weights=weights, **kwargs)


def build_ensemble_probe(num_classes: int, weights: str = "none", **kwargs) -> EnsembleProbeNet:
    return EnsembleProbeNet(num_classes, weights=weights, **kwargs)

