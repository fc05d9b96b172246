"""Explaining a guess: time of one heat map (Grad-CAM, occlusion), and the shortcut check on real photos.

    .venv/bin/python benchmarks/bench_explain.py [--arch efficientnet-lite0] [--image-size 224] [--threads 2]
        [--model FILE] [--dev [--epochs 30] [--crop-bottom F] [--overlays DIR]] [--data ../shared/data/gsv-croatia]

Timing (always): `Predictor.explain` on a 640x640 JPEG file, exactly the app's and `predict --explain`'s
path (full decode, preprocessing, forward + partial backward, map stretched to the photo), median of
`--repeats` after one warm-up, wall and CPU time, for Grad-CAM and for the occlusion fallback; then the
batched path `check_shortcuts` uses, per photo. The model is `--model FILE` or the architecture with its
ImageNet weights (efficientnet-lite0's ship with GeoSpottr) and a fresh head. Goal: one photo under 1 s
on CPU for efficientnet-lite0 at 224.

`--dev`: a fresh project in a temp folder with the development Street View photos (Zagreb, Osijek,
Rijeka, Split; the CSV imported with nearest-city labels; split 60/20/20 by location), trains
efficientnet-lite0 with cached features (AdamW 1e-3, `--epochs`), evaluates it on test and runs the
shortcut check on test; `--overlays DIR` also writes the overlay PNG of every test photo there (look at
them). Prints the figures; asserts nothing. Skips (exit 0) when ``../shared`` is absent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core.imaging import load_image  # noqa: E402
from core.inference.prediction import Predictor  # noqa: E402
from core.models import registry  # noqa: E402
from core.models.bundle import BundleMeta, ClassInfo, save_bundle  # noqa: E402

CITIES = ("Zagreb,HR", "Osijek,HR", "Rijeka,HR", "Split,HR")
DEFAULT_DATA = REPO.parent / "shared" / "data" / "gsv-croatia"


def _times(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `fn()` over `repeats` calls, after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def _photo(path: Path, data: Path | None) -> Path:
    """A real development photo when there is one, else a generated 640x640 street-like JPEG."""
    if data is not None and (data / "images").is_dir():
        return next(iter(sorted((data / "images").glob("*.jpg"))))
    rng = np.random.default_rng(0)
    sky = np.linspace(230, 150, 320)[:, None, None] * np.ones((320, 640, 3))
    road = rng.normal(110, 25, (320, 640, 3))
    Image.fromarray(np.clip(np.vstack([sky, road]), 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)
    return path


def timing(args: argparse.Namespace, root: Path) -> None:
    if args.model:
        predictor = Predictor.load(args.model)
    else:
        classes = [ClassInfo(f"c{i}", f"City {i}", "XX", 40.0 + i, 10.0 + i) for i in range(4)]
        model = registry.build(args.arch, len(classes), weights="imagenet")
        spec = registry.spec(args.arch)
        meta = BundleMeta(arch=args.arch, classes=classes, image_size=args.image_size, mean=spec.mean, std=spec.std)
        predictor = Predictor.load(save_bundle(root / "model.pt", model, meta))
    photo = _photo(root / "photo.jpg", args.data if args.data.exists() else None)
    print(f"{predictor.meta.arch} at {predictor.meta.image_size} px, {torch.get_num_threads()} threads, "
          f"photo {load_image(photo).size}, load average {os.getloadavg()[0]:.1f}")
    for method in ("grad-cam", "occlusion"):
        wall, cpu = _times(lambda m=method: predictor.explain(photo, method=m), args.repeats)
        print(f"  explain one photo, {method:<10} {wall * 1000:7.0f} ms wall  {cpu * 1000:7.0f} ms CPU")
    wall, cpu = _times(lambda: predictor.predict(photo), args.repeats)
    print(f"  predict one photo (for scale)   {wall * 1000:7.0f} ms wall  {cpu * 1000:7.0f} ms CPU")
    from core.evaluation.shortcuts import check_shortcuts

    photos = [photo] * 32
    wall, cpu = _times(lambda: check_shortcuts(predictor, photos), max(1, args.repeats // 5))
    print(f"  shortcut check, batched         {wall / len(photos) * 1000:7.0f} ms wall  "
          f"{cpu / len(photos) * 1000:7.0f} ms CPU per photo")


def dev(args: argparse.Namespace, root: Path) -> None:
    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project
    from core.data.splitting import split_project
    from core.evaluation.metrics import evaluate
    from core.evaluation.shortcuts import check_shortcuts, split_sources
    from core.inference.heatmaps import explanation_png
    from core.training.trainer import TrainConfig, train

    if not (args.data / "manifest.csv").exists():
        print(f"skipped: {args.data} is absent")
        return
    with Project.init(root / "hr", [catalog.resolve(q) for q in CITIES]) as project:
        import_source(project, args.data / "manifest.csv")
        split_project(project, seed=0)
        started = time.perf_counter()
        result = train(project, TrainConfig(arch="efficientnet-lite0", weights="imagenet", cache_features=True,
                                            image_size=args.image_size, epochs=args.epochs, batch_size=32,
                                            optimizer="adamw", lr=1e-3, patience=0, num_workers=0, device="cpu",
                                            crop_bottom=args.crop_bottom))
        print(f"trained efficientnet-lite0 at {args.image_size} px (crop_bottom {args.crop_bottom}) in "
              f"{time.perf_counter() - started:.0f} s, best val accuracy {result.best_val_acc:.3f}")
        predictor = Predictor.load(result.best_checkpoint)
        report = evaluate(project, predictor, split="test")
        print(f"test: {report.scores.count} photos, accuracy {report.scores.accuracy:.3f}, "
              f"macro F1 {report.macro['f1']:.3f}")
        sources = split_sources(project, "test")
        started = time.perf_counter()
        shortcuts = check_shortcuts(predictor, sources, split="test")
        print(f"shortcut check: {(time.perf_counter() - started) / len(sources) * 1000:.0f} ms per photo")
        print(shortcuts.format())
        if args.overlays:
            args.overlays.mkdir(parents=True, exist_ok=True)
            for path in sources:
                (args.overlays / f"{Path(path).stem}.explain.png").write_bytes(explanation_png(predictor.explain(path)))
            print(f"wrote {len(sources)} overlays to {args.overlays}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="efficientnet-lite0")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--model", type=Path, help="time this bundle instead")
    ap.add_argument("--dev", action="store_true", help="train on the development photos and check shortcuts")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--crop-bottom", type=float, default=0.0)
    ap.add_argument("--overlays", type=Path, help="with --dev: write every test photo's overlay here")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        timing(args, Path(tmp))
        if args.dev:
            dev(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
