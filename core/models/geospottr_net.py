"""The seed's design on a frozen ResNet50, its layer4-map variant, and the plain linear-probe comparison.

All three freeze ResNet50's stem and layer1-3 and fine-tune layer4; they differ only in what follows:

* ``geospottr``: pool layer4 to 1x1x2048, lift it back to a 7x7 map with a ConvTranspose2d (the seed's
  "input layer"), then four ResNet-18-style stages of BasicBlocks, global pooling, FC-ReLU-dropout-FC.
* ``geospottr-map``: the same custom CNN fed layer4's own spatial map through a 1x1 conv (no pooling and
  re-expansion, so where things are in the picture survives).
* ``resnet50-linear``: global pooling and one linear layer (plain transfer learning).
"""

from __future__ import annotations

from typing import Sequence

from torch import nn
from torchvision.models.resnet import BasicBlock

from .backbones import RESNET50_FEATURES, FrozenTrunkNet, resnet50_trunk


def _stage(in_ch: int, out_ch: int, blocks: int, stride: int) -> nn.Sequential:
    """`blocks` BasicBlocks; the first one changes width/stride through a 1x1-conv shortcut when needed."""
    down = None
    if stride != 1 or in_ch != out_ch:
        down = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))
    layers = [BasicBlock(in_ch, out_ch, stride=stride, downsample=down)]
    layers += [BasicBlock(out_ch, out_ch) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class CustomCNN(nn.Module):
    """Input layer -> four BasicBlock stages (strides 1,2,2,2) -> global pool -> FC-ReLU-dropout-FC."""

    def __init__(self, input_layer: nn.Module, num_classes: int, widths: Sequence[int], blocks: int,
                 hidden: int, dropout: float) -> None:
        super().__init__()
        self.input = nn.Sequential(input_layer, nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        stages, in_ch = [], widths[0]
        for i, width in enumerate(widths):
            stages.append(_stage(in_ch, width, blocks, 1 if i == 0 else 2))
            in_ch = width
        self.stages = nn.Sequential(*stages)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_ch, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.stages(self.input(x)))


def build_geospottr(num_classes: int, weights: str = "none", variant: str = "pooled",
                    widths: Sequence[int] = (64, 128, 256, 512), blocks: int = 2, hidden: int = 256,
                    dropout: float = 0.5) -> FrozenTrunkNet:
    frozen, layer4 = resnet50_trunk(weights)
    if variant == "pooled":
        lift = nn.ConvTranspose2d(RESNET50_FEATURES, widths[0], kernel_size=7, bias=False)  # 1x1 -> 7x7
        head = nn.Sequential(layer4, nn.AdaptiveAvgPool2d(1),
                             CustomCNN(lift, num_classes, widths, blocks, hidden, dropout))
    elif variant == "map":
        reduce = nn.Conv2d(RESNET50_FEATURES, widths[0], kernel_size=1, bias=False)
        head = nn.Sequential(layer4, CustomCNN(reduce, num_classes, widths, blocks, hidden, dropout))
    else:
        raise ValueError(f"unknown geospottr variant {variant!r}")
    return FrozenTrunkNet(frozen, head)


def build_resnet50_linear(num_classes: int, weights: str = "none") -> FrozenTrunkNet:
    frozen, layer4 = resnet50_trunk(weights)
    head = nn.Sequential(layer4, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(RESNET50_FEATURES, num_classes))
    return FrozenTrunkNet(frozen, head)
