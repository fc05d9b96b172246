"""Measure what training costs per photo on this device, for the time budget (`core.training.budget`).

A few real photos of the project go through each step the recipes are made of: one decode at the probes'
input size, each probe backbone's forward pass over the views, one fine-tune training step and one val
pass. Random-init networks: their speed is the pretrained ones', and nothing is downloaded. The numbers
are kept in ``<project>/cache/costs.json`` per device and thread count for `MAX_AGE_S`, so a run pays the
few seconds of measuring once a day, not every time.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GeoSpottrError
from ..fsutil import atomic_write_text
from ..models import registry
from ..models.probe import Embedding, ProbeNet
from ..typed import read_json
from .budget import FINETUNE_ARCH, GUARD_MIN_PHOTOS, RECIPES, Costs, Recipe, choose, duration_text, guard_warning
from .data import Sample
from .probe import AUTO_PROBE_MAX_PER_CITY
from .transforms import eval_transform, load_for_model

#: Photos timed per step (after one untimed warm-up batch), and timed repeats of each step.
SAMPLE = 8
REPS = 2
#: Measured costs older than this are measured again (the machine's load changes).
MAX_AGE_S = 24 * 3600.0
PROBE_SIZE = registry.spec("efficientnet-lite-ensemble-probe").default_image_size


def _key(device: torch.device) -> str:
    return f"{device}|threads={torch.get_num_threads()}"


def _timed(fn, reps: int = REPS) -> float:
    """Seconds of one call of `fn`: the fastest of `reps` after an untimed warm-up (first-call allocations,
    kernel choice). The fastest, because on a shared machine the others measure the neighbours' load."""
    fn()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(paths: Sequence[str], device: torch.device, cache_file: Path | None = None) -> Costs:
    """Per-photo costs on `device` from up to `SAMPLE` of `paths` (reused from `cache_file` when fresh)."""
    key = _key(device)
    saved = _read(cache_file).get(key) if cache_file else None
    if saved and time.time() - saved.get("measured", 0) < MAX_AGE_S:
        return Costs(**{k: v for k, v in saved.items() if k != "measured"})
    sample = list(paths[:SAMPLE])
    spec = registry.spec("efficientnet-lite-ensemble-probe")
    transform = eval_transform(PROBE_SIZE, spec.mean, spec.std)
    decode_s = _timed(lambda: [load_for_model(p, PROBE_SIZE, transform) for p in sample]) / len(sample)
    frames = torch.stack([load_for_model(p, PROBE_SIZE, transform) for p in sample]).to(device)
    views = ProbeNet(2, backbone="colour", **{k: v for k, v in spec.defaults.items() if k != "backbones"}).views_of(frames)
    members = sorted({m for r in RECIPES for m in r.members})
    member_s = {}
    with torch.no_grad():
        for name in members:
            net = Embedding(name).to(device)
            member_s[name] = _timed(lambda net=net: [net(v) for v in views]) / len(sample)
    ft = registry.spec(FINETUNE_ARCH)
    ft_transform = eval_transform(ft.default_image_size, ft.mean, ft.std)
    ft_decode = _timed(lambda: [load_for_model(p, ft.default_image_size, ft_transform) for p in sample]) / len(sample)
    x = torch.stack([load_for_model(p, ft.default_image_size, ft_transform) for p in sample]).to(device)
    y = torch.zeros(len(sample), dtype=torch.long, device=device)
    model = registry.build(FINETUNE_ARCH, 2, weights="none").to(device)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def step() -> None:
        optimizer.zero_grad()
        F.cross_entropy(model.train()(x), y).backward()
        optimizer.step()

    step_s = _timed(step) / len(sample) + ft_decode
    with torch.no_grad():
        eval_s = _timed(lambda: model.eval()(x)) / len(sample) + ft_decode
    costs = Costs(str(device), decode_s, member_s, step_s, eval_s)
    if cache_file is not None:
        stored = _read(cache_file)
        stored[key] = {**asdict(costs), "measured": time.time()}
        atomic_write_text(cache_file, json.dumps(stored, indent=1))
    return costs


def _read(cache_file: Path) -> dict:
    try:
        data = read_json(cache_file, "cost cache", missing={})
    except GeoSpottrError:  # a damaged or unreadable cache is measured again
        return {}
    return data if isinstance(data, dict) else {}


def plan(cfg, train: Sequence[Sample], val: Sequence[Sample], num_classes: int, device: torch.device,
         cache_file: Path) -> str | None:
    """Apply the time budget to `cfg` (a `TrainConfig`, changed in place: arch, head, arch keywords, the share
    of the photos used) and
    return the line that says what was picked and why; without a budget, the up-front warning of a run
    predicted to take more than an hour (`budget.guard_warning`), or None."""
    counts = np.bincount([s.label for s in train], minlength=num_classes)
    finetune_first = float(np.median(counts)) >= AUTO_PROBE_MAX_PER_CITY  # where --head auto fine-tunes
    paths = [s.path for s in train]
    if cfg.time_budget is None:
        recipe = _default_recipe(cfg, finetune_first)
        if recipe is None or len(train) + len(val) < GUARD_MIN_PHOTOS:
            return None
        costs = measure(paths, device, cache_file)
        return guard_warning(recipe, len(train), len(val), costs, cfg.epochs, finetune_first)
    costs = measure(paths, device, cache_file)
    picked = choose(cfg.time_budget, len(train), len(val), costs, cfg.epochs, finetune_first)
    cfg.arch, cfg.head, cfg.arch_kwargs = picked.recipe.arch, picked.recipe.head, dict(picked.recipe.arch_kwargs)
    cfg.photo_share = picked.share
    return (f"time budget {duration_text(cfg.time_budget)}: {picked.recipe.name}, predicted "
            f"{duration_text(picked.predicted_s)}: {picked.why}")


def _default_recipe(cfg, finetune_first: bool) -> Recipe | None:
    """The `budget.Recipe` a run without a budget trains, when it is one of them (else None)."""
    if cfg.arch_kwargs or cfg.arch not in (FINETUNE_ARCH, "efficientnet-lite-ensemble-probe", "efficientnet-lite0-probe"):
        return None
    if cfg.arch == FINETUNE_ARCH and (cfg.head == "finetune" or (cfg.head == "auto" and finetune_first)):
        return RECIPES[0]
    if cfg.arch == "efficientnet-lite0-probe":
        return RECIPES[-1]
    return RECIPES[1]
