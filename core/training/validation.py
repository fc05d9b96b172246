"""The val pass of a fine-tune: loss, accuracy and macro F1 after every epoch.

Apart from the loop (`trainer`) because it is a pure function of a network and a loader: no run state,
no checkpoints, no events beyond naming the photos it had to leave out.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..scores import f1_counted, macro
from .data import decoded_only


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`x` on `device`; a batch of images on a GPU in channels-last order (what the convolutions prefer)."""
    x = x.to(device, non_blocking=True)
    if device.type == "cuda" and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def evaluate(net: nn.Module, loader: DataLoader, device: torch.device, num_classes: int,
             autocast: Any, on_skip: Callable[[int], None] = lambda i: None) -> dict[str, float]:
    """Val loss (plain CE), accuracy and macro F1 of `net` over `loader` (photos that cannot be decoded
    are left out, each passed to `on_skip`)."""
    was_training = net.training
    net.eval()
    loss_sum, n = 0.0, 0
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for images, labels, index in loader:
        images, labels, _ = decoded_only(images, labels, index, on_skip)
        if not len(labels):
            continue
        images = to_device(images, device)
        with autocast():
            logits = net(images)
        loss_sum += F.cross_entropy(logits.float().cpu(), labels, reduction="sum").item()
        preds = logits.argmax(1).cpu()
        confusion += torch.bincount(labels * num_classes + preds, minlength=num_classes ** 2).view(num_classes, -1)
        n += len(labels)
    net.train(was_training)
    counts = confusion.numpy()
    return {"val_loss": loss_sum / max(1, n), "val_acc": float(counts.trace()) / max(1, n),
            "val_macro_f1": macro(*f1_counted(counts))}
