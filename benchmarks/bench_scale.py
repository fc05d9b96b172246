"""Every stage of GeoSpottr at the original study's size: 22 cities x 1,250 photos, and the growth of each.

    .venv/bin/python benchmarks/bench_scale.py --photos 400,4000,27500 [--cache-dir DIR] [--stages ...]
        [--time-budget 30m] [--again]

Makes real-looking photos from the 400 development photos (``../shared/data/gsv-croatia``): each a random
crop (70-100% of the frame), maybe mirrored, with colour jitter and a JPEG re-encode at quality 70-92, its
coordinates drawn inside one of the 22 seed cities' areas (5 km around the centre), cycling the cities.
The photos and each size's project are kept under ``--cache-dir`` (default ``~/.cache/geospottr-bench-scale``;
never in the repository), so a rerun, or a larger size after a smaller, only makes what is missing.

Each stage runs as its own process (the CLI where there is a command), timed, with its peak RSS from
``wait4``: import, split, stats, dataset map page (what the Dataset > Map tab builds), Find problems
(``clean --checks frames,duplicates``: the offline checks), feature caching (the default fused probe's
four backbones, one decode per photo), default training (``train``; with ``--time-budget`` the budget
chooses), evaluate (test split), export (CSV), and one-decode: 64 photos through the four backbones
decoded once per member (as before the caching pipeline) and once for all (its log has ms per photo). Results are kept in ``results.json`` beside the photos
(a stage already measured at a size is not run again without ``--again``); the table at the end shows
seconds, photos/s, peak RSS and the growth exponent k (time ~ n^k) between consecutive sizes.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "gsv-croatia"
STAGES = ("import", "split", "stats", "dataset-map", "find-problems", "feature-cache", "train", "evaluate", "export",
          "one-decode")
#: Radius (km) around a seed city's centre inside which a synthetic photo's coordinates are drawn.
AREA_KM = 5.0

DATASET_MAP = """
import sys, time
from pathlib import Path
from core.maps import ImagePoint, dataset_map, write_assets
from core.data.project import Project
project = Project.open(Path(sys.argv[1]))
out = Path(sys.argv[2])
points = [ImagePoint(r.id, r.lat, r.lon, r.city_slug) for r in project.images(status=("pending", "accepted"))
          if r.lat is not None and r.city_slug]
dataset_map(project.cities(), points, out / "dataset.html", write_assets(out), online_tiles=False)
print(len(points), "points")
"""

FEATURE_CACHE = """
import sys
from pathlib import Path
import torch
from core.devices import configure_threads
from core.models import registry
from core.models.probe import probe_members
from core.data.project import Project
from core.training.data import load_training_data
from core.training.probe import probe_features
configure_threads()
project = Project.open(Path(sys.argv[1]))
classes, train, val = load_training_data(project)
arch = "efficientnet-lite-ensemble-probe"
spec = registry.spec(arch)
torch.manual_seed(0)
model = registry.build(arch, len(classes), weights="imagenet")
feats, skipped = probe_features(probe_members(model), {"train": [s.path for s in train], "val": [s.path for s in val]},
                                spec.default_image_size, spec.mean, spec.std, 0.0, project.cache_dir)
print(sum(len(s) for s in skipped.values()), "skipped")
"""


ONE_DECODE = """
import sys, tempfile, time
from pathlib import Path
import torch
from core.devices import configure_threads
from core.models import registry
from core.models.probe import probe_members
from core.data.project import Project
from core.training.data import load_training_data
from core.training.probe import probe_features
configure_threads()
project = Project.open(Path(sys.argv[1]))
_, train, _ = load_training_data(project)
paths = {"train": [s.path for s in train[:64]]}
arch = "efficientnet-lite-ensemble-probe"
spec = registry.spec(arch)
members = probe_members(registry.build(arch, 2, weights="imagenet"))
with tempfile.TemporaryDirectory() as tmp:
    t = time.perf_counter()
    for i, m in enumerate(members):  # as before the pipeline: each member decoded every photo itself
        probe_features([m], paths, spec.default_image_size, spec.mean, spec.std, 0.0, Path(tmp) / f"alone{i}")
    alone = time.perf_counter() - t
    t = time.perf_counter()
    probe_features(members, paths, spec.default_image_size, spec.mean, spec.std, 0.0, Path(tmp) / "shared")
    shared = time.perf_counter() - t
n = len(paths["train"])
print(f"{n} photos, {len(members)} members: one decode per member {alone / n * 1000:.0f} ms/photo, "
      f"one decode for all {shared / n * 1000:.0f} ms/photo ({alone / shared:.2f}x)")
