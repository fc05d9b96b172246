"""Accuracy by grouped 5-fold cross-validation on the development photos: which recipe to make the default.

    .venv/bin/python benchmarks/bench_accuracy.py [--data ../shared/data/gsv-croatia] [--threads 2]
        [--cache-dir ~/.cache/geospottr-bench] [--recipes "=probe 320;fused"] [--fold-seeds 0,1,2] [--finetune]

Classes: the nearest of Zagreb / Osijek / Rijeka / Split (the project's catalog cities) to each photo.
Folds: `StratifiedGroupKFold(5, shuffle, seed 0)` by place (``location_id``: the four headings of a
place never straddle train and test) and stratified by city; the SAME folds serve every recipe. Each
recipe is fitted on 4 folds and scored on the 5th, so every photo is scored exactly once by a model that
never saw its place. Any choice a recipe makes (the probe's C) is made by an inner grouped CV on the 4
training folds only; the test fold is never looked at. ``--fold-seeds 0,1,2`` repeats the whole CV with
three fold assignments and pools the 15 folds: one 5-fold split alone moves a recipe by about ±0.03.

Per recipe it prints per-image and per-place (views of a place combined by `combine_views`) accuracy and
macro F1 as mean ± std over the folds, per-city F1 (per image, mean over folds) and the wall time (fit +
predict for all folds, plus the one-off feature extraction it needed, printed separately because the
cache makes it a one-time cost).

Probe recipes run on cached view features (`core.training.probe.extract_view_features`, the pipeline the
trained probe uses): for each feature set in `FEATURE_SETS` (a view size and some views of the 640 px
frame: the whole frame and its mirror, or four corner crops and a centre crop of 60% of it, and a
backbone: EfficientNet-Lite0/1/2 or the colour statistics) the frozen features are computed once and saved
under ``--cache-dir``; a recipe picks the views it uses (``--extract-only`` just builds the caches). A
"fused" recipe fits one probe per feature set and fuses their probabilities as `EnsembleProbeNet` does. ``--finetune`` adds the fine-tuning recipes: a real
`core.training.trainer.train` run per fold on a temporary project (slow: minutes per fold on 2 cores).
``--recipes`` picks recipes by name. Asserts nothing; skips (exit 0) when the photos are absent.

The "held-out val" rows replay what a project run does: its split keeps a quarter of the labelled places
as val (`split_project`'s 0.6/0.2 of train/val), so the probe of ``train --no-refit`` is fitted on three
quarters of the training folds (C by inner CV there); "refit" then refits on all of them, C chosen again
by inner CV over them all, as ``train`` does by default (`core.training.probe.refit_probe`).
"""

from __future__ import annotations

import argparse
import csv
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CITIES = ("Zagreb,HR", "Osijek,HR", "Rijeka,HR", "Split,HR")
DEFAULT_DATA = REPO.parent / "shared" / "data" / "gsv-croatia"
INPUT_SIZE = 640  # the frames' own size: views are cut from the full-resolution frame
#: Feature sets the probe recipes draw on, cheapest and most useful first: name -> (view size, views, crop
#: fraction, flip, backbone). CPU time decides how many views each size gets.
LITE0 = "efficientnet-lite0"
FEATURE_SETS = {
    "224": (224, ("full",), 1.0, True, LITE0),
    "224-crops": (224, ("tl", "tr", "bl", "br", "center"), 0.6, False, LITE0),
    "320": (320, ("full",), 1.0, True, LITE0),
    "288": (288, ("full",), 1.0, False, LITE0),
    "384": (384, ("full",), 1.0, False, LITE0),
    "320-crops": (320, ("tl", "tr", "bl", "br", "center"), 0.6, False, LITE0),
    "320-lite1": (320, ("full",), 1.0, False, "efficientnet-lite1"),
    "320-lite2": (320, ("full",), 1.0, False, "efficientnet-lite2"),
    "320-colour": (320, ("full",), 1.0, False, "colour"),
}
K = 5


