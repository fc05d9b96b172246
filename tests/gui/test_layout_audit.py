"""No clipped text at 1024x700, and panes that do not jump.

Every workspace, in the states a user meets (a selection in the grid, an evaluation report, a predicted
photo and a failed one, a challenge round), and the main dialogs are walked by
`layout_audit.clipped_texts`: font metrics against each widget's real room, clipping by its parents
included. The window must also fit 1024x700 (a minimum size above it pushes the right edge off screen).
"""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QItemSelectionModel

from geospottr_gui.main_window import WORKSPACES
from geospottr_gui.views.dataset.problems_dialog import ProblemsDialog
from geospottr_gui.views.widgets.dialogs import AboutDialog, CityPickerDialog, ShortcutsDialog
from tests.core.training.test_best_model import make_run

from .dataset_support import make_window
from .layout_audit import clipped_texts

SIZE = (1024, 700)


@pytest.fixture
def window(qtbot, tiny_project, tmp_path, random_bundle):
    # A run named as the trainer names them: long names must not widen the window.
    run = make_run(tiny_project.runs_dir, "20261130-233409-efficientnet-lite0", "finished", [0.5],
                   "2026-11-30T23:34:09")
    shutil.copy(random_bundle, run / "best.pt")
    window = make_window(qtbot, tiny_project, tmp_path, all_workspaces=True)
    qtbot.waitUntil(lambda: window.context.model_path == str(run / "best.pt"), timeout=10000)
    for title, _module, _cls in WORKSPACES:
        window.workspace(title)
    window.resize(*SIZE)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == SIZE, timeout=3000)
    yield window
    window.close()
    for view in window.workspaces.values():
        view.deleteLater()
    qtbot.wait(50)


def _select(curation, rows: list[int]) -> None:
    selection = curation.grid.selectionModel()
    selection.setCurrentIndex(curation.model.index(rows[0]), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    for row in rows[1:]:
        selection.select(curation.model.index(row), QItemSelectionModel.SelectionFlag.Select)


def test_every_workspace_and_dialog_shows_its_text_whole_at_1024x700(qtbot, window, photo_factory, tmp_path):
    problems: list[str] = []

    def audit(where: str, widget) -> None:
        qtbot.wait(100)
        problems.extend(f"{where}: {p}" for p in clipped_texts(widget))
        # A widget that grows the window's minimum past the screen keeps it there for the rest of the run.
        if window.minimumSizeHint().width() > SIZE[0]:
            problems.append(f"{where}: the window now needs {window.minimumSizeHint().width()} px")

    window.show_workspace("Dataset")
    dataset = window.workspaces["Dataset"]
    audit("Dataset", dataset)
    _select(dataset.curation, [0])
    audit("Dataset, 1 selected", dataset)
    _select(dataset.curation, [0, 1, 2])
    audit("Dataset, 3 selected", dataset)
    dataset.show_panel(dataset.download)
    audit("Dataset, Download", dataset)
    dataset.right.setCurrentWidget(dataset._map_slot)  # the Map tab (QtWebEngine), built on first show
    qtbot.waitUntil(lambda: dataset.map is not None and dataset.map.summary.text() != "Drawing the map…",
                    timeout=30000)
    audit("Dataset, Map", dataset)
    dataset.right.setCurrentIndex(0)
    audit("status bar", window.statusBar())

    window.show_workspace("Train")
    audit("Train", window.workspaces["Train"])

    window.show_workspace("Evaluate")
    evaluate = window.workspaces["Evaluate"]
    with qtbot.waitSignal(evaluate.evaluated, timeout=60000):
        evaluate.run_button.click()
    audit("Evaluate, report", evaluate)
    evaluate.tabs.setCurrentWidget(evaluate.explain)
    qtbot.waitUntil(evaluate.explain.shortcut_button.isEnabled, timeout=30000)
    evaluate.explain.shortcut_button.click()  # a report of a dozen lines must squeeze nothing
    qtbot.waitUntil(lambda: evaluate.explain.shortcuts is not None, timeout=120000)
    audit("Evaluate, after Check shortcuts", evaluate)
    caption, picture = evaluate.explain.caption, evaluate.explain.large
    assert caption.geometry().top() >= picture.geometry().bottom(), "the caption rides over the heat map"

    window.show_workspace("Predict")
    predict = window.workspaces["Predict"]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo at all")
    predict.add_paths([photo_factory("a-street-photo-with-a-long-file-name.jpg", seed=1), broken])
    qtbot.waitUntil(lambda: len(predict.entries) == 2 and not predict.busy, timeout=60000)
    predict.queue.setCurrentRow(0)
    audit("Predict, ranking", predict)
    predict.queue.setCurrentRow(1)
    audit("Predict, unreadable", predict)

    window.show_workspace("Challenge")
    challenge = window.workspaces["Challenge"]
    audit("Challenge", challenge)
    with qtbot.waitSignal(challenge.round_shown, timeout=60000):
        challenge.new_game(seed=1)
    audit("Challenge, round", challenge)
    challenge.select_city(window.context.project.cities()[0].slug)
    with qtbot.waitSignal(challenge.revealed, timeout=10000):
        challenge.guess_button.click()
    audit("Challenge, reveal", challenge)

    context = window.context
    for name, dialog in (("About", AboutDialog({"GeoSpottr": "1", "Device": "cpu"}, window)),
                         ("Shortcuts", ShortcutsDialog(window)),
                         ("City picker", CityPickerDialog(context.project.cities(), window)),
                         ("Find problems", ProblemsDialog(context, window))):
        dialog.show()
        qtbot.waitExposed(dialog)
        audit(name, dialog)
        dialog.close()
    assert not problems, "\n".join(problems)
    assert (window.width(), window.height()) == SIZE  # no workspace pushed the window past 1024x700


def test_the_images_pane_keeps_its_place_whatever_is_selected(qtbot, window):
    """Selecting 1, 3, 1 images used to move the Images tab's left edge 618 -> 584 -> 618 px."""
    window.show_workspace("Dataset")
    dataset = window.workspaces["Dataset"]
    edges, detail = [], []
    for rows in ([0], [0, 1, 2], [0], [5]):
        _select(dataset.curation, rows)
        qtbot.wait(150)
        edges.append(dataset.right.mapTo(window, dataset.right.rect().topLeft()).x())
        detail.append(dataset.curation.splitter.sizes())
    assert len(set(edges)) == 1, edges
    assert all(sizes == detail[0] for sizes in detail), detail
