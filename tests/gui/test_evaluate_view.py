"""The Evaluate workspace on a real bundle and a real project: heatmap shape, cell click, table, export."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from geospottr_gui.context import AppContext
from geospottr_gui.views.evaluate.evaluate_view import EvaluateView

IMAGE_SIZE = 32


@pytest.fixture
def bundle(tiny_project):
    """A baseline model (random weights: its mistakes are plentiful and spread over cells) saved as run r1."""
    import torch

    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo, save_bundle

    torch.manual_seed(3)
    cities = tiny_project.cities()
    meta = BundleMeta(arch="baseline", image_size=IMAGE_SIZE, run_id="r1",
                      classes=[ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in cities])
    (tiny_project.runs_dir / "r1").mkdir(parents=True, exist_ok=True)  # a run folder, as the trainer leaves it
    (tiny_project.runs_dir / "r1" / "config.json").write_text('{"arch": "baseline", "created": "2026-01-01T00:00:00"}')
    return save_bundle(tiny_project.runs_dir / "r1" / "best.pt", registry.build("baseline", len(cities)).eval(), meta)


@pytest.fixture
def view(qtbot, tiny_project, bundle):
    context = AppContext(tiny_project)
    v = EvaluateView(context)
    qtbot.addWidget(v)
    v.resize(1200, 800)
    v.show()
    yield v
    v.shutdown()


def evaluate(qtbot, view, split="test"):
    view.split_combo.setCurrentText(split)
    with qtbot.waitSignal(view.evaluated, timeout=30000) as blocker:
        view.run_button.click()
    return blocker.args[0]


def test_lists_runs_and_evaluates_with_a_square_confusion(qtbot, view, bundle, tiny_project):
    assert view.model_path() == str(bundle)
    report = evaluate(qtbot, view)
    n = len(tiny_project.cities())
    heat = view.confusion.heat
    assert (heat.rowCount(), heat.columnCount()) == (n, n)
    names = [c.label for c in tiny_project.cities()]  # "Zagreb, HR" on both axes, as everywhere
    assert [heat.headerData(i, Qt.Orientation.Horizontal) for i in range(n)] == names
    assert [heat.headerData(i, Qt.Orientation.Vertical) for i in range(n)] == names
    assert sum(heat.count(r, c) for r in range(n) for c in range(n)) == report.scores.count
    assert "accuracy" in view.summary.text() and "macro F1" in view.summary.text()
    shown = {view.city_model.item(r, 0).text() for r in range(view.city_model.rowCount())}
    assert shown == {c.label for c in tiny_project.cities()}  # "Osijek, HR" as everywhere else, not the slug
    tip = heat.data(heat.index(0, 1), Qt.ItemDataRole.ToolTipRole)
    assert names[0] in tip and names[1] in tip and f"{heat.count(0, 1)} of" in tip


def test_clicking_a_cell_lists_exactly_its_images(qtbot, view):
    report = evaluate(qtbot, view)
    heat = view.confusion.heat
    n = heat.rowCount()
    true, pred = max(((r, c) for r in range(n) for c in range(n)), key=lambda rc: heat.count(*rc))
    expected = {r.image_id for r in report.images
                if r.true_city == report.classes[true] and r.predicted_city == report.classes[pred]}
    assert len(expected) == heat.count(true, pred) > 0
    rect = view.confusion.visualRect(heat.index(true, pred))
    with qtbot.waitSignal(view.cell_images.loaded, timeout=10000):
        qtbot.mouseClick(view.confusion.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert set(view.cell_images.image_ids()) == expected
    assert all(not view.cell_images.item(i).icon().isNull() for i in range(view.cell_images.count()))
    assert view.cell_title.text().startswith(f"{len(expected)} images of {report.class_names[true]}")
    # A cell with no images empties the list.
    empty = [(r, c) for r in range(n) for c in range(n) if heat.count(r, c) == 0]
    if empty:
        view.show_cell(*empty[0])
        assert view.cell_images.count() == 0


def test_city_table_sorts_numerically_and_export_writes_files(qtbot, view, tmp_path):
    report = evaluate(qtbot, view)
    table = view.city_model
    assert table.rowCount() == len(report.per_city)
    view.city_table.sortByColumn(4, Qt.SortOrder.DescendingOrder)
    supports = [int(table.item(r, 4).text()) for r in range(table.rowCount())]
    assert supports == sorted(supports, reverse=True)
    paths = view.export(tmp_path / "out")
    data = json.loads(paths["report"].read_text())
    assert len(data["confusion"]) == len(report.classes)
    assert paths["predictions"].read_text().count("\n") == report.scores.count + 1
    assert paths["confusion"].read_bytes()[:4] == b"\x89PNG"
    mistakes = {view.mistakes.item(i).data(Qt.ItemDataRole.UserRole) for i in range(view.mistakes.count())}
    assert mistakes == {r.image_id for r in report.most_confident_mistakes(40)}


def test_confusion_widget_escapes_names_and_checks_shape(qtbot):
    from geospottr_gui.views.evaluate.confusion import ConfusionView

    view = ConfusionView()
    qtbot.addWidget(view)
    view.set_matrix(["A<b>&", "B"], [[3, 1], [0, 2]])
    tip = view.heat.data(view.heat.index(0, 1), Qt.ItemDataRole.ToolTipRole)
    assert "A&lt;b&gt;&amp;" in tip and "1 of 4 images (25%)" in tip
    assert view.heat.data(view.heat.index(1, 0)) == ""  # empty cells stay blank
    with pytest.raises(ValueError):
        view.set_matrix(["A", "B"], [[1, 2]])
    clicks = []
    view.cell_clicked.connect(lambda t, p: clicks.append((t, p)))
    view.show()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(view.heat.index(1, 0)).center())
    assert clicks[0] == (1, 0)


def test_summary_hides_top_k_that_cannot_miss_and_progress_counts_from_the_start(qtbot, view, tiny_project):
    progress = []
    view.progress.valueChanged.connect(lambda _v: progress.append((view.progress.value(), view.progress.maximum())))
    report = evaluate(qtbot, view)
    n = len(tiny_project.cities())   # 4: top-3 says something, top-5 of 4 cities is always 100%
    text = view.summary.text()
    assert ("top-3" in text) == (3 < n) and ("top-5" in text) == (5 < n)
    # The first value the bar showed already had the image count as its maximum.
    assert progress and progress[0] == (0, report.scores.count)
    assert view.progress.format() == "%v / %m images"


def test_heatmap_fills_its_pane_with_axis_titles_counts_and_scale(qtbot, view):
    evaluate(qtbot, view)
    panel, table = view.heatmap, view.confusion
    assert panel.x_title.text() == "predicted city" and panel.y_title.text == "true city"
    assert panel.x_title.isVisible() and panel.y_title.isVisible()
    n = table.heat.rowCount()
    cells_w = sum(table.horizontalHeader().sectionSize(i) for i in range(n))
    cells_h = sum(table.verticalHeader().sectionSize(i) for i in range(n))
    # Four cities stretch over the whole viewport: no empty band right of or below the cells.
    assert cells_w >= table.viewport().width() - n and cells_h >= table.viewport().height() - n
    counts = [table.heat.data(table.heat.index(r, c)) for r in range(n) for c in range(n)]
    assert sum(int(c) for c in counts if c) == sum(table.heat.count(r, c) for r in range(n) for c in range(n))


def test_double_clicking_a_mistake_opens_it_in_the_dataset_grid(qtbot, tiny_project, random_bundle, tmp_path):
    from .dataset_support import dataset, make_window

    window = make_window(qtbot, tiny_project, tmp_path, all_workspaces=True)
    window.show_workspace("Evaluate")
    view = window.workspace("Evaluate")
    try:
        view.split_combo.setCurrentText("test")
        with qtbot.waitSignal(view.evaluated, timeout=30000):
            view.run_button.click()
        qtbot.waitUntil(lambda: view.mistakes.count() > 0)
        item = view.mistakes.item(0)
        image_id = item.data(Qt.ItemDataRole.UserRole)
        rect = view.mistakes.visualItemRect(item)
        # A double-click as Qt sees it from a user: the first click's press, then the double-click.
        qtbot.mouseClick(view.mistakes.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.mistakes.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        grid = dataset(window).curation.grid
        assert window.stack.currentWidget() is dataset(window)
        qtbot.waitUntil(lambda: grid.currentIndex().isValid())
        assert grid.model().image_id(grid.currentIndex().row()) == image_id
        assert grid.selected_ids() == [image_id] and grid.hasFocus()
    finally:
        view.shutdown()


def test_a_confusion_cell_opens_its_mistakes_in_the_dataset_grid(qtbot, tiny_project, bundle, tmp_path):
    """Evaluate stores each image's guess; "Show in Dataset" on a cell opens the grid on exactly the images
    of that city the model took for the other, where they can be relabelled or rejected."""
    from geospottr_gui.main_window import WORKSPACES, MainWindow
    from tests.gui.conftest import context_for

    window = MainWindow(context_for(tiny_project, tmp_path),
                        [w for w in WORKSPACES if w[0] in ("Dataset", "Evaluate")])
    qtbot.addWidget(window)
    window.show()
    window.show_workspace("Evaluate")
    view = window.workspaces["Evaluate"]
    view.model_combo.setCurrentIndex(max(0, view.model_combo.findData(str(bundle))))
    report = evaluate(qtbot, view)
    assert set(tiny_project.predictions()) == {r.image_id for r in report.images}  # stored for the grid
    mistakes = [(r.true_city, r.predicted_city) for r in report.images if r.true_city != r.predicted_city]
    true, pred = max(set(mistakes), key=mistakes.count)
    view.show_cell(report.classes.index(true), report.classes.index(pred))
    assert view.cell_dataset_button.isEnabled()
    view.cell_dataset_button.click()
    grid = window.workspaces["Dataset"].curation
    assert window.stack.currentWidget() is window.workspaces["Dataset"]
    expected = {r.image_id for r in report.images if r.true_city == true and r.predicted_city == pred}
    assert set(grid.model.ids) == expected
    window.close()