@dataclass
class DevSet:
    paths: list[str]
    labels: np.ndarray   # city index per image
    groups: np.ndarray   # place index per image
    classes: list        # ClassInfo per city (slug order)


def load_dev_set(data: Path) -> DevSet:
    """The manifest's photos labelled with their nearest catalog city (the label `import` would give)."""
    from core.data import catalog
    from core.geo import haversine_km

    cities = sorted((catalog.resolve(q) for q in CITIES), key=lambda c: c.slug)
    paths, labels, places = [], [], []
    with open(data / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            lat, lon = float(row["lat"]), float(row["lon"])
            labels.append(min(range(len(cities)), key=lambda i: haversine_km(lat, lon, cities[i].lat, cities[i].lon)))
            paths.append(str(data / row["path"]))
            places.append(row["location_id"])
    index = {p: i for i, p in enumerate(sorted(set(places)))}
    return DevSet(paths, np.array(labels), np.array([index[p] for p in places]), cities)


def view_features(dev: DevSet, cache_dir: Path, name: str) -> tuple[np.ndarray, float]:
    """(N, V, D) features of feature set `name` and the seconds spent extracting them (0 when cached)."""
    from core.models.probe import ProbeNet
    from core.models.registry import spec
    from core.training.probe import extract_view_features

    view_size, views, fraction, flip, backbone = FEATURE_SETS[name]
    path = cache_dir / (f"lite0_in{INPUT_SIZE}_{name}.npy" if backbone == LITE0 else f"in{INPUT_SIZE}_{name}.npy")
    start = time.perf_counter()
    cached = path.is_file()
    model = ProbeNet(len(dev.classes), weights="imagenet", backbone=backbone, view_size=view_size, views=views,
                     crop_fraction=fraction, flip=flip)
    s = spec("efficientnet-lite-ensemble-probe")  # the Lites' and colour's normalisation (all the same)
    feats = extract_view_features(model, dev.paths, INPUT_SIZE, s.mean, s.std, cache=path)
    return feats, 0.0 if cached else time.perf_counter() - start


def make_folds(dev: DevSet, k: int = K, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The k (train, test) index pairs every recipe uses: grouped by place, stratified by city."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(dev.labels)), dev.labels, dev.groups))


def fold_scores(dev: DevSet, test: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Per-image and per-place (views combined) accuracy and macro F1, and per-city image F1, of one fold."""
    from core.inference.prediction import combine_views
    from core.scores import macro_f1, per_class_f1

    classes = len(dev.classes)
    y, pred = dev.labels[test], probs.argmax(axis=1)
    out = {"img_acc": float((pred == y).mean()), "img_f1": macro_f1(y, pred, classes)}
    per_city, _ = per_class_f1(y, pred, classes)
    out.update({f"f1_{c.slug}": float(f) for c, f in zip(dev.classes, per_city)})
    place_true, place_pred = [], []
    for g in np.unique(dev.groups[test]):
        members = dev.groups[test] == g
        place_true.append(int(np.bincount(y[members]).argmax()))
        place_pred.append(int(combine_views(probs[members]).argmax()))
    place_true, place_pred = np.array(place_true), np.array(place_pred)
    out["place_acc"] = float((place_true == place_pred).mean())
    out["place_f1"] = macro_f1(place_true, place_pred, classes)
    return out


@dataclass(frozen=True)
class ProbeRecipe:
    """A probe on some views of one or more feature sets (views from several sets are averaged together)."""

    name: str
    views: tuple[tuple[str, tuple[int, ...]], ...]  # (feature set, view indices) pairs
    class_balance: str = "weighted"
    views_as_samples: bool = False
    power: float = 1.0       # features ** power per view before averaging (0.5: "signed sqrt" normalisation)
    concat: bool = False     # concatenate the views (keeps where in the frame a feature was) instead of averaging
    fused: bool = False      # one probe per feature set, probabilities fused as EnsembleProbeNet does
    holdout_val: bool = False  # fit on 3/4 of the training places (a project's train split, val held out)
    refit: bool = False      # with holdout_val: then refit on all training places (train + val), as train does


PROBES = (
    ProbeRecipe("probe 224 (issue baseline), no balance", (("224", (0,)),), class_balance="none"),
    ProbeRecipe("probe 224", (("224", (0,)),)),
    ProbeRecipe("probe 224 +flip", (("224", (0, 1)),)),
    ProbeRecipe("probe 288", (("288", (0,)),)),
    ProbeRecipe("probe 320", (("320", (0,)),)),
    ProbeRecipe("probe 320 +flip", (("320", (0, 1)),)),
    ProbeRecipe("probe 320, no balance", (("320", (0,)),), class_balance="none"),
    ProbeRecipe("probe 384", (("384", (0,)),)),
    ProbeRecipe("probe 224 multi-crop (full+flip+5 crops)", (("224", (0, 1)), ("224-crops", (0, 1, 2, 3, 4)))),
    ProbeRecipe("probe 224 +flip, sqrt features", (("224", (0, 1)),), power=0.5),
    ProbeRecipe("probe 224 +flip, views as samples", (("224", (0, 1)),), views_as_samples=True),
    ProbeRecipe("probe 224 full+4 corners concatenated", (("224", (0,)), ("224-crops", (0, 1, 2, 3))), concat=True),
    ProbeRecipe("probe 224 multi-crop, sqrt features", (("224", (0, 1)), ("224-crops", (0, 1, 2, 3, 4))), power=0.5),
    ProbeRecipe("probe 320 multi-crop (full+flip+5 crops)", (("320", (0, 1)), ("320-crops", (0, 1, 2, 3, 4)))),
    ProbeRecipe("probe 320 multi-crop, no balance", (("320", (0, 1)), ("320-crops", (0, 1, 2, 3, 4))),
                class_balance="none"),
    ProbeRecipe("probe 320 lite1", (("320-lite1", (0,)),)),
    ProbeRecipe("probe 320 lite2", (("320-lite2", (0,)),)),
    ProbeRecipe("probe 320 colour statistics", (("320-colour", (0,)),)),
    ProbeRecipe("fused probes lite0 + colour", (("320", (0,)), ("320-colour", (0,))), fused=True),
    ProbeRecipe("fused probes lite0 + lite1 + lite2", (("320", (0,)), ("320-lite1", (0,)), ("320-lite2", (0,))),
                fused=True),
    ProbeRecipe("fused probes lite0 + lite1 + lite2 + colour (default)",
                (("320", (0,)), ("320-lite1", (0,)), ("320-lite2", (0,)), ("320-colour", (0,))), fused=True),
    ProbeRecipe("default, held-out val, no refit (train --no-refit)",
                (("320", (0,)), ("320-lite1", (0,)), ("320-lite2", (0,)), ("320-colour", (0,))), fused=True,
                holdout_val=True),
    ProbeRecipe("default, held-out val, refit on train + val (train)",
                (("320", (0,)), ("320-lite1", (0,)), ("320-lite2", (0,)), ("320-colour", (0,))), fused=True,
                holdout_val=True, refit=True),
)


def val_holdout(dev: DevSet, train: np.ndarray) -> np.ndarray:
    """The quarter of `train`'s places a project split would put in val (grouped, stratified by city)."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=0)
    fit, _ = next(splitter.split(np.zeros(len(train)), dev.labels[train], dev.groups[train]))
    return train[fit]


def run_probe(recipe: ProbeRecipe, dev: DevSet, folds, feature_sets: dict[str, np.ndarray]) -> tuple[list[dict], float, str]:
    """Scores per fold, seconds for all folds, and the C chosen per fold."""
    from core.training.probe import fit_probe, fuse_probabilities, refit_probe

    views = [feature_sets[name][:, list(idx)] for name, idx in recipe.views]
    if recipe.fused:
        parts = views  # one probe per feature set
    else:
        x = np.concatenate(views, axis=1)
        x = np.sign(x) * np.abs(x) ** recipe.power
        parts = [x.reshape(len(x), 1, -1) if recipe.concat else x]
    start = time.perf_counter()
    results, chosen = [], []
    for train, test in folds:
        probs, cs = [], []
        fit = val_holdout(dev, train) if recipe.holdout_val else train
        for x in parts:
            probe = fit_probe(x[fit], dev.labels[fit], dev.groups[fit], len(dev.classes),
                              class_balance=recipe.class_balance, views_as_samples=recipe.views_as_samples)
            if recipe.refit:
                probe = refit_probe(x[train], dev.labels[train], dev.groups[train], len(dev.classes),
                                    recipe.class_balance, recipe.views_as_samples)
            probs.append(probe.probabilities(x[test].mean(axis=1)))
            cs.append(f"{probe.C:g}")
        chosen.append("/".join(cs))
        results.append(fold_scores(dev, test, fuse_probabilities(probs)))
    return results, time.perf_counter() - start, ",".join(chosen)


@dataclass(frozen=True)
class FineTuneRecipe:
    """A real `train()` run per fold (efficientnet-lite0, blocks 11-15 + head, cached block-10 features)."""

    name: str
    settings: tuple[tuple[str, object], ...]  # TrainConfig overrides


FINETUNES = (
    FineTuneRecipe("fine-tune AdamW 1e-3, weighted", (("class_balance", "weighted"),)),
    FineTuneRecipe("fine-tune AdamW 1e-3, sampler", (("class_balance", "sampler"),)),
    FineTuneRecipe("fine-tune AdamW 1e-3, no balance", (("class_balance", "none"),)),
)


def run_finetune(recipe: FineTuneRecipe, dev: DevSet, folds, data: Path, args: argparse.Namespace) -> tuple[list[dict], float]:
    """Train on 4 folds and score last.pt on the 5th, per fold. The held-out fold is the run's "val" split
    only so the trainer has one: with patience 0 and last.pt scored, nothing is chosen on it."""
    import tempfile

    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project
    from core.evaluation.metrics import evaluate
    from core.inference.prediction import Predictor
    from core.training.trainer import TrainConfig, train

    start = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="geospottr-acc-") as tmp:
        with Project.init(Path(tmp) / "p", [catalog.resolve(q) for q in CITIES]) as project:
            import_source(project, data / "manifest.csv")
            records = list(project.images())
            place_index = {p: i for i, p in enumerate(sorted({r.location_id for r in records}))}
            for _, test in folds:
                held_out = set(np.unique(dev.groups[test]).tolist())
                project.set_splits({r.id: "val" if place_index[r.location_id] in held_out else "train" for r in records})
                cfg = TrainConfig(arch="efficientnet-lite0", head="finetune", weights="imagenet", cache_features=True,
                                  image_size=args.ft_size, epochs=args.ft_epochs, batch_size=32, optimizer="adamw",
                                  lr=1e-3, patience=0, device="cpu", num_workers=0, seed=0, **dict(recipe.settings))
                result = train(project, cfg)
                report = evaluate(project, Predictor.load(result.last_checkpoint), split="val")
                out = {"img_acc": report.scores.accuracy, "img_f1": report.macro["f1"],
                       "place_acc": report.place_scores.accuracy, "place_f1": report.place_scores.macro_f1}
                out.update({f"f1_{c.slug}": c.f1 for c in report.per_city})
                results.append(out)
                print(f"  {recipe.name} fold {len(results)}: image F1 {out['img_f1']:.3f} place F1 "
                      f"{out['place_f1']:.3f} ({time.perf_counter() - start:.0f}s)", flush=True)
    return results, time.perf_counter() - start


def block10_maps(dev: DevSet, cache_dir: Path, size: int = 320) -> np.ndarray:
    """(N, 2, 112, S/16, S/16) fp16 EfficientNet-Lite0 block-10 maps of each frame and its mirror (cached)."""
    import torch

    from core.models.efficientnet_lite import build_efficientnet_lite0
    from core.models.probe import crop_view
    from core.training.transforms import eval_transform, load_for_model

    path = cache_dir / f"lite0_in{INPUT_SIZE}_{size}_block10.npy"
    if path.is_file():
        return np.load(path)
    net = build_efficientnet_lite0(len(dev.classes), weights="imagenet").eval()
    transform = eval_transform(INPUT_SIZE, (0.5,) * 3, (0.5,) * 3)
    out = []
    with torch.no_grad():
        for start in range(0, len(dev.paths), 16):
            batch = torch.stack([load_for_model(p, INPUT_SIZE, transform) for p in dev.paths[start:start + 16]])
            view = crop_view(batch, "full", 1.0, size)
            out.append(torch.stack([net.frozen(view), net.frozen(torch.flip(view, dims=(-1,)))], 1).half().numpy())
    maps = np.concatenate(out)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, maps)
    return maps


def run_probe_finetune(dev: DevSet, folds, feature_sets: dict[str, np.ndarray], maps: np.ndarray,
                       epochs: int = 5) -> tuple[list[dict], float]:
    """Probe-then-fine-tune: Lite0's blocks 11-15 + head, the classifier initialised from the fitted 320 px
    probe, AdamW (blocks 1e-4, classifier 3e-4, one-cycle), label smoothing 0.1, weighted classes, EMA 0.9
    of the weights (scored), a random mirror per image per epoch; batch norm keeps ImageNet statistics."""
    import copy

    import torch
    import torch.nn.functional as F
    from torch import nn

    from core.models.efficientnet_lite import build_efficientnet_lite0
    from core.training.balance import balance_weights
    from core.training.probe import copy_probe_into, fit_probe

    start = time.perf_counter()
    base = build_efficientnet_lite0(len(dev.classes), weights="imagenet")
    feats, maps_t, labels = feature_sets["320"][:, :1], torch.from_numpy(maps), torch.from_numpy(dev.labels)
    results = []
    for number, (train, test) in enumerate(folds):
        torch.manual_seed(number)
        head = copy.deepcopy(base.head)
        linear = head.classifier[3]
        copy_probe_into(linear, fit_probe(feats[train], dev.labels[train], dev.groups[train], len(dev.classes)))
        groups = [{"params": [q for n, q in head.named_parameters() if not n.startswith("classifier")], "lr": 1e-4},
                  {"params": linear.parameters(), "lr": 3e-4}]
        optimizer = torch.optim.AdamW(groups, weight_decay=0.05)
        steps = epochs * ((len(train) + 31) // 32)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[1e-4, 3e-4], total_steps=steps, pct_start=0.15)
        class_weights = torch.from_numpy(balance_weights(dev.labels[train], len(dev.classes))).float()
        ema = copy.deepcopy(head)
        for _ in range(epochs):
            head.train()
            for m in head.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
            order = torch.from_numpy(train)[torch.randperm(len(train))]
            for at in range(0, len(order), 32):
                idx = order[at:at + 32]
                x = maps_t[idx, torch.randint(0, 2, (len(idx),))].float()
                loss = F.cross_entropy(head(x), labels[idx], weight=class_weights, label_smoothing=0.1)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                with torch.no_grad():
                    for kept, live in zip(ema.parameters(), head.parameters()):
                        kept.mul_(0.9).add_(live, alpha=0.1)
        ema.eval()
        with torch.no_grad():
            probs = F.softmax(ema(maps_t[torch.from_numpy(test), 0].float()), dim=1).numpy()
        results.append(fold_scores(dev, test, probs))
        print(f"  probe-then-fine-tune fold {number + 1}: image F1 {results[-1]['img_f1']:.3f} "
              f"({time.perf_counter() - start:.0f}s)", flush=True)
    return results, time.perf_counter() - start


def mean_std(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"


def print_row(name: str, results: list[dict], seconds: float, note: str, dev: DevSet) -> None:
    cols = [mean_std([r[k] for r in results]) for k in ("img_acc", "img_f1", "place_acc", "place_f1")]
    cities = " ".join(f"{c.slug[:6]} {statistics.fmean(r[f'f1_{c.slug}'] for r in results):.2f}" for c in dev.classes)
    print(f"| {name} | " + " | ".join(cols) + f" | {cities} | {seconds:.0f} s | {note} |", flush=True)


def print_header() -> None:
    print("\n| recipe | image acc | image macro F1 | place acc | place macro F1 | per-city image F1 | wall | note |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)


def selects(selector: str, name: str) -> bool:
    """``=NAME`` selects exactly that recipe, anything else every recipe whose name contains it."""
    return name == selector[1:] if selector.startswith("=") else selector in name


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "geospottr-bench")
    ap.add_argument("--extract-only", action="store_true", help="only build the feature caches")
    ap.add_argument("--finetune", action="store_true", help="also run the fine-tuning recipes (slow)")
    ap.add_argument("--probe-finetune", action="store_true",
                    help="also run probe-then-fine-tune on cached 320 px block-10 maps (minutes per fold)")
    ap.add_argument("--ft-epochs", type=int, default=6)
    ap.add_argument("--ft-size", type=int, default=224)
    ap.add_argument("--fold-seeds", default="0",
                    help="comma-separated seeds of the fold assignment; with several, the CV is repeated once per seed "
                         "and mean ± std run over all their folds (less noise from one lucky split; default 0)")
    ap.add_argument("--recipes", help="';'-separated substrings of the recipe names to run, =NAME for exactly one (default: all)")
    args = ap.parse_args()
    if not (args.data / "manifest.csv").is_file():
        print(f"SKIP: {args.data} is absent (the gsv-croatia photos ship only with the development machines)")
        return 0
    import torch

    torch.set_num_threads(args.threads)
    print("command: " + shlex.join([sys.executable, *sys.argv]), flush=True)
    dev = load_dev_set(args.data)
    selectors = [sel.strip() for sel in (args.recipes or "").split(";") if sel.strip()]
    wanted = [r for r in PROBES if not selectors or any(selects(sel, r.name) for sel in selectors)]
    needed = list(FEATURE_SETS) if args.extract_only else sorted({n for r in wanted for n, _ in r.views})
    feature_sets, extraction = {}, {}
    for name in needed:
        feature_sets[name], extraction[name] = view_features(dev, args.cache_dir, name)
        print(f"features {name}: {feature_sets[name].shape} ({extraction[name]:.0f}s extraction)", flush=True)
    if args.extract_only:
        return 0
    folds = [fold for seed in args.fold_seeds.split(",") for fold in make_folds(dev, seed=int(seed))]
    print(f"{len(dev.paths)} photos, {len(set(dev.groups.tolist()))} places, cities "
          + ", ".join(f"{c.slug} {int((dev.labels == i).sum())}" for i, c in enumerate(dev.classes))
          + f"; {K} folds per fold seed ({args.fold_seeds}) of " + "/".join(str(len(t)) for _, t in folds)
          + " test images")
    print_header()
    for recipe in wanted:
        results, seconds, chosen = run_probe(recipe, dev, folds, feature_sets)
        print_row(recipe.name, results, seconds, f"C per fold {chosen}", dev)
    if args.probe_finetune:
        feature_sets.setdefault("320", view_features(dev, args.cache_dir, "320")[0])
        results, seconds = run_probe_finetune(dev, folds, feature_sets, block10_maps(dev, args.cache_dir))
        print_row("probe-then-fine-tune (Lite0 blocks 11-15, EMA, label smoothing)", results, seconds,
                  "5 epochs at 320 px, cached block-10 maps", dev)
    if args.finetune:
        for ft in FINETUNES:
            if selectors and not any(selects(sel, ft.name) for sel in selectors):
                continue
            results, seconds = run_finetune(ft, dev, folds, args.data, args)
            print_row(ft.name, results, seconds, f"{args.ft_epochs} epochs at {args.ft_size} px, last.pt", dev)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
