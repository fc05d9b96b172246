"""Prediction speed: bundle load time, single-image latency after load, batch throughput (CPU by default).

    .venv/bin/python benchmarks/bench_predict.py [--arch resnet50-linear] [--threads 2] [--image-size 224]

Builds the architecture with random weights (pretrained files are not needed to time it), saves it as a
real bundle, then times `Predictor.load` and `Predictor.predict` on a 640x640 JPEG file (decode +
orientation + preprocessing + forward, exactly the GUI's path). Goal for ResNet50 at 224 on 2 cores:
single-image latency under 150 ms. On a busy machine (see the load average it prints) OpenMP threads
wait for each other and wall times balloon; the CPU time with ``--threads 1`` is then the honest figure
for one idle core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core.models import registry  # noqa: E402
from core.models.bundle import BundleMeta, ClassInfo, save_bundle  # noqa: E402
from core.prediction import Predictor  # noqa: E402


def _photo(path: Path, seed: int, size: int = 640) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8), "RGB").save(path, "JPEG", quality=90)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="resnet50-linear")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=22)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        classes = [ClassInfo(f"c{i}", f"City {i}", "XX", 40.0 + i, 10.0 + i) for i in range(args.classes)]
        model = registry.build(args.arch, args.classes, weights="none")
        bundle = save_bundle(root / "model.pt", model, BundleMeta(arch=args.arch, classes=classes,
                                                                  image_size=args.image_size))
        del model
        start = time.perf_counter()
        predictor = Predictor.load(bundle, device=args.device)
        load_s = time.perf_counter() - start
        photos = [_photo(root / f"{i}.jpg", i) for i in range(max(args.batch * 2, args.repeats))]
        for p in photos[:3]:  # warm-up (first calls allocate)
            predictor.predict(p)
        lat, cpu = [], []
        for p in photos[:args.repeats]:
            t, c = time.perf_counter(), time.process_time()
            predictor.predict(p)
            lat.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        t, c = time.perf_counter(), time.process_time()
        n = sum(1 for _ in predictor.predict_many(photos[:args.batch * 2], batch_size=args.batch))
        throughput = n / (time.perf_counter() - t)
        batch_cpu = (time.process_time() - c) * 1000 / n
    print(f"arch {args.arch} @ {args.image_size}px, {args.classes} classes, device {args.device}, "
          f"torch threads {torch.get_num_threads()}, bundle {bundle.name}")
    print(f"load average at start:   {load[0]:8.2f} on {os.cpu_count()} CPUs (other work skews wall times)")
    print(f"load time:               {load_s * 1000:8.0f} ms")
    print(f"single-image latency:    {statistics.median(lat):8.1f} ms median, {max(lat):.1f} ms max "
          f"({args.repeats} runs, 640x640 JPEG file -> ranking)")
    print(f"single-image CPU time:   {statistics.median(cpu):8.1f} ms median (with --threads 1 this is the wall "
          f"latency of an idle core)")
    print(f"batch throughput:        {throughput:8.1f} images/s (batch {args.batch}), "
          f"{batch_cpu:.1f} ms CPU time per image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
