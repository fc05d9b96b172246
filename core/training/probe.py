"""Linear-probe training: per-view features once, then scikit-learn logistic regression with C by inner CV.

`probe_features` runs the probes' frozen backbones over images and returns (N, V, D) view features per
member, every photo decoded once for all members and cached on disk (``.npy``, keyed by everything that
changes them) through `core.training.cache.extract`. `fit_probe`
averages the views, standardises, and fits a multinomial `LogisticRegression`, choosing C by grouped,
stratified inner cross-validation on the training images only (never on anything it is scored on).
`export_probe` folds the standardisation into one ``nn.Linear`` so the bundle holds a plain model.
The val split is not needed to choose C, so by default (`refit`) the probe that is saved is fitted once
more on train + val, C chosen again by the same inner CV over them all (`refit_probe`): every labelled
photo counts, while the val figures reported are those of the train-only fit, measured on val before the
refit (the test split is never read).
An `EnsembleProbeNet` is fitted member by member (each with its own cached features and C) and scored
on the fused probabilities, exactly as its forward pass fuses them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import GeoSpottrError
from ..events import LOG, Control, Event, EventCallback, ignore_events
from ..fsutil import safe_child
from ..models import registry
from ..models.probe import EnsembleProbeNet, ProbeNet, probe_members
from ..scores import macro_f1
from . import cache as feature_cache
from . import distributed
from .balance import CLASS_BALANCES, balance_weights
from .data import Sample

#: Inverse regularisation strengths tried by the inner cross-validation (log-spaced).
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
HEADS = ("auto", "probe", "finetune")
#: The linear-probe variant of each fine-tunable arch (--head probe / auto): for efficientnet-lite0 the
#: fused probes on Lite0/1/2 and colour, which cross-validated best (benchmarks/bench_accuracy.py).
PROBE_OF = {"efficientnet-lite0": "efficientnet-lite-ensemble-probe", "resnet50-linear": "resnet50-probe"}
#: With a weights file (one backbone's), the probe that takes it instead of the ensemble.
SINGLE_PROBE_OF = {"efficientnet-lite-ensemble-probe": "efficientnet-lite0-probe"}
#: Every registry model that is fitted as a probe (PROBE_OF's and the plain single-backbone one).
PROBE_ARCHS = frozenset({*PROBE_OF.values(), *SINGLE_PROBE_OF.values(), "streetclip-probe"})
#: --head auto trains the probe while the median city has fewer training images than this. Cross-validation
#: on 400 photos (~60 per city in training) found the probe ahead; above that size it is a judgement call.
AUTO_PROBE_MAX_PER_CITY = 250


def trained_arch(cfg, train: Sequence[Sample], num_classes: int) -> str:
    """The registry model a run of `cfg` trains: `cfg.arch`, or its probe variant per `cfg.head`."""
    if cfg.head == "finetune" or cfg.arch in PROBE_ARCHS:
        return cfg.arch
    if cfg.arch not in PROBE_OF:
        if cfg.head == "probe":
            raise GeoSpottrError(f"--head probe: {cfg.arch} has no linear-probe variant "
                                 f"(those that do: {', '.join(PROBE_OF)})")
        return cfg.arch
    counts = np.bincount([s.label for s in train], minlength=num_classes)
    if cfg.head != "probe" and float(np.median(counts)) >= AUTO_PROBE_MAX_PER_CITY:
        return cfg.arch
    probe = PROBE_OF[cfg.arch]
    if cfg.weights not in (None, "none", "imagenet"):  # a local weights file is one backbone's
        probe = SINGLE_PROBE_OF.get(probe, probe)
    return probe


def model_kwargs(arch: str, cfg) -> dict:
    """Builder keywords to store in the bundle: for a probe all of them (defaults included, so a later
    change of defaults cannot alter a saved model), its views no larger than the input size."""
    if arch not in PROBE_ARCHS:
        return dict(cfg.arch_kwargs)
    kwargs = {**registry.spec(arch).defaults, **cfg.arch_kwargs}
    if cfg.image_size:
        kwargs["view_size"] = min(kwargs["view_size"], cfg.image_size)
    return kwargs


def features_key(model: ProbeNet, image_size: int, mean: Sequence[float], std: Sequence[float],
                 crop_bottom: float, paths: Sequence[str]) -> str:
    """A hash of the backbone weights, the view settings, the preprocessing and the image list."""
    h = hashlib.sha1()
    for name, tensor in sorted(model.embedding.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(json.dumps([model.embedding.backbone, image_size, list(mean), list(std), crop_bottom, model.view_size,
                         list(model.views), model.crop_fraction, model.flip, list(paths)]).encode())
    return h.hexdigest()[:16]


#: Photos per batch when caching view features, before `cache.batch_for_memory` lowers it.
FEATURE_BATCH = 16


def _view_count(member: ProbeNet) -> int:
    return len(member.views) * (2 if member.flip else 1)


def _device_of(members: Sequence[ProbeNet]) -> torch.device:
    """Where the members' weights are (the trainer moves its model to the run's device, a GPU under
    torchrun); the photos go there, so a probe never mixes a CUDA model with CPU inputs."""
    for member in members:
        for p in member.parameters():
            return p.device
    return torch.device("cpu")


def probe_features(members: Sequence[ProbeNet], splits: dict[str, Sequence[str]], image_size: int,
                   mean: Sequence[float], std: Sequence[float], crop_bottom: float, cache_dir: Path,
                   on_event: EventCallback = ignore_events, control: Control | None = None, num_workers: int = 2,
                   ctx: distributed.DistContext | None = None
                   ) -> tuple[list[dict[str, np.ndarray]], dict[str, dict[int, str]]]:
    """Each member's (N, V, D) float32 view features of each split's photos, and each split's photos that
    could not be decoded (index -> reason; their rows are zero: drop them, see `usable_rows`).

    The one place training, the learning curve and the benchmarks get probe features: every photo is
    decoded once for all members and its views are cut once per view setting (`cache.extract`), each
    member's features cached under ``cache_dir/probe/<features_key>.npy`` (fp16), so the curve after a
    training run (or a run after the curve) extracts nothing again. The input pipeline is exactly the one
    prediction uses (`core.models.preprocessing.eval_array` at `image_size`, then the model's own views), so a
    probe fitted on these features sees at inference what it saw in training.
    """
    feats: list[dict[str, np.ndarray]] = [{} for _ in members]
    skipped: dict[str, dict[int, str]] = {}

    def compute(x: torch.Tensor, todo: Sequence[int]) -> list[torch.Tensor]:
        views: dict[tuple, list[torch.Tensor]] = {}
        out = []
        for i in todo:
            m = members[i]
            if m.view_settings() not in views:
                views[m.view_settings()] = m.views_of(x)
            out.append(torch.stack([m.embedding(v) for v in views[m.view_settings()]], dim=1))
        return out

    biggest = max(members, key=_view_count)
    batch = feature_cache.batch_for_memory(FEATURE_BATCH, image_size, biggest.view_size, _view_count(biggest))
    names = members[0].embedding.backbone if len(members) == 1 else f"{len(members)} backbones"
    for split, paths in splits.items():
        targets = [feature_cache.Target(safe_child(cache_dir, "probe", f"{features_key(m, image_size, mean, std, crop_bottom, paths)}.npy"),
                                        (_view_count(m), m.embedding.channels)) for m in members]
        photos = feature_cache.DecodedPhotos(paths, image_size, mean, std, crop_bottom)
        for m in members:
            m.eval()
        got = feature_cache.extract(targets, compute, photos, _device_of(members), batch, num_workers,
                                    split, names, on_event, control, ctx)
        skipped[split] = {}
        for slot, (rows, bad) in enumerate(got):
            # fp16 halves the disk cache; the fit reads it as float32 (a float16 mean would lose digits).
            feats[slot][split] = np.asarray(rows, dtype=np.float32)
            skipped[split].update(bad)
    return feats, skipped


def usable_rows(count: int, skipped: dict[int, str]) -> np.ndarray:
    """Indices of the photos whose features exist (every one but the `skipped`)."""
    return np.setdiff1d(np.arange(count), np.fromiter(skipped, dtype=np.int64, count=len(skipped)))


def extract_view_features(model: ProbeNet, paths: Sequence[str], image_size: int, mean: Sequence[float],
                          std: Sequence[float], cache: Path, crop_bottom: float = 0.0) -> np.ndarray:
    """(N, V, D) float32 view features of one probe's `paths`, cached at `cache` (benchmarks' entry to
    `probe_features`' pipeline, with their own cache file names); a photo that fails to decode is an error."""
    [(rows, bad)] = feature_cache.extract(
        [feature_cache.Target(cache, (_view_count(model), model.embedding.channels))],
        lambda x, _: [model.eval().view_features(x)], feature_cache.DecodedPhotos(paths, image_size, mean, std, crop_bottom),
        _device_of([model]), FEATURE_BATCH, 0, "all")
    if bad:
        raise GeoSpottrError(f"{len(bad)} photos could not be decoded, e.g. {paths[min(bad)]}: {bad[min(bad)]}")
    return np.asarray(rows, dtype=np.float32)


@dataclass
class FittedProbe:
    """A standardise-then-logistic-regression probe: ``logits = ((x - mean) / scale) @ coef.T + intercept``."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray        # (classes, features)
    intercept: np.ndarray   # (classes,)
    C: float
    inner_scores: dict[float, float]  # C -> inner-CV macro F1 (what chose C)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef.T + self.intercept

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def _fit_lr(x: np.ndarray, y: np.ndarray, c: float, num_classes: int, class_balance: str):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    weights = balance_weights(y, num_classes)[y] if class_balance != "none" else None
    lr = LogisticRegression(C=c, max_iter=1000)
    lr.fit(scaler.transform(x), y, sample_weight=weights)
    return scaler, lr


def _expand(x: np.ndarray, y: np.ndarray, groups: np.ndarray, views_as_samples: bool):
    """Training rows: the view-mean per image, or every view as its own row (view augmentation)."""
    if not views_as_samples or x.ndim == 2:
        return (x.mean(axis=1) if x.ndim == 3 else x), y, groups
    v = x.shape[1]
    return x.reshape(-1, x.shape[2]), np.repeat(y, v), np.repeat(groups, v)


def fit_probe(features: np.ndarray, labels: Sequence[int], groups: Sequence, num_classes: int,
              class_balance: str = "weighted", c_grid: Sequence[float] = C_GRID, inner_folds: int = 3,
              views_as_samples: bool = False, seed: int = 0) -> FittedProbe:
    """Fit a probe on (N, V, D) view features (or (N, D)); C maximises grouped inner-CV macro F1.

    `groups` (the place of each image) keep a place's views inside one inner fold, so C is not chosen
    on near-duplicates of the training images. With too few groups for an inner split the middle C is
    used. ``class_balance`` "weighted" and "sampler" both weight samples by inverse class frequency
    (for a full-batch convex fit a balanced sampler has exactly that expected loss).
    """
    from threadpoolctl import threadpool_limits

    if class_balance not in CLASS_BALANCES:
        raise ValueError(f"class balance must be one of {', '.join(CLASS_BALANCES)}")
    # One BLAS thread: these fits are small, and a spinning multi-threaded BLAS cost 10x the CPU time.
    with threadpool_limits(1):
        return _fit_probe(features, labels, groups, num_classes, class_balance, c_grid, inner_folds,
                          views_as_samples, seed)


def _fit_probe(features: np.ndarray, labels: Sequence[int], groups: Sequence, num_classes: int,
               class_balance: str, c_grid: Sequence[float], inner_folds: int, views_as_samples: bool,
               seed: int) -> FittedProbe:
    from sklearn.model_selection import StratifiedGroupKFold

    y, g = np.asarray(labels), np.asarray(groups)
    mean_x = features.mean(axis=1) if features.ndim == 3 else features
    scores: dict[float, float] = {}
    counts = np.bincount(y, minlength=num_classes)
    folds = min(inner_folds, int(counts[counts > 0].min()), len(set(g.tolist())))
    if len(c_grid) > 1 and folds >= 2:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        for c in c_grid:
            f1s = []
            for tr, va in splitter.split(mean_x, y, g):
                xt, yt, _ = _expand(features[tr], y[tr], g[tr], views_as_samples)
                scaler, lr = _fit_lr(xt, yt, c, num_classes, class_balance)
                pred = lr.predict(scaler.transform(mean_x[va]))
                f1s.append(macro_f1(y[va], pred, num_classes))
            scores[float(c)] = float(np.mean(f1s))
        best = max(scores, key=lambda c: (round(scores[c], 4), -c))  # ties: the stronger regularisation
    else:
        best = float(c_grid[len(c_grid) // 2])
    xt, yt, _ = _expand(features, y, g, views_as_samples)
    scaler, lr = _fit_lr(xt, yt, best, num_classes, class_balance)
    if len(lr.classes_) != num_classes:
        raise ValueError("every class needs at least one training image")
    coef, intercept = lr.coef_, lr.intercept_
    if num_classes == 2:  # scikit-learn's binary model has one row (class 1 vs 0): split it symmetrically
        coef = np.concatenate([-coef, coef]) / 2
        intercept = np.concatenate([-intercept, intercept]) / 2
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return FittedProbe(scaler.mean_, scale, coef, intercept, best, scores)


def refit_probe(features: np.ndarray, labels: Sequence[int], groups: Sequence, num_classes: int,
                class_balance: str = "weighted", views_as_samples: bool = False, seed: int = 0) -> FittedProbe:
    """The final probe on every labelled image (train + val), C chosen again by grouped inner CV over them
    all: model selection needs no held-out split, so the images val held out for measuring now train the
    probe and help choose its C. Keeping the train-only C instead cross-validated worse (3 x 5-fold CV on
    the development photos: image macro F1 0.452 against 0.478; benchmarks/bench_accuracy.py)."""
    return fit_probe(features, labels, groups, num_classes, class_balance=class_balance,
                     views_as_samples=views_as_samples, seed=seed)


def copy_probe_into(linear: torch.nn.Linear, probe: FittedProbe) -> None:
    """Fold the standardisation into `linear`: ``W' = coef / scale``, ``b' = b - W' . mean``."""
    weight = probe.coef / probe.scale
    bias = probe.intercept - weight @ probe.mean
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight).float())
        linear.bias.copy_(torch.from_numpy(bias).float())


