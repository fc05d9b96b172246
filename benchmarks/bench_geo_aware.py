"""Geo-aware accuracy on real Street View photos: plain cross-entropy vs haversine (geo) label smoothing,
scored on the held-out TEST split per image and per place (the views of a place combined), over seeds.

    .venv/bin/python benchmarks/bench_geo_aware.py [--seeds 5] [--epochs 30] [--size 160] [--threads 2]
        [--split-seed 0] [--vary-split] [--data ../shared/data/gsv-croatia] [--keep]

Builds a fresh project in a temp folder (outside the repository): Zagreb, Osijek, Rijeka and Split (HR),
the gsv-croatia CSV imported with nearest-city labels, split 60/20/20 by location (the four headings of a
place stay together). By default one split (``--split-seed``) serves every run; ``--vary-split`` gives
training seed i the split ``split-seed + i``, so the test places change too (with ~19 test places per
split, one split says little). For each seed, trains efficientnet-lite0 (offline ImageNet weights, cached
features, AdamW 1e-3, no early stop) with and without ``geo_smoothing`` on the same split, and evaluates
each run's ``best.pt`` (best val accuracy) with `core.evaluation.metrics.evaluate` on the test split. Prints each
run and a table of mean, std and min-max over seeds, the paired difference (geo - plain) and on how many
seeds geo smoothing did better. Asserts nothing. Skips (exit 0) when ``../shared`` is absent.
About 65 s per run at the defaults on 2 CPU cores (the feature cache is built once per split).

`bench_training.py --geo` is the quick val-only version of this comparison on an existing project.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_training import runs_tau  # noqa: E402  (same folder; benchmarks are run as scripts)

CITIES = ("Zagreb,HR", "Osijek,HR", "Rijeka,HR", "Split,HR")
DEFAULT_DATA = REPO.parent / "shared" / "data" / "gsv-croatia"
SETTINGS = (("plain CE", False), ("geo smoothing", True))

#: (label, how to read it from a run's figures, format); higher is better except for km.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("image accuracy", "img_acc", "{:.3f}"),
    ("image macro F1", "img_f1", "{:.3f}"),
    ("image median km", "img_km", "{:.0f}"),
    ("image mean points", "img_points", "{:.0f}"),
    ("place accuracy", "place_acc", "{:.3f}"),
    ("place macro F1", "place_f1", "{:.3f}"),
    ("place median km", "place_km", "{:.0f}"),
    ("place mean points", "place_points", "{:.0f}"),
)


def build_project(root: Path, data: Path):
    """A fresh project of the four cities with the gsv-croatia photos imported (nearest-city labels)."""
    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project

    project = Project.init(root / "gsv-croatia", [catalog.resolve(q) for q in CITIES])
    print(f"project {project.root}: import {import_source(project, data / 'manifest.csv').summary()}")
    return project


def resplit(project, seed: int) -> None:
    """Persist the location-grouped 60/20/20 split of `seed` and say what each split holds."""
    from core.data.splitting import split_project

    counts = split_project(project, seed=seed, group_by="location")
    places = {s: len({r.location_id for r in project.images(split=s)}) for s in counts}
    test = counts["test"]
    print(f"split seed {seed}: " + ", ".join(f"{s} {sum(c.values())} images / {places[s]} places"
                                            for s, c in counts.items())
          + f"; always guessing the commonest test city would score {max(test.values()) / sum(test.values()):.3f}",
          flush=True)


def run_one(project, seed: int, geo: bool, args: argparse.Namespace) -> dict[str, float]:
    """Train one model and score its best checkpoint on the test split."""
    from sklearn.metrics import f1_score

    from core.evaluation.metrics import evaluate
    from core.inference.prediction import Predictor
    from core.training.trainer import TrainConfig, train

    start = time.perf_counter()
    result = train(project, TrainConfig(arch="efficientnet-lite0", head="finetune", weights="imagenet", cache_features=True,
                                        image_size=args.size, epochs=args.epochs, batch_size=32, optimizer="adamw",
                                        lr=1e-3, patience=0, geo_smoothing=geo, num_workers=1, device="cpu",
                                        seed=seed))
    report = evaluate(project, Predictor.load(result.best_checkpoint), split="test")
    places = report.places
    place_f1 = f1_score([p.true_city for p in places], [p.predicted_city for p in places], labels=report.classes,
                        average="macro", zero_division=0)
    s, ps = report.scores, report.place_scores
    out = {"img_acc": s.accuracy, "img_f1": report.macro["f1"], "img_km": s.median_km, "img_points": s.mean_points,
           "place_acc": ps.accuracy, "place_f1": float(place_f1), "place_km": ps.median_km,
           "place_points": ps.mean_points}
    print(f"  seed {seed} {'geo' if geo else 'plain':<5} tau {runs_tau(result.run_dir):<8} best val acc "
          f"{result.best_val_acc:.3f}  test: image acc {s.accuracy:.3f} F1 {out['img_f1']:.3f} "
          f"median {s.median_km:.0f} km points {s.mean_points:.0f} | place ({ps.count}) acc {ps.accuracy:.3f} "
          f"F1 {place_f1:.3f} median {ps.median_km:.0f} km points {ps.mean_points:.0f}  "
          f"({time.perf_counter() - start:.0f}s, {report.scores.count} test images)", flush=True)
    return out


def summary(values: list[float], fmt: str) -> str:
    """``mean ± std [min-max]`` (std is the sample std; 0 for one value)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    f: Callable[[float], str] = fmt.format
    return f"{f(statistics.fmean(values))} ± {f(std)} [{f(min(values))}-{f(max(values))}]"


