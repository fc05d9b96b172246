"""Open a monitor window on a 100k-iteration run and print what each step costs.

Run: ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_monitor.py [--iterations 100000]``.
Writes a run folder the way the trainer does (an iteration and a progress record per step, epoch / log /
checkpoint records per epoch: ~40 MB for 100k steps) in a temp folder, then prints:

* the core tail's first read of the whole file (`MetricsTail.read`), as records and as the monitor's
  worker reads a history (iterations as columns), and building the curves from the columns;
* the monitor window from creation to its first complete paint with every point (the figure the
  "opens in under a second" goal is about);
* a redraw after 50 more iterations arrive (the steady state), and one incremental read of them;
* a CPU calibration (a fixed Python loop) and the load average: on a busy shared machine every figure
  is inflated by the same factor, so compare them with the calibration, not across machines.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def write_run(run: Path, iterations: int, steps: int = 1000) -> None:
    """The records the trainer writes (same payload classes), without training."""
    from core.events import LOG, PROGRESS, Event
    from core.training import runs
    from core.training.metrics import Checkpoint, EpochMetrics, Iteration, RunStarted

    run.mkdir(parents=True)
    epochs = max(1, iterations // steps)
    runs.write_json(run / runs.CONFIG, {"arch": "baseline", "epochs": epochs})
    runs.set_status(run, "finished", reason=f"{epochs} epochs done", epoch=epochs, epochs=epochs,
                    iteration=iterations, total=iterations)
    writer = runs.MetricsWriter(run / runs.METRICS)
    writer(RunStarted(run.name, "cpu", 1).event(f"run {run.name} (new)"))
    for i in range(1, iterations + 1):
        epoch = (i - 1) // steps + 1
        loss = 2.0 * math.exp(-i / 30000) + 0.3 * math.sin(i) ** 2
        lr = 0.01 * (1 + math.cos(math.pi * i / iterations)) / 2
        writer(Iteration(iteration=i, loss=loss, lr=lr, images_per_s=312.5, epoch=epoch, step=(i - 1) % steps + 1,
                         steps=steps).event(scope="train"))
        writer(Event(PROGRESS, f"epoch {epoch}/{epochs} loss {loss:.3f}", done=i, total=iterations, scope="training"))
        if i % steps == 0:
            writer(Checkpoint(str(run / "last.pt"), "last", epoch, i).event("saved last checkpoint", scope="checkpoint"))
            writer(EpochMetrics(epoch=epoch, epochs=epochs, train_loss=1.0, train_acc=0.5, val_loss=1.1, val_acc=0.45,
                                val_macro_f1=0.4, best_val_acc=0.45, epoch_time=60.0, eta_s=600.0)
                   .event(f"epoch {epoch}/{epochs}", done=epoch, total=epochs, scope="epoch"))
            writer(Event(LOG, f"epoch {epoch}/{epochs}"))
    writer.close()


def calibration_s() -> float:
    t0 = time.perf_counter()
    sum(range(10_000_000))
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=100_000)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from core.training import runs
    from core.training.follow import MetricsTail
    from core.training.metrics import EpochMetrics
    from core.training.series import RunSeries
    from geospottr_gui.views.train.monitor_window import MonitorWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "runs" / "bench-run"
        write_run(run, args.iterations)
        size = (run / runs.METRICS).stat().st_size
        print(f"run: {args.iterations:,} iterations, metrics.jsonl {size / 2**20:.1f} MiB")
        print(f"calibration: sum(range(1e7)) {calibration_s():.3f} s; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        t0 = time.perf_counter()
        plain = MetricsTail(run / runs.METRICS).read()
        t1 = time.perf_counter()
        history = MetricsTail(run / runs.METRICS).read(columns=True)
        t2 = time.perf_counter()
        series = RunSeries(label="bench")
        series.extend_iterations(history.iterations)
        for epoch in EpochMetrics.read(history.records):
            series.add_epoch(epoch)
        t3 = time.perf_counter()
        print(f"core tail, first read as records: {t1 - t0:.3f} s ({len(plain.records):,} records)")
        print(f"core tail, first read with iteration columns (what a monitor does): {t2 - t1:.3f} s "
              f"({len(history.iterations):,} iterations + {len(history.records):,} records)")
        print(f"curves from the columns: {(t3 - t2) * 1000:.1f} ms ({len(series.iteration):,} points)")

        t0 = time.perf_counter()
        window = MonitorWindow(run)
        window.resize(940, 640)
        window.show()
        while len(window.plots.current.iteration) < args.iterations:
            app.processEvents()
            time.sleep(0.002)
        window.plots.flush()
        window.grab()  # a complete paint of the window with every point
        opened = time.perf_counter() - t0
        print(f"monitor window, created to first complete paint: {opened:.3f} s")

        from core.training.metrics import Iteration

        tail = MetricsTail(run / runs.METRICS)
        tail.read()  # everything so far, as the monitor's follower has
        writer = runs.MetricsWriter(run / runs.METRICS)
        for i in range(args.iterations + 1, args.iterations + 51):
            writer(Iteration(iteration=i, loss=0.5, lr=0.001).event(scope="train"))
        writer.close()
        t0 = time.perf_counter()
        new = tail.read()
        print(f"incremental read of {len(new.records)} new records: {(time.perf_counter() - t0) * 1000:.2f} ms")
        while len(window.plots.current.iteration) < args.iterations + 50:
            app.processEvents()
            time.sleep(0.002)
        t0 = time.perf_counter()
        window.plots.flush()
        window.plots.graphics.grab()
        print(f"redraw with {len(window.plots.current.iteration):,} points: "
              f"{(time.perf_counter() - t0) * 1000:.1f} ms (hand-off + full paint of the four plots)")
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
