"""The seed's small CNN (two 5x5 conv + pool, two FC layers): the yardstick the real models must beat."""

from __future__ import annotations

from torch import nn

from ..errors import GeoSpottrError


class BaselineCNN(nn.Module):
    """conv5x5(3->16) - pool - conv5x5(16->32) - pool - FC(800->128) - FC(128->classes).

    An adaptive pool before the FC layers lets it take any input size (the seed hard-wired one).
    """

    def __init__(self, num_classes: int, hidden: int = 128) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d((5, 5)),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 5 * 5, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def build_baseline(num_classes: int, weights: str = "none", hidden: int = 128) -> BaselineCNN:
    if weights not in ("none", None):
        raise GeoSpottrError("the baseline CNN has no pretrained weights; use --weights none")
    return BaselineCNN(num_classes, hidden)
