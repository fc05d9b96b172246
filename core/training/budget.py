"""A time budget for training: which recipe fits, predicted from costs measured on this device.

`train --time-budget 30m` (and the Train form's field) picks the most accurate recipe whose predicted
cost fits; without a budget, a run predicted to take more than `GUARD_S` says so up front with the faster
choice, instead of silently taking hours. Torch-free (the numbers in, a choice out), so the app can show
an estimate on its UI thread; `core.training.costs` measures the numbers.

When even the fastest recipe does not fit, it trains on the share of the photos that does (`Choice.share`,
`TrainConfig.photo_share`), drawn evenly per city and by whole places (`training.data.subsample`): on a
project of the original study's size the learning curve is flat enough that a budget is better spent on
fewer photos than on blowing the budget several times over.

Recipes, most accurate first (`RECIPES`): on the 400 development photos every Lite backbone added to the
fused probe adds macro F1 and the colour statistics add the most (`benchmarks/bench_accuracy.py`), so a
member is dropped from the biggest first. Above `AUTO_PROBE_MAX_PER_CITY` training photos per city the
default head fine-tunes (`probe.trained_arch`), and that fine-tune then ranks first.

Predicted cost of a probe: every photo decoded once plus each member's forward pass (`Costs.photo_s`),
plus the logistic-regression fits (C grid x inner folds, on train and again on train + val for the refit;
linear in rows x features: `FIT_S_PER_VALUE`).
Of a fine-tune: epochs x (training images x a measured training step per image + val images x a forward
pass), which is how the trainer spends its time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import GeoSpottrError

#: Above this predicted time a run without --time-budget says so before it starts (and the app asks).
GUARD_S = 3600.0
#: Below this many train + val photos no recipe is predicted to take an hour even on a slow CPU: the guard
#: measures nothing (and the app asks nothing).
GUARD_MIN_PHOTOS = 2000
#: Seconds of logistic-regression fitting per training row and feature, C grid and inner folds included:
#: measured with `probe.fit_probe` on 22 cities on the 2-core dev CPU (loaded): 1,000 x 1,280 in 26 s,
#: 3,000 x 1,280 in 37 s (the fixed part shrinks with size; the larger sample sets the rate).
FIT_S_PER_VALUE = 1.0e-5
#: When no recipe fits the budget with every photo, the fastest trains on the share of them that fits, but
#: never on fewer photos than this (a probe on a handful per city says little).
MIN_SHARE_PHOTOS = 1000
#: Features per member (what the fit's cost grows with).
FEATURES = {"efficientnet-lite0": 1280, "efficientnet-lite1": 1280, "efficientnet-lite2": 1280, "colour": 192}
#: The fine-tuned model the default head trains on larger projects.
FINETUNE_ARCH = "efficientnet-lite0"
ENSEMBLE_ARCH = "efficientnet-lite-ensemble-probe"
SINGLE_ARCH = "efficientnet-lite0-probe"


@dataclass(frozen=True)
class Recipe:
    """One way to train: the registry model, its head and keywords, and what its cost is made of."""

    name: str
    arch: str
    head: str  # "probe" | "finetune"
    members: tuple[str, ...] = ()  # probe backbones (empty for a fine-tune)
    arch_kwargs: dict = field(default_factory=dict, hash=False)


RECIPES: tuple[Recipe, ...] = (
    Recipe("fine-tune EfficientNet-Lite0", FINETUNE_ARCH, "finetune"),
    Recipe("fused probe Lite0 + Lite1 + Lite2 + colour", ENSEMBLE_ARCH, "probe",
           ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "colour")),
    Recipe("fused probe Lite0 + Lite1 + colour", ENSEMBLE_ARCH, "probe",
           ("efficientnet-lite0", "efficientnet-lite1", "colour"),
           {"backbones": ["efficientnet-lite0", "efficientnet-lite1", "colour"]}),
    Recipe("fused probe Lite0 + colour", ENSEMBLE_ARCH, "probe", ("efficientnet-lite0", "colour"),
           {"backbones": ["efficientnet-lite0", "colour"]}),
    Recipe("probe Lite0", SINGLE_ARCH, "probe", ("efficientnet-lite0",)),
)


@dataclass(frozen=True)
class Costs:
    """Seconds per photo on one device, measured (`core.training.costs.measure`)."""

    device: str
    decode_s: float  # decoding + preprocessing one photo at the probes' input size
    member_s: dict[str, float]  # one photo's views through each probe backbone
    finetune_step_s: float  # one training image of the fine-tune (forward, backward, step)
    finetune_eval_s: float  # one val image of the fine-tune (decode + forward)

    def photo_s(self, members: Sequence[str]) -> float:
        """One photo through a probe's feature caching: one decode for all members."""
        return self.decode_s + sum(self.member_s[m] for m in members)


