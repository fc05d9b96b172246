"""Seconds from closing the main window to the end of the process, on the sample photos (issue 28: < 1 s).

    .venv/bin/python benchmarks/bench_quit.py [--runs 5] [--photos 400] [--settle 8] [--job] [--job-s 3]

`--photos 0` needs no sample photos: an empty project, the quit of an idle app (it replaces bench_gui_quit.py).

A sample project is built once (`geospottr init` / `import` / `split` on `../shared/data/gsv-croatia`, or
$GEOSPOTTR_TEST_DATA) and copied for each run. Each run is a fresh process running the real
`geospottr_gui.app.main` on its copy (offscreen Qt unless $DISPLAY is set): it opens every workspace (the
Predict and Challenge maps start QtWebEngine), waits `--settle` seconds for the start-up jobs, and with
`--job` starts a short background job (Dataset > Looks > Draw map: embeds the photos with torch) and closes
the window `--job-s` seconds into it, so the quit has a running job to stop. The child prints the time of
its close request; the parent, on the same clock, takes the time the process has exited. Only measures.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GEOSPOTTR_TEST_DATA") or REPO.parent / "shared" / "data" / "gsv-croatia")
CITIES = "Zagreb,Osijek,Rijeka,Split"

CHILD = r"""
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox
import geospottr_gui.app as app_module

# "Stop and quit?" with a job running: the user answers Yes (offscreen, nobody could click the dialog).
QMessageBox.question = staticmethod(lambda *args, **kwargs: QMessageBox.StandardButton.Yes)

settle, job, job_s = float(sys.argv[1]), sys.argv[2] == "1", float(sys.argv[3])
real_open = app_module.open_window

def open_window(args, settings):
    window = real_open(args, settings)
    for title in list(window._specs):
        window.show_workspace(title)

    def close_now():
        print(f"CLOSE {time.time():.6f}", flush=True)
        window.close()

    def start_job():
        window.show_workspace("Dataset")
        dataset = window.workspaces["Dataset"]
        dataset.right.setCurrentWidget(dataset._looks_slot)
        dataset.looks.draw_button.click()
        print(f"JOB {time.time():.6f}", flush=True)
        QTimer.singleShot(int(job_s * 1000), close_now)

    QTimer.singleShot(int(settle * 1000), start_job if job else close_now)
    return window

app_module.open_window = open_window
sys.exit(app_module.main(["geospottr-gui", "--bench"]))
"""


def cli(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "core", *args], check=True, env=env, cwd=REPO,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sample_project(folder: Path, photos: int) -> Path:
    """A project of the first `photos` sample photos, imported and split as the README does (none: only the
    cities)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": str(folder / "config")}
    project = folder / "project"
    cli("init", str(project), "--cities", CITIES, env=env)
    if not photos:
        return project
    manifest = folder / "manifest.csv"
    with open(DATA / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(manifest, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows[:photos]:
            for key in ("path", "file", "image", "filename"):  # the manifest's paths, made absolute
                if key in row and row[key] and not os.path.isabs(row[key]):
                    row[key] = str(DATA / row[key])
            writer.writerow(row)
    cli("--project", str(project), "import", str(manifest), env=env)
    cli("--project", str(project), "split", env=env)
    return project


def one_run(template: Path, settle: float, job: bool, job_s: float, give_up: float) -> float:
    """Seconds from the close request to the exit; inf when the process outlived `give_up` seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(template, project)
        env = {**os.environ, "GEOSPOTTR_PROJECT": str(project), "XDG_CONFIG_HOME": str(Path(tmp) / "config"),
               "PYTHONPATH": str(REPO)}
        env.setdefault("QT_QPA_PLATFORM", "offscreen" if "DISPLAY" not in os.environ else "xcb")
        env.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(settle), "1" if job else "0", str(job_s)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
        close_at = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("CLOSE "):
                close_at = float(line.split()[1])
                break
        try:
            proc.wait(timeout=None if close_at is None else give_up)
        except subprocess.TimeoutExpired:  # still alive long after the close: say so rather than hang
            proc.kill()
            proc.wait()
            return float("inf")
        ended = time.time()
        if close_at is None:
            raise SystemExit(f"the child did not reach the close (exit {proc.returncode})")
        return ended - close_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--photos", type=int, default=400, help="sample photos in the project (0: an empty project)")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds between the window and the close")
    parser.add_argument("--job", action="store_true", help="close while a background job (Looks map) runs")
    parser.add_argument("--job-s", type=float, default=3.0, help="seconds of the job before the close")
    parser.add_argument("--give-up", type=float, default=60.0, help="seconds after the close before a run is killed")
    args = parser.parse_args()
    if args.photos and not (DATA / "manifest.csv").is_file():
        raise SystemExit(f"no sample photos at {DATA} (set GEOSPOTTR_TEST_DATA, or --photos 0 for an empty project)")
    if args.job and not args.photos:
        raise SystemExit("--job needs photos to embed (--photos 1 or more)")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        template = sample_project(Path(tmp), args.photos)
        print(f"sample project: {args.photos} photos, built in {time.perf_counter() - started:.1f} s")
        times = [one_run(template, args.settle, args.job, args.job_s, args.give_up) for _ in range(args.runs)]
    for i, t in enumerate(times, 1):
        print(f"run {i}: quit took {t:.2f} s" if t != float("inf") else f"run {i}: still running {args.give_up:.0f} s "
              "after the close (killed)")
    what = "a Looks map job running" if args.job else "no job running"
    print(f"median {statistics.median(times):.2f} s over {len(times)} runs, best {min(times):.2f} s, "
          f"worst {max(times):.2f} s (close request to process exit, {what})")


if __name__ == "__main__":
    main()