def signed(value: float, fmt: str) -> str:
    """`value` with an explicit sign; a difference that rounds to zero prints as +0, never -0."""
    text = fmt.format(abs(value))
    return ("-" if value < 0 and text.strip("0.") else "+") + text


def print_table(results: dict[bool, list[dict[str, float]]]) -> None:
    plain, geo = results[False], results[True]
    width = 30
    print(f"\n{f'TEST split, {len(plain)} seeds':<20}" + "".join(f"{name:>{width}}" for name, _ in SETTINGS)
          + f"{'geo - plain (mean)':>20}{'geo better':>14}")
    for label, key, fmt in METRICS:
        diffs = [g[key] - p[key] for p, g in zip(plain, geo)]
        lower_better = key.endswith("_km")
        wins = sum((d < 0) if lower_better else (d > 0) for d in diffs)
        ties = sum(d == 0 for d in diffs)
        print(f"{label:<20}{summary([r[key] for r in plain], fmt):>{width}}{summary([r[key] for r in geo], fmt):>{width}}"
              f"{signed(statistics.fmean(diffs), fmt):>20}"
              f"{f'{wins}/{len(diffs)}' + (f' ({ties} tie)' if ties else ''):>14}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the gsv-croatia folder (manifest.csv + images/)")
    ap.add_argument("--seeds", type=int, default=5, help="training seeds 0..N-1 per setting")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--size", type=int, default=160, help="image size (px)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--split-seed", type=int, default=0, help="the location-grouped split every run uses")
    ap.add_argument("--vary-split", action="store_true",
                    help="training seed i uses split seed SPLIT_SEED+i (both settings still share each split)")
    ap.add_argument("--keep", action="store_true", help="keep the temp project (its runs and reports) afterwards")
    args = ap.parse_args()
    if not (args.data / "manifest.csv").is_file():
        print(f"SKIP: {args.data} is absent (the gsv-croatia photos ship only with the development machines)")
        return 0

    import torch

    torch.set_num_threads(args.threads)
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    print(f"settings: efficientnet-lite0, ImageNet weights (offline), cached features, {args.size}px, {args.epochs} "
          f"epochs, batch 32, AdamW lr 1e-3 cosine, no early stop, best.pt by val accuracy; training seeds "
          f"0..{args.seeds - 1}, 60/20/20 split by location, "
          + (f"split seed {args.split_seed}+i for training seed i" if args.vary_split else f"split seed {args.split_seed} fixed")
          + f"; torch {torch.__version__}, "
          f"{args.threads} threads; geo smoothing tau = default (median nearest-city distance / 3)")
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="geospottr-geo-bench-"))
    try:
        with build_project(tmp, args.data) as project:
            results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
            for seed in range(args.seeds):
                if seed == 0 or args.vary_split:
                    resplit(project, args.split_seed + seed if args.vary_split else args.split_seed)
                for _, geo in SETTINGS:
                    results[geo].append(run_one(project, seed, geo, args))
        print_table(results)
        print(f"\ntotal {time.perf_counter() - started:.0f}s wall")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
