"""`geospottr evaluate` with the default model on a test split of 76 photos (issue 25: goal < 12 s).

    .venv/bin/python benchmarks/bench_evaluate.py [--runs 3] [--test-places 19] [--arch efficientnet-lite-ensemble-probe]

A project of the 400 development photos (``../shared/data/gsv-croatia``: 100 places x 4 headings, labelled
by the nearest of 4 Croatian cities; 400 generated photos at random coordinates without it), split by place
so that the test split holds ``--test-places`` places (19 -> 76 photos). The model is the architecture with
its real ImageNet backbones and seeded random heads (timing needs no fitted probe), as a PyTorch bundle and
as its ONNX export. Each evaluate runs as a whole process (``python -m core evaluate --model X --out DIR``)
and is timed by wall clock and by CPU time (user + sys of the child): on this shared 2-core machine the CPU
time is the steadier figure, and pinned to one CPU (``--one-thread``: affinity + ``OMP_NUM_THREADS=1``) it
is the time one idle core would take. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PHOTOS = REPO.parent / "shared" / "data" / "gsv-croatia"
CITIES = ["Zagreb,HR", "Osijek,HR", "Rijeka,HR", "Split,HR"]


def make_project(root: Path, test_places: int):
    """The project (closed) and how many test photos it has."""
    import numpy as np
    from PIL import Image

    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project
    from core.data.splitting import split_project

    if (PHOTOS / "manifest.csv").exists():
        with (PHOTOS / "manifest.csv").open(newline="") as fh:
            rows = [{**r, "path": str(PHOTOS / r["path"])} for r in csv.DictReader(fh)]
    else:  # generated photos: 100 places x 4 views around the four cities
        rng = np.random.default_rng(0)
        rows = []
        for i in range(400):
            path = root / "photos" / f"{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (640, 640, 3), dtype=np.uint8), "RGB").save(path, "JPEG", quality=90)
            lat, lon = [(45.81, 15.98), (45.55, 18.69), (45.33, 14.44), (43.51, 16.44)][(i // 4) % 4]
            rows.append({"path": str(path), "lat": lat + 0.001 * (i // 4), "lon": lon, "location_id": f"place{i // 4}"})
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    places = len({r["location_id"] for r in rows})
    test = test_places / places
    with Project.init(root / "project", [catalog.resolve(q) for q in CITIES]) as project:
        import_source(project, manifest)
        split_project(project, ratios=(1 - 2 * test, test, test), seed=0)
        cities = project.cities()
        n_test = len(project.images(split="test"))
    return root / "project", cities, n_test


def make_models(root: Path, arch: str, cities) -> tuple[Path, Path]:
    import torch

    from core.inference.onnx_export import export_onnx
    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo, save_bundle

    spec = registry.spec(arch)
    torch.manual_seed(0)
    model = registry.build(arch, len(cities), weights="imagenet")
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.05)
    meta = BundleMeta(arch=arch, classes=[ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in cities],
                      mean=spec.mean, std=spec.std, image_size=spec.default_image_size, arch_kwargs=dict(spec.defaults))
    bundle = save_bundle(root / f"{arch}.pt", model, meta)
    return bundle, export_onnx(bundle, root / f"{arch}.onnx")


def _one_cpu() -> None:
    """In the child before it runs: only the first allowed CPU (torch's and ONNX Runtime's thread counts
    follow the affinity, `core.devices.configure_threads`)."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])


def timed(cmd: list[str], env: dict[str, str], one_cpu: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys) of one whole process; a failure stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          preexec_fn=_one_cpu if one_cpu else None)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="efficientnet-lite-ensemble-probe")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--test-places", type=int, default=19, help="places in the test split (x4 photos)")
    ap.add_argument("--one-thread", action="store_true",
                    help="pin each evaluate to one CPU with OMP_NUM_THREADS=1 (torch and ONNX Runtime on one thread)")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.one_thread:
        env["OMP_NUM_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project, cities, n_test = make_project(root, args.test_places)
        bundle, onnx_file = make_models(root, args.arch, cities)
        load = os.getloadavg()
        rows = []
        for label, model in (("PyTorch bundle", bundle), ("ONNX export", onnx_file)):
            cmd = [sys.executable, "-m", "core", "--project", str(project), "evaluate", "--model", str(model),
                   "--device", "cpu", "--out", str(root / "report")]
            runs = [timed(cmd, env, args.one_thread) for _ in range(args.runs)]
            wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
            rows.append((label, wall, cpu))
        end = os.getloadavg()
    print(f"`geospottr evaluate`, {args.arch}, {n_test} test photos ({args.test_places} places), "
          f"{'1 thread' if args.one_thread else f'{os.cpu_count()} CPUs'}; medians of {args.runs} whole processes; "
          f"load average {load[0]:.2f} before, {end[0]:.2f} after")
    print("| model file | wall | CPU (user + sys) | CPU per photo |")
    print("| --- | --- | --- | --- |")
    for label, wall, cpu in rows:
        print(f"| {label} | {wall:.1f} s | {cpu:.1f} s | {cpu / n_test * 1000:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