def export_probe(model: ProbeNet, probe: FittedProbe) -> ProbeNet:
    """`model` with the fitted probe as its classifier (see `copy_probe_into`)."""
    copy_probe_into(model.classifier, probe)
    return model


def fuse_probabilities(probs: Sequence[np.ndarray]) -> np.ndarray:
    """Normalised geometric mean of the members' probabilities: what `EnsembleProbeNet`'s softmax gives."""
    if len(probs) == 1:
        return probs[0]
    z = np.mean([np.log(np.clip(p, 1e-30, None)) for p in probs], axis=0)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _metrics(probs: np.ndarray, labels: Sequence[int], prefix: str) -> dict[str, float]:
    """Loss (plain CE), accuracy and macro F1 of fitted probabilities, named like the trainer's metrics."""
    y = np.asarray(labels)
    pred = probs.argmax(axis=1)
    loss = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean())
    f1 = macro_f1(y, pred, probs.shape[1])
    return {f"{prefix}_loss": loss, f"{prefix}_acc": float((pred == y).mean()), f"{prefix}_macro_f1": f1}


def describe_c(metrics: dict) -> str:
    """The regularisation the inner CV chose, for the run log: ``C=0.001`` or one C per ensemble member."""
    if "C" in metrics:
        return f"C={metrics['C']:g}"
    return "C " + ", ".join(f"{k[2:]} {v:g}" for k, v in metrics.items() if k.startswith("C_"))


