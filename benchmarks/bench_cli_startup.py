"""Wall time of the CLI commands that need no model, beside ``python -c "import torch"`` in the same run.

    .venv/bin/python benchmarks/bench_cli_startup.py [--runs 5]

Each run of each command is a fresh ``python -m core ...`` process (interpreter start-up included, as a
user types it) on a small real project (48 generated photos, 4 cities, split); the torch import is
measured the same way. Printed: the median and best wall seconds per command, the median CPU seconds
(user + system of the child: on a shared, loaded machine wall time mostly measures the queue for a core,
CPU time what the command itself costs), and whether the command loaded torch (it should not: issue 16 asks for each under 1 s). The same commands' torch-freedom is a
test (tests/core/test_cli_torch_free.py); this script only prints figures.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COMMANDS = [
    ["--help"], ["models"], ["cities", "santiago"], ["cities", "--list"], ["stats"], ["runs"], ["split"],
    ["export", "{tmp}/out.csv"], ["challenge", "--scoreboard"],
]
#: Runs a command, then says on stderr whether torch got imported (the output itself is discarded).
PROBE = "import sys, runpy; sys.argv = ['geospottr', *sys.argv[1:]]\n" \
        "try:\n    runpy.run_module('core', run_name='__main__')\n" \
        "finally:\n    print('TORCH', 'torch' in sys.modules, file=sys.stderr)"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process running `argv`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _loads_torch(args: list[str]) -> bool:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=REPO, env=_env(), capture_output=True, text=True)
    return "TORCH True" in done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per command (default: %(default)s)")
    options = parser.parse_args()
    from tests.conftest import build_tiny_project

    with tempfile.TemporaryDirectory() as tmp:
        build_tiny_project(Path(tmp)).close()
        project = str(Path(tmp) / "project")
        rows = [("python -c 'import torch'", [sys.executable, "-c", "import torch"], None)]
        rows.append(("python -c pass (interpreter only)", [sys.executable, "-c", "pass"], None))
        for command in COMMANDS:
            args = ["--project", project, *(a.format(tmp=tmp) for a in command)]
            rows.append(("geospottr " + " ".join(command).format(tmp="TMP"),
                         [sys.executable, "-m", "core", *args], args))
        print(f"CLI start-up, {options.runs} fresh processes each (wall seconds, interpreter start included)")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'command':<42}{'median s':>10}{'best s':>9}{'cpu s':>8}  torch loaded")
        for label, argv, args in rows:
            runs = [_timed(argv) for _ in range(options.runs)]
            walls = [w for w, _ in runs]
            torch = "" if args is None else ("YES" if _loads_torch(args) else "no")
            print(f"{label:<42}{statistics.median(walls):>10.2f}{min(walls):>9.2f}"
                  f"{statistics.median(c for _, c in runs):>8.2f}  {torch}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
