"""Screenshots of every workspace for docs/screenshots/ (and the README), from real street photos.

    DISPLAY=:44 .venv/bin/python docs/make_screenshots.py [--data ../shared/data/gsv-croatia]
        [--sizes 1024x700 1920x1080] [--epochs 4] [--out docs/screenshots]

Needs an X server (Xvfb is enough: ``Xvfb :44 -screen 0 1920x1080x24 &``) and ImageMagick's ``import``:
the maps are QtWebEngine pages, which only a real screen capture shows as the user sees them. The script
imports the gsv-croatia photos (Zagreb, Osijek, Rijeka, Split) into a temporary project, splits it by place,
trains a quick efficientnet-lite0 (its ImageNet weights ship with GeoSpottr, so no download), opens the real
main window at each size at the top-left of the screen, brings each workspace into a state worth
showing (a selection, a run, a report, a predicted test photo, a challenge reveal) and captures it.
Files: ``<workspace>-<width>x<height>.png``. Street View imagery (c) Google: photos are shown whole, so
the mark in their corner stays visible.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def wait(app, seconds: float, until=None) -> None:
    """Run the event loop for `seconds` (or until `until()` is true)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if until is not None and until():
            return
        time.sleep(0.02)


def run_until(app, signal, start, seconds: float) -> None:
    """Call `start()` and run the event loop until `signal` fires (or `seconds` pass)."""
    fired: list = []
    signal.connect(lambda *args: fired.append(args))
    start()
    wait(app, seconds, lambda: bool(fired))


def capture(path: Path, width: int, height: int) -> None:
    """The top-left `width` x `height` of the X screen (where the window is) into `path`."""
    subprocess.run(["import", "-window", "root", "-crop", f"{width}x{height}+0+0", "+repage", str(path)],
                   check=True)
    print(f"wrote {path}")


def build_project(root: Path, data: Path, epochs: int):
    """The photos imported, split by place, and one finished efficientnet-lite0 run."""
    from core.data import catalog
    from core.data.importing import import_source
    from core.data.project import Project
    from core.data.splitting import split_project
    from core.training.trainer import TrainConfig, train

    project = Project.init(root, [catalog.resolve(q) for q in ("Zagreb,HR", "Osijek,HR", "Rijeka,HR", "Split,HR")])
    import_source(project, data / "manifest.csv")
    split_project(project, seed=0)
    result = train(project, TrainConfig(arch="efficientnet-lite0", weights="imagenet", cache_features=True,
                                        image_size=160, epochs=epochs, batch_size=32, device="cpu",
                                        num_workers=0))
    print(f"trained run {result.run_id}: {result.status}, best val acc {result.best_val_acc}")
    return project


def shoot(app, project, size: str, tmp: Path, out: Path, test_photo: Path) -> None:
    """Every workspace of a fresh main window of `size` ("1024x700"), captured into `out`."""
    from PySide6.QtCore import QItemSelectionModel, QSettings

    from core.training.runs import list_runs
    from geospottr_gui.context import AppContext
    from geospottr_gui.main_window import MainWindow

    width, height = (int(v) for v in size.split("x"))
    settings = QSettings(str(tmp / f"settings-{size}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(AppContext(project, settings))
    window.setGeometry(0, 0, width, height)
    window.show()
    wait(app, 60, lambda: window.context.model_path is not None)
    wait(app, 3)

    window.show_workspace("Dataset")
    dataset = window.workspaces["Dataset"]
    grid = dataset.curation.grid
    wait(app, 4)
    grid.selectionModel().setCurrentIndex(dataset.curation.model.index(5),
                                          QItemSelectionModel.SelectionFlag.ClearAndSelect)
    wait(app, 4)
    capture(out / f"dataset-{size}.png", width, height)

    window.show_workspace("Train")
    train = window.workspaces["Train"]
    wait(app, 60, lambda: train.message.text().startswith("Ready"))
    run_id = train.runs.checked_run_ids() or [r.run_id for r in list_runs(project)]
    train.runs.set_checked(run_id[0])  # its curves overlaid on the plots
    train.runs.select_run(run_id[0])
    wait(app, 6)
    capture(out / f"train-{size}.png", width, height)

    window.show_workspace("Evaluate")
    evaluate = window.workspaces["Evaluate"]
    run_until(app, evaluate.evaluated, evaluate.run_button.click, 600)
    wait(app, 3)
    capture(out / f"evaluate-{size}.png", width, height)

    window.show_workspace("Predict")
    predict = window.workspaces["Predict"]
    predict.add_paths([test_photo])
    wait(app, 120, lambda: predict.entries and predict.entries[0].done)
    wait(app, 30, lambda: predict.map.is_loaded)
    wait(app, 4)
    capture(out / f"predict-{size}.png", width, height)

    window.show_workspace("Challenge")
    challenge = window.workspaces["Challenge"]
    challenge.rounds.setValue(5)
    run_until(app, challenge.round_shown, lambda: challenge.new_game(seed=4), 120)
    wait(app, 30, lambda: challenge.map.is_loaded)
    challenge.select_city("zagreb")
    run_until(app, challenge.revealed, challenge.submit, 30)
    wait(app, 30, lambda: challenge.map.is_loaded)
    wait(app, 4)
    capture(out / f"challenge-{size}.png", width, height)

    window.exits_process = False
    for view in window.workspaces.values():
        view.hide()
    window.close()
    wait(app, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "gsv-croatia")
    parser.add_argument("--sizes", nargs="+", default=["1024x700", "1920x1080"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    if "DISPLAY" not in os.environ:
        raise SystemExit("needs an X display (e.g. Xvfb :44 -screen 0 1920x1080x24 & DISPLAY=:44)")
    if not (args.data / "manifest.csv").is_file():
        raise SystemExit(f"no photos at {args.data}: pass --data")
    tmp = Path(tempfile.mkdtemp(prefix="geospottr-shots-"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")  # the user's own settings stay untouched
    import torch

    torch.set_num_threads(2)
    project = build_project(tmp / "croatia", args.data, args.epochs)

    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication(["geospottr-gui"])

    args.out.mkdir(parents=True, exist_ok=True)
    test_photo = project.image_path(next(r for r in project.images(split="test") if r.city_slug == "split"))
    for size in args.sizes:
        shoot(app, project, size, tmp, args.out, test_photo)
    project.close()


if __name__ == "__main__":
    main()
