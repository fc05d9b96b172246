"""The Evaluate workspace on a real bundle and a real project: heatmap shape, cell click, table, export."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from geospottr_gui.context import AppContext
from geospottr_gui.views.evaluate_view import EvaluateView

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
    names = [c.name for c in tiny_project.cities()]
    assert [heat.headerData(i, Qt.Orientation.Horizontal) for i in range(n)] == names
    assert [heat.headerData(i, Qt.Orientation.Vertical) for i in range(n)] == names
    assert sum(heat.count(r, c) for r in range(n) for c in range(n)) == report.scores.count
    assert "accuracy" in view.summary.text() and "macro F1" in view.summary.text()
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
    from geospottr_gui.views.confusion import ConfusionView

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
