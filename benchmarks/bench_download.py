"""Download throughput and overhead against the loopback fake API (no network, no cost).

    .venv/bin/python benchmarks/bench_download.py [--images 300] [--workers 1,4,8] [--latency-ms 40] [--size 640]

The fake server answers each image request after `--latency-ms` (Google's typical latency is tens of
milliseconds), so the figures show how far workers hide latency and what our own per-image overhead is
(metadata + image request, JPEG validation, placeholder check, atomic write, SQLite commit). Prints
images/s per worker count and the resume cost: how long a re-run that finds every city complete takes,
and how long one that must skip every point tried before takes to reach new ones.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.acquisition import DownloadConfig, run_download
from core.acquisition.http import RetryPolicy
from core.acquisition.streetview import StreetViewParams
from core.data import catalog
from core.data.project import Project
from tests.core.acquisition.fake_apis import FakeApis, World


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=300, help="images per run (one city)")
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--size", type=int, default=640)
    args = parser.parse_args()

    city = catalog.resolve("Zagreb,HR")
    world = World(image_delay_s=args.latency_ms / 1000)
    world.add_panos_around(city.lat, city.lon, 3.0, 100, "z", covered_half_only=False)
    print(f"fake world: {len(world.panos)} panoramas; {args.images} images of {args.size}x{args.size} per run; "
          f"image latency {args.latency_ms:g} ms")
    with FakeApis(world) as apis, tempfile.TemporaryDirectory() as tmp:
        base = DownloadConfig(per_city=args.images, seed=0, key=world.key, base_url=apis.streetview_url, qps=None,
                              streetview=StreetViewParams(size=args.size, radius_m=80),
                              retry=RetryPolicy(timeout_s=5))
        for workers in [int(w) for w in args.workers.split(",")]:
            with Project.init(Path(tmp) / f"w{workers}") as project:
                project.add_city(city, radius_km=3.0)
                start = time.perf_counter()
                summary = run_download(project, replace(base, workers=workers, seed=workers))
                took = time.perf_counter() - start
                cities = summary.cities.values()
                points = sum(c.points for c in cities)
                print(f"workers {workers:>2}: {summary.total('saved')} images in {took:.2f} s = "
                      f"{summary.total('saved') / took:.1f} images/s ({points} points, {summary.requests} requests)")
                start = time.perf_counter()
                run_download(project, replace(base, workers=workers, seed=workers))
                print(f"           re-run with nothing missing: {(time.perf_counter() - start) * 1000:.0f} ms")
                start = time.perf_counter()
                more = run_download(project, replace(base, workers=workers, seed=workers, per_city=args.images + 10))
                print(f"           resume for 10 more (skips {points} tried points): "
                      f"{time.perf_counter() - start:.2f} s, {more.total('saved')} saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
