"""Batch prediction throughput per photo, PyTorch and ONNX Runtime, and where the time goes (issue 25).

    .venv/bin/python benchmarks/bench_batch.py [--photos 48] [--cpus 1] [--arch efficientnet-lite-ensemble-probe]

`predict_many` over ``--photos`` photos of the development set (``../shared/data/gsv-croatia``; generated
640 px photos without it), batches of 16 as `geospottr predict` reads them, in two ways: the engines as
they are (on the CPU each batch goes through the model `cpu_chunk` photos at a time,
`core.inference.base.CPU_FORWARD_PIXELS`) and with the whole batch in one forward pass (what they did
before). Prints CPU and wall time per photo, the steps of one photo (decode, preprocessing, forward) and
how far the predictions of the four runs are from each other (top-1 agreement, largest probability
difference). ``--cpus 1`` pins the process to one CPU (``sched_setaffinity``: torch and ONNX Runtime then
use one thread each), so the CPU time is what one idle core takes, the steady figure on a shared machine.
The model carries its real ImageNet backbones with seeded random heads (`bench_predict._table_bundle`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402


def _photos(root: Path, count: int) -> list[Path]:
    from bench_predict import PHOTOS, _photo

    if (PHOTOS / "images").is_dir():
        return sorted((PHOTOS / "images").glob("*.jpg"))[:count]
    return [_photo(root / f"{i}.jpg", i) for i in range(count)]


def _timed(predictor, photos, chunk: int | None) -> tuple[float, float, np.ndarray]:
    """CPU and wall ms per photo of `predict_many` (batches of 16), and the probabilities."""
    if chunk is not None:  # the old way: the whole batch in one forward pass
        type(predictor).cpu_chunk = property(lambda self: chunk)
    try:
        list(predictor.predict_many(photos[:2]))  # warm-up: first calls allocate, oneDNN sets up shapes
        cpu, wall = time.process_time(), time.perf_counter()
        results = list(predictor.predict_many(photos, batch_size=16))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        if chunk is not None:
            del type(predictor).cpu_chunk  # back to PredictorBase's
    probs = np.array([r.probabilities for r in results])
    return cpu / len(photos) * 1000, wall / len(photos) * 1000, probs


def _steps(predictor, photo: Path, repeats: int = 10) -> dict[str, float]:
    """CPU ms of one photo's decode, preprocessing and forward pass (medians)."""
    from core.models.preprocessing import eval_array

    m = predictor.meta

    def ms(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            start = time.process_time()
            fn()
            times.append((time.process_time() - start) * 1000)
        return float(np.median(times))

    img = predictor.open(photo)
    return {"decode": ms(lambda: predictor.open(photo)),
            "preprocess": ms(lambda: eval_array(img, m.image_size, m.mean, m.std, m.crop_bottom)),
            "forward + softmax": ms(lambda: predictor.probabilities([img])) - ms(lambda: predictor.batch([img]))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="efficientnet-lite-ensemble-probe")
    ap.add_argument("--photos", type=int, default=48)
    ap.add_argument("--cpus", type=int, default=1, help="pin to this many CPUs (0: all)")
    args = ap.parse_args()
    if args.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.cpus])
    import torch
    from bench_predict import _table_bundle

    from core.inference.onnx_engine import OnnxPredictor
    from core.inference.onnx_export import export_onnx
    from core.inference.prediction import Predictor

    load = os.getloadavg()
    rows, probs, steps = [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        photos = _photos(root, args.photos)
        bundle = _table_bundle(root, args.arch)
        onnx_file = export_onnx(bundle, root / "model.onnx")
        for engine, predictor in (("PyTorch", Predictor.load(bundle, device="cpu")), ("ONNX Runtime", OnnxPredictor.load(onnx_file))):
            steps[engine] = _steps(predictor, photos[0])
            for label, chunk in ((f"{predictor.cpu_chunk} photo(s) per forward (now)", None),
                                 ("16 photos per forward (before)", 16)):
                cpu, wall, p = _timed(predictor, photos, chunk)
                rows.append((engine, label, cpu, wall))
                probs[(engine, label)] = p
    threads = torch.get_num_threads()
    print(f"{args.arch}, {len(photos)} photos, {len(os.sched_getaffinity(0))} CPU(s) (torch threads {threads}); "
          f"load average {load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at the end")
    print("| engine | forward passes | CPU per photo | wall per photo |")
    print("| --- | --- | --- | --- |")
    for engine, label, cpu, wall in rows:
        print(f"| {engine} | {label} | {cpu:.0f} ms | {wall:.0f} ms |")
    for engine, parts in steps.items():
        print(f"one photo, {engine}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in parts.items()) + " CPU")
    keys = list(probs)
    base = probs[keys[0]]
    for key in keys[1:]:
        other = probs[key]
        agree = float(np.mean(base.argmax(1) == other.argmax(1)))
        print(f"vs {keys[0][0]}, {keys[0][1]}: {key[0]}, {key[1]}: top-1 identical on {agree:.1%}, "
              f"largest probability difference {np.abs(base - other).max():.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