def predict_s(recipe: Recipe, n_train: int, n_val: int, costs: Costs, epochs: int) -> float:
    """Predicted seconds of `recipe` on `n_train` + `n_val` photos (see the module docstring)."""
    if recipe.head == "finetune":
        return epochs * (n_train * costs.finetune_step_s + n_val * costs.finetune_eval_s)
    # Two fits per member: C chosen by inner CV on train, then again on train + val for the saved probe.
    fits = sum(FEATURES[m] for m in recipe.members) * (2 * n_train + n_val) * FIT_S_PER_VALUE
    return (n_train + n_val) * costs.photo_s(recipe.members) + fits


def candidates(finetune_first: bool) -> list[Recipe]:
    """`RECIPES` most accurate first: the fine-tune leads only where the default head would pick it."""
    probes = [r for r in RECIPES if r.head == "probe"]
    finetune = [r for r in RECIPES if r.head == "finetune"]
    return finetune + probes if finetune_first else probes + finetune


@dataclass(frozen=True)
class Choice:
    recipe: Recipe
    predicted_s: float
    why: str
    share: float = 1.0  # of the train and val photos the run uses (below 1 when nothing fits with all)


def choose(budget_s: float, n_train: int, n_val: int, costs: Costs, epochs: int, finetune_first: bool) -> Choice:
    """The most accurate recipe predicted to fit `budget_s`, and why (what did not fit); if none fits, the
    fastest, said so."""
    ranked = [(r, predict_s(r, n_train, n_val, costs, epochs)) for r in candidates(finetune_first)]
    skipped: list[str] = []
    for recipe, seconds in ranked:
        if seconds <= budget_s:
            why = (f"the most accurate recipe predicted to fit {duration_text(budget_s)} on {costs.device} "
                   f"({n_train + n_val} photos)")
            if skipped:
                why += "; too slow: " + ", ".join(skipped)
            return Choice(recipe, seconds, why)
        skipped.append(f"{recipe.name} ~{duration_text(seconds)}")
    recipe, seconds = min(ranked, key=lambda pair: pair[1])
    share = max(min(1.0, budget_s / seconds), min(1.0, MIN_SHARE_PHOTOS / max(1, n_train + n_val)))
    used = predict_s(recipe, round(n_train * share), round(n_val * share), costs, epochs)
    return Choice(recipe, used, f"nothing is predicted to fit {duration_text(budget_s)} on {costs.device} with all "
                                f"{n_train + n_val} photos ({', '.join(skipped)}): the fastest recipe on {share:.0%} "
                                f"of them, drawn evenly per city by place", share)


def guard_warning(recipe: Recipe, n_train: int, n_val: int, costs: Costs, epochs: int,
                  finetune_first: bool) -> str | None:
    """Without a budget: a one-line warning when `recipe` is predicted to take more than `GUARD_S`,
    naming the faster choice a one-hour budget makes; None when it is quicker than that."""
    seconds = predict_s(recipe, n_train, n_val, costs, epochs)
    if seconds <= GUARD_S:
        return None
    faster = choose(GUARD_S, n_train, n_val, costs, epochs, finetune_first)
    return (f"this run ({recipe.name}, {n_train + n_val} photos) is predicted to take about {duration_text(seconds)} "
            f"on {costs.device}; a 1-hour time budget (--time-budget 1h) picks {faster.recipe.name} (about "
            f"{duration_text(faster.predicted_s)})")


_UNITS = {"s": 1, "m": 60, "h": 3600}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smh])")


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``1.5h``, ``1h30m`` -> seconds; a bare number is minutes. One-line error else."""
    cleaned = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        seconds = float(cleaned) * 60
    elif cleaned and _PART.sub("", cleaned) == "":
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
    else:
        raise GeoSpottrError(f"time budget {text!r}: write it like 30m, 1h30m, 90s or 1.5h")
    if seconds <= 0:
        raise GeoSpottrError(f"time budget {text!r}: must be more than nothing")
    return seconds


def duration_text(seconds: float) -> str:
    """``45s``, ``12m``, ``1h50m``: a predicted time, as rough as a prediction is."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{round(seconds / 60)}m"
    return f"{seconds // 3600}h{round(seconds % 3600 / 60):02d}m"
