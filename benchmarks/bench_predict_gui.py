"""How fast the Predict workspace answers a dropped photo, on CPU, with the real widgets and web map.

Prints: model load time (background), drop -> ranked list shown (what the user waits for; the target is
< 300 ms), ranked list -> map page loaded, and the map page build time alone. Random weights: speed does
not depend on them.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_predict_gui.py [--arch geospottr] [--drops 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if hasattr(os, "geteuid") and os.geteuid() == 0:
    os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="baseline")
    parser.add_argument("--drops", type=int, default=10)
    parser.add_argument("--cities", type=int, default=22)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()

    from PySide6 import QtWebEngineWidgets  # noqa: F401
    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    import torch
    from PySide6.QtWidgets import QApplication

    from core.data import catalog
    from core.data.project import Project
    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo, save_bundle
    from geospottr_gui.context import AppContext
    from geospottr_gui.views.predict.predict_view import PredictView
    from tests.conftest import make_photo

    if args.threads:
        torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="bench-predict-gui-"))
    classes = [ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in catalog.preset("seed")[: args.cities]]
    spec = registry.spec(args.arch)
    meta = BundleMeta(arch=args.arch, image_size=spec.default_image_size, classes=classes)
    bundle = save_bundle(tmp / "model.pt", registry.build(args.arch, len(classes)).eval(), meta)
    photos = [make_photo(tmp / "photos" / f"{i}.jpg", seed=i, size=(1024, 768)) for i in range(args.drops + 1)]

    def wait(predicate, timeout_s: float = 120.0) -> None:
        """Run the real event loop (idle between events, as in the app) until `predicate` holds."""
        loop = QEventLoop()
        poll = QTimer(interval=2)
        poll.timeout.connect(lambda: predicate() and loop.quit())
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        poll.start()
        if not predicate():
            loop.exec()
        poll.stop()
        if not predicate():
            raise TimeoutError

    view = PredictView(AppContext(Project.init(tmp / "project")))
    view.resize(1280, 820)
    view.show()
    t0 = time.perf_counter()
    view.set_model(str(bundle))
    wait(lambda: view.predictor is not None)
    load_s = time.perf_counter() - t0

    shown: list[float] = []
    view.prediction_shown.connect(lambda _: shown.append(time.perf_counter()))
    to_list, to_map = [], []
    for i, photo in enumerate(photos):
        before = len(shown)
        t0 = time.perf_counter()
        view.add_paths([photo])
        wait(lambda before=before: len(shown) > before)
        t1 = shown[-1]
        wait(lambda: view.map.is_loaded)
        t2 = time.perf_counter()
        if i:  # the first drop warms caches (thread pool, JIT of the web page)
            to_list.append((t1 - t0) * 1000)
            to_map.append((t2 - t1) * 1000)

    from core.maps import prediction_map
    from geospottr_gui.views.widgets.map_view import assets_dir

    ranking = view.current.result.ranking
    build = []
    for _ in range(20):
        t0 = time.perf_counter()
        prediction_map(ranking, tmp / "bench.html", assets_dir())
        build.append((time.perf_counter() - t0) * 1000)
    print(f"arch={args.arch} classes={len(classes)} image_size={meta.image_size} torch_threads={torch.get_num_threads()}")
    print(f"model load (background):        {load_s * 1000:8.0f} ms")
    print(f"drop -> ranked list shown:      median {statistics.median(to_list):6.0f} ms   max {max(to_list):6.0f} ms"
          f"   (n={len(to_list)}, photos 1024x768 JPEG)")
    print(f"ranked list -> map page loaded: median {statistics.median(to_map):6.0f} ms   max {max(to_map):6.0f} ms")
    print(f"map page build alone:           median {statistics.median(build):6.1f} ms")
    view.shutdown()
    QTimer.singleShot(0, app.quit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
