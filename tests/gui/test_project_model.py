"""The model belongs to the project: opening one picks its best finished run, a new project starts with
none (never the previous project's), and a model chosen by hand is remembered for its project only."""

from __future__ import annotations

import shutil

from core.data.project import Project
from geospottr_gui.main_window import MainWindow
from tests.core.training.test_best_model import make_run
from tests.gui.conftest import context_for

VIEWS = [("Evaluate", "geospottr_gui.views.evaluate.evaluate_view", "EvaluateView"),
         ("Predict", "geospottr_gui.views.predict.predict_view", "PredictView"),
         ("Challenge", "geospottr_gui.views.challenge.challenge_view", "ChallengeView")]


def test_each_project_uses_its_own_best_run_or_its_own_choice(qtbot, tmp_path, tiny_project, random_bundle):
    runs = tiny_project.runs_dir
    best = make_run(runs, "a-best", "finished", [0.6, 0.9], "2026-01-01T00:00:00")
    make_run(runs, "b-newest", "finished", [0.3], "2026-02-01T00:00:00")
    for run in ("a-best", "b-newest"):
        shutil.copy(random_bundle, runs / run / "best.pt")
    context = context_for(tiny_project, tmp_path)
    qtbot.waitUntil(lambda: context.model_path == str(best / "best.pt"), timeout=10000)
    window = MainWindow(context, VIEWS)
    qtbot.addWidget(window)
    window.show()
    views = {title: window.workspace(title) for title, _, _ in VIEWS}
    # Evaluate preselects the best run, not the newest; Predict and Challenge have a model, not "No model".
    assert views["Evaluate"].model_path() == str(best / "best.pt")
    assert views["Predict"].model_path == str(best / "best.pt")
    assert not views["Predict"].model_label.full_text().startswith("No model")
    assert views["Challenge"].model_label.full_text() == "Model: run a-best (val 90.0%)"  # not "best.pt"
    assert views["Evaluate"].model_combo.currentText() == "run a-best (val 90.0%)"

    # A new empty project: no model anywhere (today's bug: the other project's model was loaded).
    fresh = Project.init(tmp_path / "fresh")
    context.set_project(fresh)
    qtbot.wait(200)  # the best-run job of the new project finds nothing
    assert context.model_path is None
    assert views["Predict"].model_path is None and views["Predict"].model_label.full_text().startswith("No model")
    assert views["Challenge"].model_path is None and views["Evaluate"].model_path() is None

    # A model chosen by hand belongs to the project it was chosen in.
    other = tmp_path / "elsewhere.pt"
    shutil.copy(random_bundle, other)
    context.set_model(str(other))
    assert views["Challenge"].model_path == str(other) and views["Evaluate"].model_path() == str(other)
    context.set_project(Project.open(tiny_project.root))
    qtbot.waitUntil(lambda: context.model_path == str(best / "best.pt"), timeout=10000)
    assert views["Evaluate"].model_path() == str(best / "best.pt")
    context.set_project(Project.open(fresh.root))
    assert context.model_path == str(other) and views["Predict"].model_path == str(other)
    window.close()
    for view in views.values():
        view.deleteLater()
    qtbot.wait(50)


def test_every_settings_key_is_named_in_the_settings_module():
    """No module reads or writes QSettings by a key of its own (one name, one type, one default)."""
    import re
    from pathlib import Path

    import geospottr_gui

    spelled = re.compile(r"settings\.(value|setValue|remove)\(")
    root = Path(geospottr_gui.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "settings.py" and spelled.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_a_finished_run_becomes_the_model_only_if_it_validated_best(qtbot, tmp_path, tiny_project, random_bundle):
    """Issue 28 item 4: a new run at 31% must not replace the 45% one; a better run does replace it, and a
    model chosen by hand stays whatever finishes."""
    from core.training.trainer import TrainResult  # torch: imported by this test only
    from geospottr_gui.views.train.train_view import TrainView

    runs = tiny_project.runs_dir
    good = make_run(runs, "20261201-100000-baseline", "finished", [0.45], "2026-12-01T10:00:00")
    shutil.copy(random_bundle, good / "best.pt")
    context = context_for(tiny_project, tmp_path)
    qtbot.waitUntil(lambda: context.model_path == str(good / "best.pt"), timeout=10000)
    view = TrainView(context)
    qtbot.addWidget(view)

    def finish(run_id: str, acc: float) -> None:
        folder = make_run(runs, run_id, "finished", [acc], f"2026-12-0{len(list(runs.iterdir()))}T10:00:00")
        view._on_finished(TrainResult(run_id, str(folder), "finished", 1, acc, str(folder / "best.pt"),
                                      str(folder / "last.pt"), "1 epochs done"))

    finish("20261202-100000-baseline", 0.31)
    qtbot.wait(300)  # the rule's job runs; the model must stay the 45% run
    assert context.model_path == str(good / "best.pt") and context.model_label() == \
        "run 20261201-100000-baseline (val 45.0%)"
    finish("20261203-100000-baseline", 0.60)
    qtbot.waitUntil(lambda: "20261203" in (context.model_path or ""), timeout=10000)
    assert context.model_label() == "run 20261203-100000-baseline (val 60.0%)"
    context.set_model(str(good / "best.pt"))  # chosen by hand: kept
    finish("20261204-100000-baseline", 0.90)
    qtbot.wait(300)
    assert context.model_path == str(good / "best.pt")
    view.shutdown()
