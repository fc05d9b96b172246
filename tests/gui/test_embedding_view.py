"""Dataset > Looks: the images laid out by look; dragging over dots shows just those images in the grid."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtTest import QTest

from .dataset_support import dataset, make_window


def test_draw_the_map_pick_dots_with_a_drag_and_the_grid_shows_only_them(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    view = dataset(window)
    view.right.setCurrentWidget(view._looks_slot)
    looks = view.looks
    assert looks is not None and looks.map is None
    with qtbot.waitSignal(looks.built, timeout=120000) as drawn:  # a real job: EfficientNet-Lite0 embeddings
        looks.draw_button.click()
    everything = tiny_project.image_ids()
    assert drawn.args[0] == len(everything) and len(looks.dots.points()) == len(everything)
    legend = [label.text for _sample, label in looks.legend.items]
    assert any(text.startswith(tiny_project.cities()[0].label) for text in legend)  # "Zagreb, HR (n)"
    # The left half of the map, picked with a drag as a user would draw it.
    left = QRectF(QPointF(-0.01, -0.01), QPointF(0.5, 1.01))
    picked = looks.select_rect(left)
    assert 0 < len(picked) < len(everything)
    plot = looks.plot
    qtbot.wait(200)  # laid out, ranged

    def at(x: float, y: float):
        return plot.mapFromScene(looks.view_point(x, y))

    with qtbot.waitSignal(looks.selected, timeout=5000) as chosen:
        start, end = at(-0.01, -0.01), at(0.5, 1.01)
        qtbot.mousePress(plot.viewport(), Qt.MouseButton.LeftButton, pos=start)
        for step in range(1, 11):
            point = start + (end - start) * step / 10
            QTest.mouseMove(plot.viewport(), point)
            qtbot.wait(10)
        qtbot.mouseRelease(plot.viewport(), Qt.MouseButton.LeftButton, pos=end)
    assert sorted(chosen.args[0]) == sorted(picked)
    curation = view.curation
    assert view.right.currentWidget() is curation and sorted(curation.model.ids) == sorted(picked)
    assert curation.only_button.isVisible() and f"{len(picked)} picked" in curation.only_button.text()
    curation.only_button.click()
    assert len(curation.model.ids) == len(everything) and not curation.only_button.isVisible()
    # Colour by split and by open problem redraw the same dots in other groups.
    view.right.setCurrentWidget(view._looks_slot)
    for mode in ("Split", "Open problem"):
        looks.colour_by.setCurrentText(mode)
        assert len(looks.dots.points()) == len(everything)