def train_probe(model: ProbeNet | EnsembleProbeNet, train: Sequence[Sample], val: Sequence[Sample], image_size: int,
                mean: Sequence[float], std: Sequence[float], crop_bottom: float, cache_dir: Path, class_balance: str,
                seed: int,
                on_event: EventCallback = ignore_events, control: Control | None = None,
                refit: bool = True, num_workers: int = 2,
                ctx: distributed.DistContext | None = None) -> dict[str, float]:
    """Fit the classifier(s) of `model` in place; return train/val metrics (trainer's names) and C.

    C is chosen by inner CV on `train` and the probe fitted on `train` is scored on `val`; with `refit` the
    probe put into `model` is then `refit_probe` on train + val (metrics ``refit_images`` counts them, 0
    without; ``C`` is the saved probe's), so the reported val figures describe the train-only fit, an
    honest slight underestimate.

    View features are cached (`probe_features`: one decode per photo for all members), so a second run on
    the same images (another class balance, a rerun) only refits the logistic regressions. Photos that could
    not be decoded are left out (metrics ``skipped_images``). An ensemble's members are fitted one after
    the other, each on its own backbone's features; its metrics are those of the fused prediction. Metrics
    hold ``C`` (one probe) or ``C_<backbone>`` per member.
    """
    members = probe_members(model)
    feats, skipped = probe_features(members, {"train": [s.path for s in train], "val": [s.path for s in val]},
                                    image_size, mean, std, crop_bottom, cache_dir, on_event, control, num_workers, ctx)
    keep = {"train": usable_rows(len(train), skipped["train"]), "val": usable_rows(len(val), skipped["val"])}
    train, val = [train[i] for i in keep["train"]], [val[i] for i in keep["val"]]
    labels = {"train": [s.label for s in train], "val": [s.label for s in val]}
    groups = {split: [s.place or s.path for s in samples] for split, samples in (("train", train), ("val", val))}
    probs: dict[str, list[np.ndarray]] = {"train": [], "val": []}
    chosen: dict[str, float] = {}
    inner: list[float | None] = []
    for number, member in enumerate(members):
        backbone = member.embedding.backbone
        x = {split: feats[number][split][keep[split]] for split in keep}
        num_classes = member.classifier.out_features
        if len(members) > 1:
            on_event(Event(LOG, f"fitting the probe on {backbone} ({number + 1} of {len(members)})"))
        probe = fit_probe(x["train"], labels["train"], groups["train"], num_classes,
                          class_balance=class_balance, seed=seed)
        for split in probs:
            probs[split].append(probe.probabilities(x[split].mean(axis=1)))
        if refit:
            probe = refit_probe(np.concatenate([x["train"], x["val"]]), labels["train"] + labels["val"],
                                groups["train"] + groups["val"], num_classes, class_balance, seed=seed)
        export_probe(member, probe)
        chosen["C" if len(members) == 1 else f"C_{backbone}"] = probe.C
        inner.append(probe.inner_scores.get(probe.C))
    return {**_metrics(fuse_probabilities(probs["train"]), labels["train"], "train"),
            **_metrics(fuse_probabilities(probs["val"]), labels["val"], "val"),
            **chosen, "inner_cv_macro_f1": None if None in inner else float(np.mean(inner)),
            "refit_images": len(train) + len(val) if refit else 0,
            "skipped_images": len(skipped["train"]) + len(skipped["val"])}
