"""Seconds from launching ``geospottr-gui`` to its first painted window (the brief asks for < 1.5 s).

    .venv/bin/python benchmarks/bench_startup.py [--runs 5] [--images 0] [--all-workspaces]

Each run is a fresh Python process that calls the real `geospottr_gui.app.main` on a temporary project
(``--images N`` fills it with N synthetic images first, to see whether a big project slows the start)
and stops at the main window's first paint event. Printed: every run, the median and the best, measured
from just before the process is spawned (interpreter start-up included) on this machine's clock. Uses
the offscreen Qt platform unless $DISPLAY is set (run under Xvfb to include a real X server).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: The child: install a paint probe on the application, then run the real entry point.
CHILD = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
QApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
app = QApplication(["geospottr-gui"])

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and isinstance(obj, QMainWindow) and not hasattr(self, "at"):
            self.at = time.time()
            print(f"FIRST_PAINT {self.at:.6f}", flush=True)
            QTimer.singleShot(0, obj.close)
            QTimer.singleShot(0, app.quit)
        return False

probe = FirstPaint()
app.installEventFilter(probe)
from geospottr_gui.app import main
main(["geospottr-gui"])
"""


def synthetic_project(root: Path, images: int, cities: int = 22) -> Path:
    """A project of `images` tiny distinct JPEGs spread over the seed's cities (rows in one transaction).

    Benchmark set-up only: files are written plainly (no fsync) and rows inserted directly, so 30,000
    images take seconds instead of the minutes a real import would.
    """
    from PIL import Image

    from core.data import catalog
    from core.data.project import Project, utcnow

    project = Project.init(root, [catalog.resolve(q) for q in catalog.SEED_PRESET[:cities]], target_count=1250)
    buf = io.BytesIO()
    Image.effect_noise((160, 120), 60).convert("RGB").save(buf, "JPEG", quality=80)
    base = buf.getvalue()
    city_rows = project.cities()
    rows = []
    now = utcnow()
    for n in range(images):
        city = city_rows[n % len(city_rows)]
        data = base + n.to_bytes(4, "big")  # bytes after the JPEG end marker: a distinct file, same picture
        image_id = f"{n:016x}"
        rel = f"images/{city.slug}/{image_id}.jpg"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append((image_id, rel, city.id, city.lat, city.lon, "bench", image_id, image_id, 160, 120,
                     ("pending", "accepted", "rejected")[n % 7 % 3], ("train", "val", "test")[n % 3], now))
    with project.transaction() as c:
        c.executemany("INSERT INTO images(id, path, city_id, lat, lon, source, source_id, sha256, width, height,"
                      " status, split, added_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    project.close()
    return root


def run_once(env: dict[str, str], workspaces_env: dict[str, str]) -> float:
    start = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD], env={**env, **workspaces_env}, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("FIRST_PAINT "):
            return float(line.split()[1]) - start
    raise SystemExit(f"the window never painted:\n{out.stdout}\n{out.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", type=int, default=0, help="synthetic images in the project (e.g. 30000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project = root / "project"
        if args.images:
            t = time.perf_counter()
            synthetic_project(project, args.images)
            print(f"made a project of {args.images:,} synthetic images in {time.perf_counter() - t:.1f} s")
        env = {**os.environ, "GEOSPOTTR_PROJECT": str(project), "XDG_CONFIG_HOME": str(root / "config"),
               "XDG_DATA_HOME": str(root / "data"), "PYTHONPATH": str(REPO)}
        if not env.get("DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        run_once(env, {})  # warm the OS file cache: the figure is a warm start, as a user's second launch
        times = [run_once(env, {}) for _ in range(args.runs)]
        for n, t in enumerate(times, 1):
            print(f"run {n}: first window painted after {t:.3f} s")
        print(f"startup to first paint ({args.images:,} images, platform {env.get('QT_QPA_PLATFORM', 'xcb')}): "
              f"median {statistics.median(times):.3f} s, best {min(times):.3f} s over {len(times)} runs")


if __name__ == "__main__":
    main()
