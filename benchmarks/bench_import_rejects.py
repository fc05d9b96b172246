"""CSV import speed when every row is refused (issue 24 item 4): a CSV of N paths to missing files,
imported by `geospottr import` in a fresh process; prints rows per second. Refused rows used to cost
one indexless DELETE and one commit each, so the time grew with the square of N (40k rows: 59 s).

    .venv/bin/python benchmarks/bench_import_rejects.py                  # 10k and 100k rows
    .venv/bin/python benchmarks/bench_import_rejects.py --rows 1000000   # the issue's million (about a minute)
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(rows: int, tmp: Path) -> float:
    """Seconds `geospottr import` takes for a CSV of `rows` missing files (checked: all rejected)."""
    table = tmp / f"missing-{rows}.csv"
    with table.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "city"])
        writer.writerows([f"/nonexistent/{i}.jpg", "zagreb"] for i in range(rows))
    project = tmp / f"project-{rows}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "core", "init", str(project), "--cities", "Zagreb,HR"], env=env,
                   check=True, capture_output=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "core", "--project", str(project), "import", str(table)], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    assert done.returncode == 0 and f"{rows} rejected" in done.stdout, done.stderr[-500:]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000], help="CSV sizes to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            seconds = run(rows, Path(tmp))
            print(f"{rows:>9,} rows of missing files: {seconds:6.1f} s  {rows / seconds:9,.0f} rows/s")


if __name__ == "__main__":
    main()
