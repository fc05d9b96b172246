"""How a fine-tune steps its weights: the optimizer and its learning-rate schedule.

Only the epoch loop (`trainer`) builds these; a linear probe is fitted in closed form (`probe`), so keeping
them apart also keeps them out of the probe's path.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .config import TrainConfig


def lr_factor(step: int, total: int, warmup: int, cfg: TrainConfig, steps_per_epoch: int) -> float:
    """Linear warmup to the base lr, then cosine to 0, a step decay, or constant."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if cfg.schedule == "cosine":
        span = max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span)))
    if cfg.schedule == "step":
        return cfg.step_gamma ** (step // max(1, cfg.step_epochs * steps_per_epoch))
    return 1.0


def param_groups(net: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases and batch-norm weights (decaying them only hurts)."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for p in net.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(net: nn.Module, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """SGD (Nesterov when there is momentum) or AdamW over the trainable weights of `net`."""
    groups = param_groups(net, cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
