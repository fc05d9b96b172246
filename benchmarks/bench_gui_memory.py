"""Resident memory of the desktop app across three training runs (the brief: after three runs it stays
within 20% of the RSS after the first; before, RSS grew 0.8 -> 2.1 -> 2.4 GB and never came back).

    .venv/bin/python benchmarks/bench_gui_memory.py [--data ../shared/data/gsv-croatia] [--runs 3]
        [--arch efficientnet-lite0] [--image-size 128] [--epochs 2] [--threads 2]

In one process, the way the app runs them: a real `TrainView` on a temporary project of the gsv-croatia
street photos (Zagreb, Osijek, Rijeka, Split; split by place) starts each run from its form, and RSS is
read from /proc once the run has finished and the app has released the job (`workers.release_memory`).
Printed: RSS before, after each run, and the last run's RSS relative to the first's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "gsv-croatia")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--arch", default="efficientnet-lite0")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not (args.data / "manifest.csv").is_file():
        raise SystemExit(f"no photos at {args.data} (manifest.csv): pass --data")

    import torch
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project
    from core.data.splitting import split_project
    from geospottr_gui.context import AppContext
    from geospottr_gui.views.train.train_view import TrainView

    torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication(["bench"])
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.init(Path(tmp) / "hr", [catalog.resolve(q) for q in ("Zagreb,HR", "Osijek,HR",
                                                                                 "Rijeka,HR", "Split,HR")])
        import_source(project, args.data / "manifest.csv")
        split_project(project, seed=0)
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        view = TrainView(AppContext(project, settings))
        view.show()
        deadline = time.monotonic() + 300
        while not view.message.text().startswith("Ready") and time.monotonic() < deadline:  # its probe job
            app.processEvents()
            time.sleep(0.02)
        form = view.form
        form.model.setCurrentIndex(form.model.findData(args.arch))
        form.epochs.setValue(args.epochs)
        form.image_size.setValue(args.image_size)
        form.device.setCurrentIndex(form.device.findText("cpu"))
        form.num_workers.setValue(0)
        print(f"{project.stats()['images']} photos, {args.arch} at {args.image_size}px, {args.epochs} epochs, "
              f"{args.threads} torch threads")
        print(f"RSS before the first run: {rss_mb():,.0f} MB")
        after = []
        for run in range(1, args.runs + 1):
            finished = []
            view.run_finished.connect(finished.append)
            started = time.monotonic()
            view.start_button.click()
            said = ""
            while not finished:
                app.processEvents()
                time.sleep(0.02)
                if view.message.text() != said:  # what the Train workspace says, as it goes
                    said = view.message.text()
                    print(f"  {time.monotonic() - started:5.0f} s  {said}", flush=True)
            view.run_finished.disconnect(finished.append)
            for _ in range(20):  # let the job's end (release, deferred deletes) run
                app.processEvents()
                time.sleep(0.02)
            result = finished[0]
            after.append(rss_mb())
            status = result.status if result is not None else "failed"
            print(f"run {run}: {status} in {time.monotonic() - started:.0f} s, RSS after: {after[-1]:,.0f} MB")
        print(f"last / first run: {after[-1] / after[0]:.2f} (the brief allows 1.20)")
        view.shutdown()
        project.close()


if __name__ == "__main__":
    main()
