"""Prediction speed: bundle load time, single-image latency after load, batch throughput (CPU by default).

    .venv/bin/python benchmarks/bench_predict.py [--arch resnet50-linear] [--threads 2] [--image-size 224]
    .venv/bin/python benchmarks/bench_predict.py --table [--photos 400] [--runs 3]

``--table`` prints issue 25's table (README, "Performance") for the default model
(efficientnet-lite-ensemble-probe) and the Lite0 probe: whole processes of ``geospottr predict`` on one
photo and on ``--photos`` photos of the development set (``../shared/data/gsv-croatia``; generated
photos without it), with the PyTorch bundle and its ONNX export, against ``python -c "import torch"``
and the plain PyTorch script `plain_predict.py`; in process: ``load_bundle`` and the first photo's heat
map. The models carry their real ImageNet backbones with random linear heads (timing needs no fitted
probe). Medians of ``--runs``; the load average printed says how busy the machine was.

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
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from PIL import Image

from core.inference.prediction import Predictor
from core.models import registry
from core.models.bundle import BundleMeta, ClassInfo, save_bundle


def _photo(path: Path, seed: int, size: int = 640) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8), "RGB").save(path, "JPEG", quality=90)
    return path


REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "data" / "gsv-croatia"
TABLE_ARCHS = ("efficientnet-lite-ensemble-probe", "efficientnet-lite0-probe")


#: Extra environment of every timed process (``--one-thread`` puts OMP_NUM_THREADS=1 here).
CHILD_ENV: dict[str, str] = {}


def _one_cpu() -> None:
    """In a timed child before it runs (``--one-thread``): only the first allowed CPU, so ONNX Runtime, whose
    thread count follows the affinity and not OMP_NUM_THREADS, runs on one thread too."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])


def _seconds(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of a whole process (output discarded; a failure stops the benchmark)."""
    return _times(cmd, runs, env)[0]


def _times(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median wall and median CPU time (user + sys) of a whole process; the CPU time moves less with the
    machine's other work."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, **CHILD_ENV, **(env or {})}, preexec_fn=_one_cpu if CHILD_ENV else None)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _table_bundle(root: Path, arch: str) -> Path:
    spec = registry.spec(arch)
    torch.manual_seed(0)
    model = registry.build(arch, 10, weights="imagenet")
    classes = [ClassInfo(f"c{i}", f"City {i}", "XX", 40.0 + i, 10.0 + i) for i in range(10)]
    return save_bundle(root / f"{arch}.pt", model, BundleMeta(arch=arch, classes=classes, mean=spec.mean, std=spec.std,
                                                             image_size=spec.default_image_size,
                                                             arch_kwargs=dict(spec.defaults)))


def table(args: argparse.Namespace) -> int:
    from core.inference.onnx_export import export_onnx
    from core.models.bundle import load_bundle

    py = [sys.executable]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if (PHOTOS / "images").is_dir():
            photos = sorted(str(p) for p in (PHOTOS / "images").glob("*.jpg"))[:args.photos]
        else:
            photos = [str(_photo(root / f"{i}.jpg", i)) for i in range(args.photos)]
        rows: dict[str, list[str]] = {}
        torch_s, torch_cpu = _times([*py, "-c", "import torch"], args.runs)
        for arch in TABLE_ARCHS:
            bundle = _table_bundle(root, arch)
            onnx_file = export_onnx(bundle, root / f"{arch}.onnx")
            predict = [*py, "-m", "core", "predict", "--device", "cpu", "--csv", "--model"]
            one, one_cpu = _times([*predict, str(bundle), photos[0]], args.runs)
            # CPython's full teardown instead of the CLI's fast exit (`core.cli.main.fast_exit`)
            full, full_cpu = _times([*predict, str(bundle), photos[0]], args.runs, {"GEOSPOTTR_FULL_EXIT": "1"})
            one_onnx = _seconds([*predict, str(onnx_file), photos[0]], args.runs)
            one_plain = _seconds([*py, "benchmarks/plain_predict.py", str(bundle), photos[0]], args.runs)
            many = _seconds([*predict, str(bundle), *photos], 1)
            many_onnx = _seconds([*predict, str(onnx_file), *photos], 1)
            many_plain = _seconds([*py, "benchmarks/plain_predict.py", str(bundle), *photos], 1)
            loads = []
            for _ in range(args.runs):
                start = time.perf_counter()
                load_bundle(bundle)
                loads.append(time.perf_counter() - start)
            predictor = Predictor.load(bundle, device="cpu")
            start = time.perf_counter()
            heat = predictor.explain(photos[0])
            explain_s = time.perf_counter() - start
            for label, value in (
                    ("`predict --model X.pt ONE.jpg` (whole process)",
                     f"{one:.2f} s = {one / torch_s:.2f}x import torch (CPU {one_cpu:.2f} s = {one_cpu / torch_cpu:.2f}x)"),
                    ("the same with `GEOSPOTTR_FULL_EXIT=1` (CPython's teardown)",
                     f"{full:.2f} s = {full / torch_s:.2f}x (CPU {full_cpu:.2f} s = {full_cpu / torch_cpu:.2f}x)"),
                    ("`predict --model X.onnx ONE.jpg` (no torch)", f"{one_onnx:.2f} s"),
                    ("plain PyTorch script, one photo", f"{one_plain:.2f} s"),
                    (f"`predict` {len(photos)} photos, PyTorch", f"{many:.1f} s ({many / len(photos) * 1000:.0f} ms/photo)"),
                    (f"`predict` {len(photos)} photos, ONNX", f"{many_onnx:.1f} s ({many_onnx / len(photos) * 1000:.0f} ms/photo)"),
                    (f"plain PyTorch script, {len(photos)} photos", f"{many_plain:.1f} s"),
                    ("model load (`load_bundle`)", f"{statistics.median(loads):.2f} s"),
                    ("heat map, first photo", f"{explain_s:.2f} s ({heat.method})")):
                rows.setdefault(label, []).append(value)
    print(f"load average at start: {load[0]:.2f} on {os.cpu_count()} CPUs, at the end {os.getloadavg()[0]:.2f}; "
          f"`python -c \"import torch\"`: {torch_s:.2f} s (CPU {torch_cpu:.2f} s); "
          f"medians of {args.runs} runs (batches: 1 run); torch {torch.__version__}"
          + ("; every timed process pinned to one CPU (OMP_NUM_THREADS=1)" if args.one_thread else ""))
    print(f"| path | {' | '.join(TABLE_ARCHS)} |")
    print("| --- | " + " | ".join("---" for _ in TABLE_ARCHS) + " |")
    for label, values in rows.items():
        print(f"| {label} | {' | '.join(values)} |")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="resnet50-linear")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=22)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--table", action="store_true", help="issue 25's whole-process table (see the module docstring)")
    ap.add_argument("--photos", type=int, default=400, help="--table: photos in the batch rows")
    ap.add_argument("--runs", type=int, default=3, help="--table: runs per one-photo row (median)")
    ap.add_argument("--one-thread", action="store_true",
                    help="--table: every timed process pinned to one CPU with OMP_NUM_THREADS=1: its CPU time is then "
                         "what one idle core would take, the steady figure on a busy machine")
    args = ap.parse_args()
    if args.one_thread:
        CHILD_ENV["OMP_NUM_THREADS"] = "1"
    if args.table:
        return table(args)
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
