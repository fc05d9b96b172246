"""Images per second of `geospottr clean`: each check alone and the full offline pass.

    .venv/bin/python benchmarks/bench_clean.py [--source ../shared/data/gsv-croatia] [--copies 1]
                                               [--checks frames,duplicates outliers frames,duplicates,outliers]
                                               [--workers 4] [--dup-images 30000]

Imports the real Street View frames of ``--source`` (a manifest.csv with path,lat,lon) into a temporary
project (``--copies N`` adds N-1 re-encoded copies of each, so the duplicate grouping has work to do and
the project is bigger), then times `core.quality.scan` per check set and prints images/s (the last set
twice: the second time is a re-scan that finds its embeddings in the project cache). ``--dup-images``
also times the all-pairs hash comparison alone on that many random hashes (the part of the duplicate
check that grows with the square of the project size). Uses CUDA for the embedding when available.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from core.data import catalog
from core.data.importing import import_source
from core.data.project import Project
from core.imaging import load_image
from core.quality import ScanOptions, scan
from core.quality.duplicates import close_pairs

CITIES = ["Zagreb,HR", "Osijek,HR", "Rijeka,HR", "Split,HR"]


def build(root: Path, source: Path, copies: int) -> Project:
    """A project of the source's frames, plus `copies - 1` resized re-encodes of each."""
    project = Project.init(root / "project", [catalog.resolve(q) for q in CITIES])
    rows = list(csv.DictReader((source / "manifest.csv").open()))
    out_rows = []
    for row in rows:
        path = source / row["path"]
        out_rows.append({**row, "path": str(path)})
        for k in range(1, copies):
            img = load_image(path)
            img = img.resize((img.width * (10 - k) // 10, img.height * (10 - k) // 10))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=80 - 5 * k)
            copy = root / "copies" / f"{k}-{Path(row['path']).name}"
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(buf.getvalue())
            out_rows.append({**row, "path": str(copy)})
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(out_rows[0]))
        writer.writeheader()
        writer.writerows(out_rows)
    import_source(project, manifest)
    return project


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "gsv-croatia")
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--checks", nargs="+", default=["frames", "duplicates", "frames,duplicates", "outliers",
                                                          "frames,duplicates,outliers"])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--dup-images", type=int, default=30000)
    args = parser.parse_args()
    if not (args.source / "manifest.csv").exists():
        print(f"no manifest.csv in {args.source}: pass --source")
        return 1
    import torch

    print(f"torch threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}, decode workers {args.workers}")
    with tempfile.TemporaryDirectory() as tmp:
        project = build(Path(tmp), args.source, args.copies)
        n = len(project.images())
        print(f"{n} images")
        # the last set runs twice: the second pass shows a re-scan, with embeddings from the project cache
        for checks in [*args.checks, args.checks[-1]]:
            start = time.perf_counter()
            findings = scan(project, checks, options=ScanOptions(workers=args.workers))
            seconds = time.perf_counter() - start
            kinds: dict[str, int] = {}
            for f in findings:
                kinds[f.kind] = kinds.get(f.kind, 0) + 1
            print(f"{checks:<28} {n / seconds:8.1f} images/s  ({seconds:.1f} s; findings {kinds or 'none'})")
        project.close()
    if args.dup_images:
        rng = np.random.default_rng(0)
        hashes = [tuple(int(x) for x in pair) for pair in rng.integers(0, 2**63, (args.dup_images, 2), dtype=np.int64)]
        start = time.perf_counter()
        close_pairs(hashes)
        print(f"all-pairs hash comparison of {args.dup_images} images: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
