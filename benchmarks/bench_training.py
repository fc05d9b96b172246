"""Training speed on this machine: images/s per model, the cached-features speedup, peak memory, and the
seed-style loop against ours at equal work. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_training.py [--size 224] [--batch 16] [--iters 3] [--threads 2]
    .venv/bin/python benchmarks/bench_training.py --geo PROJECT_DIR [--geo-epochs 8] [--geo-seeds 3] [--size 128]

``--geo`` instead trains efficientnet-lite0 (offline ImageNet weights, cached features) on a real project
with and without haversine label smoothing and prints val accuracy, macro F1 and the mean distance from
the predicted city to the photo's true location (val split, one quick look; `bench_geo_aware.py` is the
benchmark: test split, per image and per place, over seeds).

Each model runs in its own subprocess so its peak RSS is its own. Throughputs are measured on random
batches (decoding excluded; see the data loader figure for that). "Equal work" compares, for N training
images and E epochs, the seed's loop (full forward+backward every epoch plus an extra full inference pass
over the training set to compute accuracy) with ours (frozen stages once into the cache, then E epochs of
head-only training, accuracy taken from the training pass itself).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = ["geospottr", "geospottr-map", "resnet50-linear", "efficientnet-lite0", "baseline"]


def _rate(fn, batch: int, iters: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return batch * iters / (time.perf_counter() - start)


def measure(arch: str, size: int, batch: int, iters: int, threads: int) -> dict:
    import torch
    import torch.nn.functional as F

    from core.models import registry
    from core.models.backbones import FrozenTrunkNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = registry.build(arch, 4, weights="none").train()
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 4, (batch,))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)

    def step(net, inp):
        opt.zero_grad()
        F.cross_entropy(net(inp), y).backward()
        opt.step()

    out = {"arch": arch, "trainable_m": sum(p.numel() for p in params) / 1e6,
           "train_ips": _rate(lambda: step(model, x), batch, iters)}
    with torch.no_grad():
        out["infer_ips"] = _rate(lambda: model.eval()(x), batch, iters)
        if isinstance(model, FrozenTrunkNet):
            feats = model.frozen(x)
            out["trunk_ips"] = _rate(lambda: model.frozen(x), batch, iters)
    if isinstance(model, FrozenTrunkNet):
        model.train()
        out["head_train_ips"] = _rate(lambda: step(model.head, feats), batch, iters)
        out["feature_kb"] = feats[0].numel() * 2 / 1024
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def bench_loader(size: int, workers: int) -> float:
    """Images/s of decode + augment from real JPEGs (gsv-croatia when present, else generated 640x640)."""
    import numpy as np
    from PIL import Image
    from torch.utils.data import DataLoader

    from core.models.bundle import IMAGENET_MEAN, IMAGENET_STD
    from core.training.data import ImageDataset, Sample
    from core.training.transforms import train_transform

    shared = REPO.parent / "shared" / "data" / "gsv-croatia" / "images"
    paths = sorted(shared.glob("*.jpg"))[:96]
    if not paths:
        tmp = Path("/tmp/geospottr-bench-jpegs")
        tmp.mkdir(exist_ok=True)
        for i in range(48):
            p = tmp / f"{i}.jpg"
            if not p.exists():
                Image.fromarray(np.random.default_rng(i).integers(0, 255, (640, 640, 3), dtype=np.uint8)).save(p)
            paths.append(p)
    ds = ImageDataset([Sample(str(p), 0, None, None) for p in paths], size, train_transform(size, IMAGENET_MEAN, IMAGENET_STD))
    start = time.perf_counter()
    n = sum(len(b[1]) for b in DataLoader(ds, batch_size=16, num_workers=workers))
    return n / (time.perf_counter() - start)


def geo_comparison(project_dir: Path, size: int, epochs: int, threads: int, seeds: int) -> None:
    import torch
    from sklearn.metrics import accuracy_score, f1_score

    from core.data.project import Project
    from core.geo import haversine_km
    from core.models.bundle import load_bundle
    from core.training.data import split_samples
    from core.training.trainer import TrainConfig, train
    from core.training.transforms import eval_transform, load_for_model

    torch.set_num_threads(threads)
    with Project.open(project_dir) as project:
        print(f"geo smoothing on {project_dir}: efficientnet-lite0, imagenet weights, cached features, {size}px, "
              f"{epochs} epochs, AdamW 1e-3")
        for geo, seed in [(g, s) for s in range(seeds) for g in (False, True)]:
            start = time.perf_counter()
            result = train(project, TrainConfig(arch="efficientnet-lite0", head="finetune", weights="imagenet", cache_features=True,
                                                image_size=size, epochs=epochs, optimizer="adamw", lr=1e-3,
                                                patience=0, geo_smoothing=geo, num_workers=1, seed=seed))
            model, meta = load_bundle(result.best_checkpoint)
            samples = split_samples(project, "val", meta.classes)
            transform = eval_transform(meta)
            with torch.no_grad():
                preds = [model(load_for_model(s.path, size, transform)[None]).argmax(1).item() for s in samples]
            labels = [s.label for s in samples]
            km = [haversine_km(s.lat, s.lon, meta.classes[p].lat, meta.classes[p].lon) for s, p in zip(samples, preds)
                  if s.lat is not None]
            tau = runs_tau(result.run_dir)
            print(f"  seed {seed} geo_smoothing={geo!s:<5} tau={tau}  val acc {accuracy_score(labels, preds):.3f}  "
                  f"macro F1 {f1_score(labels, preds, average='macro'):.3f}  mean error {sum(km) / len(km):.0f} km  "
                  f"({time.perf_counter() - start:.0f}s, run {result.run_id})")


def runs_tau(run_dir: str) -> str:
    from core.training.runs import CONFIG, read_json

    tau = read_json(Path(run_dir) / CONFIG).get("geo_tau_km")
    return f"{tau} km" if tau else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--images", type=int, default=1000, help="N for the equal-work comparison")
    ap.add_argument("--epochs", type=int, default=10, help="E for the equal-work comparison")
    ap.add_argument("--geo", type=Path, metavar="PROJECT", help="compare geo smoothing on a real project instead")
    ap.add_argument("--geo-epochs", type=int, default=8)
    ap.add_argument("--geo-seeds", type=int, default=3)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one model and print JSON
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.size, args.batch, args.iters, args.threads)))
        return
    if args.geo:
        geo_comparison(args.geo, args.size, args.geo_epochs, args.threads, args.geo_seeds)
        return

    import torch
    print(f"torch {torch.__version__}, {args.threads} threads, {args.size}px, batch {args.batch}, {args.iters} timed iterations")
    rows = []
    for arch in args.models.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", arch, "--size", str(args.size), "--batch",
                              str(args.batch), "--iters", str(args.iters), "--threads", str(args.threads)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"\n{'model':<20}{'trainable M':>12}{'train img/s':>13}{'infer img/s':>13}{'head-only img/s':>17}{'speedup':>9}{'peak RSS MB':>13}")
    for r in rows:
        head = r.get("head_train_ips")
        speed = f"{head / r['train_ips']:.1f}x" if head else "-"
        print(f"{r['arch']:<20}{r['trainable_m']:>12.1f}{r['train_ips']:>13.1f}{r['infer_ips']:>13.1f}"
              f"{(f'{head:.1f}' if head else '-'):>17}{speed:>9}{r['peak_rss_mb']:>13.0f}")
    n, e = args.images, args.epochs
    print(f"\nequal work: N={n} training images, E={e} epochs (seconds of compute, decoding excluded)")
    for r in rows:
        seed = e * (n / r["train_ips"] + n / r["infer_ips"])
        ours_full = e * n / r["train_ips"]
        line = f"  {r['arch']:<20} seed-style {seed:8.0f}s   ours (no cache) {ours_full:8.0f}s"
        if r.get("head_train_ips"):
            cached = n / r["trunk_ips"] + e * n / r["head_train_ips"]
            line += f"   ours (cached features) {cached:8.0f}s  = {seed / cached:.1f}x faster than seed-style, " \
                    f"cache {r['feature_kb'] * n / 1024:.0f} MB"
        print(line)
    for workers in (0, 2):
        print(f"\ndata loader (decode with JPEG draft + augment, {workers} workers): {bench_loader(args.size, workers):.0f} img/s")


if __name__ == "__main__":
    main()
