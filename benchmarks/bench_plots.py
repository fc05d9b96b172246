"""Feed 100k training iterations into the live plots and print what it costs the UI thread.

Run: ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_plots.py [--points 100000]``.
Prints the cost of appending a point, of one redraw (data hand-off + a full paint of the plots, forced
with ``grab()``) at several run lengths, and of a smoothing-slider change over the whole run.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=50, help="points between two redraws (a 10 Hz timer)")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from core.training.metrics import EpochMetrics, Iteration
    from geospottr_gui.views.widgets.plots import TrainingPlots

    app = QApplication.instance() or QApplication([])
    plots = TrainingPlots()
    plots.resize(1200, 700)
    plots.show()
    app.processEvents()

    append_s = 0.0
    frame_ms: dict[int, list[float]] = {}
    checkpoints = {1_000, 10_000, 50_000, args.points}
    per_epoch = max(1, args.points // 20)
    for i in range(1, args.points + 1):
        t0 = time.perf_counter()
        plots.add_iteration(Iteration(iteration=i, loss=2.0 * math.exp(-i / 30000) + 0.3 * math.sin(i) ** 2,
                                      lr=0.01 * (1 + math.cos(math.pi * i / args.points)) / 2))
        if i % per_epoch == 0:
            plots.add_epoch(EpochMetrics(epoch=i // per_epoch, train_loss=1.0, val_loss=1.1, train_acc=0.5,
                                         val_acc=0.45))
        append_s += time.perf_counter() - t0
        if i % args.batch == 0 and any(abs(i - c) < args.batch * 5 for c in checkpoints):
            t0 = time.perf_counter()
            plots.flush()
            plots.graphics.grab()  # a complete paint of all four plots
            frame_ms.setdefault(min(checkpoints, key=lambda c: abs(i - c)), []).append(
                (time.perf_counter() - t0) * 1000)
        elif i % args.batch == 0:
            plots.flush()

    print(f"points fed: {args.points}, redraw every {args.batch} points")
    print(f"append: {append_s / args.points * 1e6:.2f} us/point (UI-thread cost per iteration event)")
    for n in sorted(frame_ms):
        times = frame_ms[n]
        print(f"redraw+paint at ~{n:>6} points: median {statistics.median(times):6.1f} ms, "
              f"max {max(times):6.1f} ms ({len(times)} frames)")
    t0 = time.perf_counter()
    plots.slider.setValue(50)
    plots.flush()
    plots.graphics.grab()
    print(f"smoothing slider change over {args.points} points (re-filter + paint): "
          f"{(time.perf_counter() - t0) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
