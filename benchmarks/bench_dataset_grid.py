"""How the curation grid behaves at 30,000 images: query, filter, scroll repaint, thumbnails, curation.

    .venv/bin/python benchmarks/bench_dataset_grid.py [--images 30000]

Builds a synthetic project (see `bench_startup.synthetic_project`), opens the real Dataset workspace
offscreen and prints milliseconds for: the id query behind the grid, a filter change, a page of records,
one repaint of the grid at a scroll position (median over 40 positions: what scrolling costs per frame),
the thumbnails of one screen from a cold cache, and curation edits (one image; all 30,000 and undo as
the window runs them, in a worker: how long the UI thread is held).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_startup import synthetic_project


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30000)
    args = parser.parse_args()
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from core.data.project import Project
    from geospottr_gui.context import AppContext
    from geospottr_gui.main_window import WORKSPACES, MainWindow
    from geospottr_gui.workers import stop_all_jobs

    app = QApplication([])

    def spin(ms_: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms_, loop.quit)
        loop.exec()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        synthetic_project(root / "project", args.images)
        print(f"synthetic project of {args.images:,} images made in {time.perf_counter() - t:.1f} s")
        project = Project.open(root / "project")
        settings = QSettings(str(root / "s.ini"), QSettings.Format.IniFormat)
        t = time.perf_counter()
        window = MainWindow(AppContext(project, settings), WORKSPACES[:1])
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        print(f"window with the Dataset workspace built and shown: {ms(time.perf_counter() - t)}")
        view = window.workspaces["Dataset"].curation
        model, grid = view.model, view.grid

        t = time.perf_counter()
        ids = project.image_ids()
        print(f"id query for the grid ({len(ids):,} ids): {ms(time.perf_counter() - t)}")
        t = time.perf_counter()
        view.status.setCurrentText("pending")
        print(f"filter change to status=pending ({model.rowCount():,} rows): {ms(time.perf_counter() - t)}")
        t = time.perf_counter()
        view.status.setCurrentText("All")
        print(f"filter change back to all ({model.rowCount():,} rows): {ms(time.perf_counter() - t)}")
        t = time.perf_counter()
        project.images_by_id(ids[5000:5256])
        print(f"one page of 256 records: {ms(time.perf_counter() - t)}")

        # Cold thumbnails of the first screen.
        first_screen = [model.index(r) for r in range(60)]
        t = time.perf_counter()
        grid.viewport().repaint()
        while any(model.thumbnails.get(project, model.record(i.row()), 128) is None
                  and not model.thumbnails.failed(model.image_id(i.row()), 128) for i in first_screen):
            spin(5)
        cold = time.perf_counter() - t
        print(f"thumbnails of one screen (60, cold, made off the UI thread): {ms(cold)} ({60 / cold:.0f} per s)")

        bar = grid.verticalScrollBar()
        frames = []
        for k in range(40):
            bar.setValue(int(bar.maximum() * k / 39))
            t = time.perf_counter()
            grid.viewport().repaint()
            frames.append(time.perf_counter() - t)
            app.processEvents()
        print(f"grid repaint at 40 scroll positions across {model.rowCount():,} items: median {ms(statistics.median(frames))},"
              f" worst {ms(max(frames))} per frame")

        while len(model.thumbnails.queue):  # let the scroll's thumbnails finish: they compete for the GIL
            spin(20)
        spin(100)
        history = window.context.history
        t = time.perf_counter()
        history.reject(ids[:1])
        print(f"reject one image (saved + undoable, on the UI thread): {ms(time.perf_counter() - t)}")
        spin(700)  # its debounced grid re-query, so it does not land in the next measurement

        # A bulk edit the way a user makes it: select all, press R (then Ctrl+Z). Above the curator's
        # threshold it runs in a worker; what matters is how long the UI thread is held, so a 1-ms timer
        # records the longest gap between its ticks from the key press until the edit is recorded.
        curator = window.context.curator

        def ui_thread_cost(label: str, start: Any) -> None:
            gaps: list[float] = []
            last = [time.perf_counter()]

            def tick() -> None:
                now = time.perf_counter()
                gaps.append(now - last[0])
                last[0] = now

            timer = QTimer()
            timer.setInterval(1)
            timer.timeout.connect(tick)
            timer.start()
            t0 = time.perf_counter()
            start()
            call = time.perf_counter() - t0
            last[0] = time.perf_counter()
            if curator.busy:  # wait in an event loop, as the application does
                loop = QEventLoop()
                curator.busy_changed.connect(loop.quit)
                loop.exec()
                curator.busy_changed.disconnect(loop.quit)
            wall = time.perf_counter() - t0
            during = max(gaps + [0.0])
            gaps.clear()
            spin(700)  # what follows: the grid's debounced re-query and the status-bar counts
            timer.stop()
            print(f"{label}: UI thread held {ms(call)} by the action, longest stall {ms(during)} until recorded"
                  f" (worker done in {ms(wall)}), longest stall in the 0.7 s after {ms(max(gaps + [0.0]))}")

        grid.selectAll()
        ui_thread_cost(f"reject all {len(ids):,} selected images (R key)", view.reject)
        assert len(project.image_ids(status="rejected")) == len(ids)
        ui_thread_cost("undo that edit (Ctrl+Z)", window.undo)
        assert len(project.image_ids(status="rejected")) < len(ids)
        t = time.perf_counter()
        history.reject(ids, reason="bench")
        print(f"for comparison, the same edit run synchronously (CLI, core only): {ms(time.perf_counter() - t)}")
        t = time.perf_counter()
        history.undo()
        print(f"  and its undo: {ms(time.perf_counter() - t)}")
        t = time.perf_counter()
        model.reload()
        print(f"grid re-query after a change: {ms(time.perf_counter() - t)}")
        window.close()
        stop_all_jobs()
        project.close()


if __name__ == "__main__":
    main()
