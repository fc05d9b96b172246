"""The Dataset workspace at scale (issue 29): thumbnail-grid scroll frames and the dataset map's open and pan.

    QT_QPA_PLATFORM=offscreen QTWEBENGINE_DISABLE_SANDBOX=1 \\
      .venv/bin/python benchmarks/bench_gui_scale.py PROJECT [PROJECT ...] [--steps 30] [--json out.json]

Each project is measured in a fresh process (as a user starting the app), on a private copy: its database
copied with SQLite's backup API (the original is opened read-only, so a training run may keep using it)
and its ``images/`` hard-linked file by file (no photo is copied or written), with an empty ``cache/``,
so thumbnails start cold and are written into the copy only.

Grid: the real Dataset workspace (`MainWindow` with the Dataset workspace, 1400 x 900) is shown, the grid
waits until every row is laid out, then its scroll bar moves one viewport (pageStep) per step, `--steps`
steps from the top. A step's time runs from ``setValue`` until the event queue is drained and the viewport
has painted (`processEvents`, plus a synchronous `repaint` when no paint event went through the
viewport). Cold pass: no thumbnail is made yet; the background job makes them while the pass runs (one
step every `--interval` ms, the event loop running in between), so a step includes handling whatever
thumbnails arrived (their ``dataChanged`` repaints), and "stall" is the longest single event-loop turn
in between steps. Warm pass: the same positions again once every requested thumbnail is in memory.

Map: the Map tab is opened as a user does (first use starts Chromium); times are taken from the tab
change to the page built (worker), to ``loadFinished`` of the page and to the page's
``window.geospottrReady`` (set by ``resources/maps/geospottr.js`` on the first animation frame after
every layer, clusters included, is drawn). Then a second open (Refresh: Chromium already running), and
five ``map.panBy([300, 200])`` without animation, each timed in the page from the call to the second
animation frame after it (the pan's redraw painted).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def private_copy(source: Path, dest: Path) -> Path:
    """`dest` as a project equal to `source`: its DB copied (read-only from `source`), images hard-linked."""
    dest.mkdir(parents=True)
    src = sqlite3.connect(f"file:{source / 'geospottr.db'}?mode=ro", uri=True)
    dst = sqlite3.connect(dest / "geospottr.db")
    src.backup(dst)
    dst.close()
    src.close()
    shutil.copytree(source / "images", dest / "images", copy_function=os.link)
    for sub in ("cache", "runs"):
        (dest / sub).mkdir()
    return dest


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": pct(values, 0.5), "p95": pct(values, 0.95), "max": max(values) if values else float("nan"),
            "n": len(values)}


# ---------------------------------------------------------------------------------------------- one project
def measure(project_dir: Path, steps: int, interval_ms: int) -> dict[str, Any]:
    from PySide6 import QtWebEngineWidgets  # noqa: F401  (before the QApplication, as the app does)
    from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, QSettings, Qt
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication([])

    from core.data.project import Project
    from geospottr_gui.context import AppContext
    from geospottr_gui.main_window import WORKSPACES, MainWindow
    from geospottr_gui.views.widgets.map_view import evaluate_js
    from geospottr_gui.workers import stop_all_jobs

    out: dict[str, Any] = {"load_start": load_average()}

    def spin(ms_: float) -> float:
        """Run the event loop for `ms_`; the longest single turn (ms)."""
        end = time.perf_counter() + ms_ / 1000
        worst = 0.0
        while time.perf_counter() < end:
            t = time.perf_counter()
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
            worst = max(worst, time.perf_counter() - t)
            time.sleep(0.001)
        return worst * 1000

    def wait_for(cond, timeout_s: float, what: str) -> float:
        t = time.perf_counter()
        while not cond():
            if time.perf_counter() - t > timeout_s:
                raise TimeoutError(f"{what}: not within {timeout_s} s")
            spin(5)
        return time.perf_counter() - t

    class PaintCounter(QObject):
        count = 0

        def eventFilter(self, obj, event):  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    with tempfile.TemporaryDirectory(prefix="bench-gui-scale-") as tmp:
        t = time.perf_counter()
        copy = private_copy(project_dir, Path(tmp) / "project")
        out["copy_s"] = time.perf_counter() - t
        project = Project.open(copy)
        out["images"] = len(project.image_ids())
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        t = time.perf_counter()
        window = MainWindow(AppContext(project, settings), WORKSPACES[:1])
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        dataset = window.workspaces["Dataset"]
        panel = dataset.curation
        grid, model = panel.grid, panel.model
        bar = grid.verticalScrollBar()
        # Filled: every row in the model and laid out (the view lays out in batches): the last row placed.
        wait_for(lambda: model.rowCount() == out["images"] and grid.visualRect(model.index(model.rowCount() - 1))
                 .isValid() and bar.maximum() > 0 or out["images"] == 0, 120, "grid filled")
        out["grid_open_s"] = time.perf_counter() - t
        spin(300)
        counter = PaintCounter()
        grid.viewport().installEventFilter(counter)
        page = bar.pageStep()
        positions = [min(bar.maximum(), k * page) for k in range(1, steps + 1)]
        positions = sorted(set(positions), key=positions.index)
        out["grid"] = {"rows": model.rowCount(), "viewport": [grid.viewport().width(), grid.viewport().height()],
                       "columns": grid.columns(), "page_px": page, "range_px": bar.maximum(),
                       "steps": len(positions)}

        def scroll_pass(pause_ms: float) -> tuple[list[float], float, int]:
            frames, stall, forced = [], 0.0, 0
            bar.setValue(0)
            spin(pause_ms)
            for value in positions:
                before = counter.count
                t0 = time.perf_counter()
                bar.setValue(value)
                app.processEvents()
                if counter.count == before:
                    forced += 1
                    grid.viewport().repaint()
                frames.append((time.perf_counter() - t0) * 1000)
                stall = max(stall, spin(pause_ms))
            return frames, stall, forced

        provider = model.thumbnails
        t = time.perf_counter()
        profiler = None
        if os.environ.get("BENCH_PROFILE"):  # the UI thread's cold pass, by function, to stderr
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        cold, cold_stall, cold_forced = scroll_pass(interval_ms)
        if profiler is not None:
            import pstats
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            if os.environ.get("BENCH_PROFILE") == "callers":
                pstats.Stats(profiler, stream=sys.stderr).print_callers("resolve|_from_parts")
        # Every thumbnail the pass asked for made (the job's queue drained, last events handled).
        wait_for(lambda: len(provider.queue) == 0, 300, "thumbnails")
        spin(500)
        out["thumbs_done_s"] = time.perf_counter() - t
        out["thumbs_in_memory"] = len(provider._images)
        warm, warm_stall, warm_forced = scroll_pass(interval_ms)
        out["cold"] = {**summary(cold), "stall_ms": cold_stall, "forced_repaints": cold_forced}
        out["warm"] = {**summary(warm), "stall_ms": warm_stall, "forced_repaints": warm_forced}
        out["load_after_grid"] = load_average()

        # ------------------------------------------------------------------ map
        marks: dict[str, float] = {}
        t = time.perf_counter()
        dataset.right.setCurrentIndex(dataset.right.indexOf(dataset._map_slot))
        app.processEvents()
        map_view = dataset.map
        marks["tab_built"] = time.perf_counter() - t
        map_view.refreshed.connect(lambda n: marks.setdefault("page_built", time.perf_counter() - t))
        map_view.map.loaded.connect(lambda ok: marks.setdefault("load_finished", time.perf_counter() - t))
        wait_for(lambda: "load_finished" in marks, 120, "map page loaded")

        def ready() -> bool:
            return bool(evaluate_js(map_view.map, "window.geospottrReady === true", 30000))

        wait_for(ready, 120, "map layers drawn")
        marks["ready"] = time.perf_counter() - t
        page_path = map_view.map.current
        out["map_page_bytes"] = page_path.stat().st_size if page_path else 0
        out["map_points"] = evaluate_js(map_view.map, "window.geospottrPointCount || 0")
        out["map_first"] = marks
        # In the page: from navigation start to the layers drawn (no Python round trips in it).
        out["map_in_page_ms"] = evaluate_js(map_view.map, "window.geospottrReadyAt")
        # Second open: Chromium is running; the page is rebuilt and reloaded (Refresh).
        again: dict[str, float] = {}
        t = time.perf_counter()
        generation = map_view.map.generation
        map_view.refreshed.connect(lambda n: again.setdefault("page_built", time.perf_counter() - t))
        map_view.map.loaded.connect(lambda ok: again.setdefault("load_finished", time.perf_counter() - t)
                                    if map_view.map.generation > generation else None)
        map_view.refresh()
        wait_for(lambda: "load_finished" in again, 120, "map page reloaded")
        wait_for(ready, 120, "map layers drawn again")
        again["ready"] = time.perf_counter() - t
        out["map_again"] = again
        spin(300)

        pans = []
        for k in range(5):
            dx, dy = (300, 200) if k % 2 == 0 else (-300, -200)
            evaluate_js(map_view.map, "(function () { window.geospottrPanMs = null; var t0 = performance.now();"
                        f" geospottrMap.panBy([{dx}, {dy}], {{animate: false}});"
                        " requestAnimationFrame(function () { requestAnimationFrame(function () {"
                        " window.geospottrPanMs = performance.now() - t0; }); }); return true; })()")
            wait_for(lambda: evaluate_js(map_view.map, "window.geospottrPanMs !== null"), 30, "pan")
            pans.append(float(evaluate_js(map_view.map, "window.geospottrPanMs")))
        out["pan"] = summary(pans)
        out["pan_all"] = pans
        out["map_script_errors"] = list(map_view.map.script_errors)
        out["load_end"] = load_average()
        window.close()
        stop_all_jobs()
        project.close()
    return out


# ---------------------------------------------------------------------------------------------- driver
def table(rows: list[dict[str, Any]]) -> str:
    head = ("| images | load avg (start) | grid open s | cold p50 / p95 / max ms | cold stall ms "
            "| warm p50 / p95 / max ms | map open s (built / loaded / drawn) | map again s | pan p50 / max ms "
            "| page MB |")
    lines = [head, "|" + "|".join(["---"] * 10) + "|"]
    for r in rows:
        c, w, m, a, p = r["cold"], r["warm"], r["map_first"], r["map_again"], r["pan"]
        lines.append(
            f"| {r['images']:,} | {r['load_start']} | {r['grid_open_s']:.2f} "
            f"| {c['p50']:.1f} / {c['p95']:.1f} / {c['max']:.1f} | {c['stall_ms']:.0f} "
            f"| {w['p50']:.1f} / {w['p95']:.1f} / {w['max']:.1f} "
            f"| {m['ready']:.2f} ({m.get('page_built', float('nan')):.2f} / {m['load_finished']:.2f} / {m['ready']:.2f}) "
            f"| {a['ready']:.2f} | {p['p50']:.1f} / {p['max']:.1f} | {r['map_page_bytes'] / 1e6:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", type=Path)
    parser.add_argument("--steps", type=int, default=30, help="scroll steps of one viewport (default 30)")
    parser.add_argument("--interval", type=int, default=50, help="ms of event loop between steps (default 50)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # internal: measure one project, print JSON
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(measure(args.one, args.steps, args.interval)), flush=True)
        return
    if not args.projects:
        parser.error("name at least one project folder")
    print(f"load average at start: {load_average()} ({os.cpu_count()} CPUs)", flush=True)
    rows = []
    for project in args.projects:
        cmd = [sys.executable, __file__, "--one", str(project), "--steps", str(args.steps),
               "--interval", str(args.interval)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"{project}: no result (exit {proc.returncode})\n{proc.stderr[-3000:]}")
        row = json.loads(line[len("RESULT "):])
        row["project"] = str(project)
        rows.append(row)
        print(f"{project}: {json.dumps(row)}", flush=True)
    print()
    print(table(rows))
    print(f"\nload average at end: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
