"""Seconds from File > Quit to the end of the process when nothing runs (the brief asks for < 1 s).

    .venv/bin/python benchmarks/bench_gui_quit.py [--runs 3] [--settle 8]

Each run is a fresh process running the real `geospottr_gui.app.main` on a temporary project. It opens
every workspace (the Predict and Challenge maps start QtWebEngine), waits `--settle` seconds for the
start-up jobs (the device probe imports torch), then triggers File > Quit and prints the time from that
click to the interpreter's exit, measured by the parent on one clock. Uses the offscreen Qt platform
unless $DISPLAY is set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time
from PySide6.QtCore import QTimer
import geospottr_gui.app as app_module

settle = float(sys.argv[1])
real_open = app_module.open_window

def open_window(args, settings):
    window = real_open(args, settings)
    for title in list(window._specs):
        window.show_workspace(title)

    def quit_now():
        print(f"QUIT {time.time():.6f}", flush=True)
        window.close()

    QTimer.singleShot(int(settle * 1000), quit_now)
    return window

app_module.open_window = open_window
sys.exit(app_module.main(["geospottr-gui", "--bench"]))
"""


def one_run(settle: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GEOSPOTTR_PROJECT": str(Path(tmp) / "project"), "XDG_CONFIG_HOME": str(Path(tmp) / "config"),
               "PYTHONPATH": str(REPO)}
        env.setdefault("QT_QPA_PLATFORM", "offscreen" if "DISPLAY" not in os.environ else "xcb")
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(settle)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        quit_at = None
        for line in proc.stdout:
            if line.startswith("QUIT "):
                quit_at = float(line.split()[1])
        proc.wait()
        ended = time.time()
        if quit_at is None:
            raise SystemExit(f"the child did not reach Quit (exit {proc.returncode})")
        return ended - quit_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=8.0, help="seconds between the window and Quit")
    args = parser.parse_args()
    times = [one_run(args.settle) for _ in range(args.runs)]
    for i, t in enumerate(times, 1):
        print(f"run {i}: quit took {t:.2f} s")
    print(f"median {statistics.median(times):.2f} s, best {min(times):.2f} s (Quit click to process exit)")


if __name__ == "__main__":
    main()