"""


def synthesise(source: Path, folder: Path, count: int, cities: list[tuple[float, float]]) -> Path:
    """Photos 0..count-1 under `folder` (made once, kept) and the CSV naming the first `count`."""
    from PIL import ImageEnhance, ImageOps

    from core.geo import random_point_in_radius
    from core.imaging import load_image

    originals = sorted((source / "images").glob("*.jpg"))
    if not originals:
        raise SystemExit(f"no photos in {source / 'images'}")
    images = folder / "photos"
    images.mkdir(parents=True, exist_ok=True)
    made = 0
    rows = []
    for i in range(count):
        rng = random.Random(i)
        path = images / f"{i:06d}.jpg"
        lat, lon = cities[i % len(cities)]
        if not path.is_file():
            img = load_image(originals[i % len(originals)])  # the app's one decode (no other decoder runs)
            w, h = img.size
            share = rng.uniform(0.7, 1.0)
            cw, ch = int(w * share), int(h * share)
            left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
            img = img.crop((left, top, left + cw, top + ch))
            if rng.random() < 0.5:
                img = ImageOps.mirror(img)
            for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
                img = enhance(img).enhance(rng.uniform(0.8, 1.2))
            tmp = path.with_suffix(".tmp")
            img.save(tmp, "JPEG", quality=rng.randint(70, 92))
            os.replace(tmp, path)  # a killed run never leaves half a photo under the final name
            made += 1
        rows.append((str(path), *random_point_in_radius(lat, lon, AREA_KM, rng), f"place{i // 2}"))
        if made and made % 1000 == 0:
            print(f"  synthesised {made} photos ({i + 1}/{count})", flush=True)
    manifest = folder / f"manifest-{count}.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "lat", "lon", "location_id"])
        writer.writerows(rows)
    return manifest


def run_stage(cmd: list[str], log: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit status) of one process; its output goes to `log`."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    with open(log, "w", encoding="utf-8") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode


def stage_command(stage: str, project: Path, manifest: Path, work: Path, budget: str | None) -> list[str]:
    cli = [sys.executable, "-m", "core", "--project", str(project)]
    return {
        "import": cli + ["import", str(manifest)],
        "split": cli + ["split", "--ratios", "0.7,0.15,0.15"],
        "stats": cli + ["stats"],
        "dataset-map": [sys.executable, "-c", DATASET_MAP, str(project), str(work)],
        "find-problems": cli + ["clean", "--checks", "frames,duplicates"],
        "feature-cache": [sys.executable, "-c", FEATURE_CACHE, str(project)],
        "train": cli + ["train"] + (["--time-budget", budget] if budget else []),
        "evaluate": cli + ["evaluate"],
        "export": cli + ["export", str(work / "export.csv"), "--force"],
        "one-decode": [sys.executable, "-c", ONE_DECODE, str(project)],
    }[stage]


def growth(results: dict, stage: str, sizes: list[int]) -> list[str]:
    """k between consecutive measured sizes: log(t2 / t1) / log(n2 / n1)."""
    out = []
    measured = [(n, results[str(n)][stage]["s"]) for n in sizes if stage in results.get(str(n), {})
                and results[str(n)][stage]["rc"] == 0]
    for (n1, t1), (n2, t2) in zip(measured, measured[1:]):
        out.append(f"k={math.log(t2 / t1) / math.log(n2 / n1):.2f} ({n1}->{n2})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="400,4000,27500", help="comma list of project sizes")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "geospottr-bench-scale")
    parser.add_argument("--source", type=Path, default=SOURCE, help="the development photos (manifest.csv, images/)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma list of {', '.join(STAGES)}")
    parser.add_argument("--time-budget", help="train --time-budget for the training stage (default: none)")
    parser.add_argument("--again", action="store_true", help="measure stages already in results.json again")
    args = parser.parse_args()
    if not (args.source / "manifest.csv").is_file():
        print(f"skipped: the development photos are not at {args.source} (copy ../shared/data/gsv-croatia there, "
              "or pass --source)")
        return
    sys.path.insert(0, str(REPO))
    from core.data.catalog import preset

    cities = [(c.lat, c.lon) for c in preset("seed")]
    sizes = sorted(int(n) for n in args.photos.split(","))
    stages = [s for s in args.stages.split(",") if s]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stages {', '.join(sorted(unknown))}; choose from {', '.join(STAGES)}")
    cache = args.cache_dir.expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    results_file = cache / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    for n in sizes:
        print(f"== {n} photos", flush=True)
        manifest = synthesise(args.source, cache, n, cities)
        project, work = cache / f"project-{n}", cache / f"work-{n}"
        work.mkdir(exist_ok=True)
        if not (project / "geospottr.db").is_file():
            subprocess.run([sys.executable, "-m", "core", "init", str(project), "--cities", "seed"], cwd=REPO,
                           check=True, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL)
        done = results.setdefault(str(n), {})
        for stage in stages:
            if stage in done and done[stage]["rc"] == 0 and not args.again:
                continue
            if stage == "import" and "import" in done and done["import"]["rc"] == 0:
                continue  # importing again would measure the duplicate check, not an import
            cmd = stage_command(stage, project, manifest, work, args.time_budget)
            seconds, rss, rc = run_stage(cmd, work / f"{stage}.log")
            done[stage] = {"s": round(seconds, 2), "rss_mb": round(rss, 1), "rc": rc}
            print(f"  {stage:14s} {seconds:9.2f} s  {n / seconds:9.1f} photos/s  peak RSS {rss:7.1f} MB"
                  + ("" if rc == 0 else f"  FAILED ({rc}; see {work / (stage + '.log')})"), flush=True)
            results_file.write_text(json.dumps(results, indent=1))
    print("\nstage          " + "".join(f"{n:>22}" for n in sizes) + "   growth")
    for stage in stages:
        cells = []
        for n in sizes:
            r = results.get(str(n), {}).get(stage)
            cells.append(f"{r['s']:8.1f} s {r['rss_mb']:6.0f} MB" if r and r["rc"] == 0 else "-")
        print(f"{stage:14s} " + "".join(f"{c:>22}" for c in cells) + "   " + ", ".join(growth(results, stage, sizes)))


if __name__ == "__main__":
    main()
