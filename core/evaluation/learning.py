"""Measure a learning curve: grouped cross-validation of the project's probe on a growing share of its places.

Every labelled photo (train + val; the test split is never read) is scored out of fold: the places are
cut into `folds` groups stratified by city, and each fold's probe is fitted on 25 / 50 / 75 / 100% of the
other folds' places (nested: the 25% are inside the 50%; at least one place per city) and scores the
held-out fold. The features are the training run's own cached view features (`probe.probe_features`),
so after a training run the curve costs only logistic-regression fits. C is chosen by grouped inner CV,
as training does, once per share of places and member (on the first fold, whose choice the other folds
reuse: the best C grows with the data, and 18 inner fits per fold and share cost minutes where the rest
costs seconds). What comes back is a `core.evaluation.curves.LearningCurve`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..data.project import Project
from ..errors import GeoSpottrError
from ..events import PROGRESS, Control, Event, EventCallback, ignore_events
from ..models import registry
from ..models.probe import probe_members
from ..training.data import load_training_data
from ..training.probe import (
    C_GRID,
    PROBE_ARCHS,
    fit_probe,
    fuse_probabilities,
    model_kwargs,
    probe_features,
    trained_arch,
    usable_rows,
)
from ..training.trainer import TrainConfig
from .curves import FRACTIONS, CurvePoint, LearningCurve, f1_intervals, load_current_curve, reports_folder, save_curve

FOLDS = 5


def nested_subsets(places: np.ndarray, labels: np.ndarray, fractions: tuple[float, ...],
                   rng: np.random.Generator) -> dict[float, set]:
    """For each fraction, the places kept: per city the first ceil(f * n) of one seeded shuffle, so every
    smaller share is inside the larger ones (a smoother curve) and each city keeps at least one place."""
    kept: dict[float, set] = {f: set() for f in fractions}
    for label in np.unique(labels):
        city_places = np.unique(places[labels == label])
        order = rng.permutation(city_places)
        for f in fractions:
            kept[f].update(order[:max(1, math.ceil(f * len(order)))].tolist())
    return kept


def learning_curve(project: Project, config: TrainConfig | None = None, fractions: tuple[float, ...] = FRACTIONS,
                   folds: int = FOLDS, seed: int = 0, on_event: EventCallback = ignore_events,
                   control: Control | None = None) -> LearningCurve:
    """The learning curve of the probe `config` trains (default: the default recipe) on this project."""
    from sklearn.model_selection import StratifiedGroupKFold

    started = time.perf_counter()
    cfg = config or TrainConfig()
    control = control or Control()
    classes, train, val = load_training_data(project)
    arch = trained_arch(cfg, train, len(classes))
    if arch not in PROBE_ARCHS:
        raise GeoSpottrError(f"the learning curve refits linear probes on cached features; {arch} is fine-tuned "
                             "(use a probe: --arch efficientnet-lite0 --head probe)")
    spec = registry.spec(arch)
    cfg.image_size = cfg.image_size or spec.default_image_size
    torch.manual_seed(cfg.seed)  # as the trainer does: a random-init backbone is the run's, so its cache is too
    model = registry.build(arch, len(classes), weights=cfg.weights, **model_kwargs(arch, cfg))
    members = probe_members(model)
    per_member, skipped = probe_features(members, {"train": [s.path for s in train], "val": [s.path for s in val]},
                                         cfg.image_size, spec.mean, spec.std, cfg.crop_bottom, project.cache_dir,
                                         on_event, control, cfg.num_workers)
    keep = np.concatenate([usable_rows(len(train), skipped["train"]),
                           len(train) + usable_rows(len(val), skipped["val"])])
    features = [np.concatenate([f["train"], f["val"]])[keep] for f in per_member]
    samples = [(train + val)[i] for i in keep]
    y = np.array([s.label for s in samples])
    places = np.array([s.place or s.path for s in samples])
    k = len(classes)
    per_city_places = min(len(set(places[y == c].tolist())) for c in range(k))
    folds = min(folds, per_city_places)
    if folds < 2:
        raise GeoSpottrError("the learning curve needs at least 2 labelled places of every city (train + val)")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    rng = np.random.default_rng(seed)
    chosen: dict[tuple[int, float], float] = {}  # (member, share) -> C
    guesses = {f: np.full(len(y), -1) for f in fractions}
    images = {f: np.zeros(k) for f in fractions}  # training images per city, summed over folds
    splits = list(splitter.split(np.zeros(len(y)), y, places))
    total, done = len(splits) * len(fractions), 0
    for train_rows, test_rows in splits:
        kept = nested_subsets(places[train_rows], y[train_rows], fractions, rng)
        for f in fractions:
            control.checkpoint()
            rows = train_rows[np.isin(places[train_rows], list(kept[f]))]
            probs = []
            for m, x in enumerate(features):
                grid = (chosen[m, f],) if (m, f) in chosen else C_GRID
                probe = fit_probe(x[rows], y[rows], places[rows], k, class_balance=cfg.class_balance, c_grid=grid,
                                  seed=seed)
                chosen[m, f] = probe.C
                probs.append(probe.probabilities(x[test_rows].mean(axis=1)))
            guesses[f][test_rows] = fuse_probabilities(probs).argmax(axis=1)
            images[f] += np.bincount(y[rows], minlength=k)
            done += 1
            on_event(Event(PROGRESS, f"learning curve: {f:.0%} of the places", done=done, total=total,
                           scope="learning curve"))
    slugs = [c.slug for c in classes]
    points = []
    for f in fractions:
        per_city, macro = f1_intervals(y, guesses[f], places, k, seed=seed)
        points.append(CurvePoint(f, float(images[f].sum() / folds), macro, dict(zip(slugs, per_city)),
                                 {s: float(n / folds) for s, n in zip(slugs, images[f])}))
    ids = {str(project.image_path(r)): r.id for r in project.images(split=("train", "val"))}
    full = guesses[fractions[-1]]
    return LearningCurve(arch=arch, folds=folds, cities=slugs, names={c.slug: c.name for c in classes},
                         labelled=len(y), city_labelled={s: int((y == i).sum()) for i, s in enumerate(slugs)},
                         points=points, predictions={ids[s.path]: slugs[full[i]] for i, s in enumerate(samples)},
                         seconds=time.perf_counter() - started)


def run_recipe(project: Project, run_id: str | None) -> TrainConfig:
    """The training settings of run `run_id` (its config.json), else the default recipe's."""
    if run_id is None:
        return TrainConfig()
    from ..training import runs

    return TrainConfig.from_dict(runs.read_json(runs.run_dir(project.runs_dir, run_id) / runs.CONFIG))


def current_curve(project: Project, run_id: str | None = None, refresh: bool = False,
                  on_event: EventCallback = ignore_events, control: Control | None = None) -> LearningCurve:
    """The project's saved curve while it still describes its labelled photos (same images, same split),
    else (or with `refresh`) a new one measured with `run_id`'s recipe and saved."""
    saved = None if refresh else load_current_curve(project)
    if saved is not None:
        return saved
    curve = learning_curve(project, run_recipe(project, run_id), on_event=on_event, control=control)
    save_curve(curve, reports_folder(project))
    return curve
