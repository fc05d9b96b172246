"""The curation grid as a user sees it: columns fill the width at any thumbnail size, badges explain
themselves, and the full-size viewer (Space or double-click) steps through images, zooms and curates."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from geospottr_gui.views.dataset.image_grid import BADGE_LEGEND, badge_tooltip

from .dataset_support import dataset, make_window


def _tiles_right_edge(grid) -> int:
    """The right edge of the rightmost tile of the first row, in viewport pixels."""
    model = grid.model()
    return max(grid.visualRect(model.index(i)).right() for i in range(min(model.rowCount(), 40))
               if grid.visualRect(model.index(i)).top() == grid.visualRect(model.index(0)).top())


def test_columns_follow_the_width_and_the_size_slider(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    view = dataset(window).curation
    grid = view.grid
    for width in (900, 1500):
        window.resize(width, 800)
        qtbot.waitUntil(lambda: grid.viewport().width() > 0)
        qtbot.wait(50)
        # The tiles share the whole width: no empty band wider than one column's slack at the right.
        assert grid.viewport().width() - _tiles_right_edge(grid) < grid.gridSize().width()
        assert grid.columns() == (grid.viewport().width() - 2) // (grid.thumb_size + 14)
    wide = grid.columns()
    view.size_slider.setValue(view.size_slider.maximum())
    qtbot.wait(50)
    assert grid.thumb_size == view.size_slider.maximum() and grid.columns() < wide
    assert grid.model().thumb_size >= grid.thumb_size   # drawn from a big enough thumbnail, never blown up
    view.size_slider.setValue(view.size_slider.minimum())
    qtbot.wait(50)
    assert grid.columns() > wide


def test_badges_are_explained(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    view = dataset(window).curation
    assert view.legend.isVisible() and view.legend.text() == BADGE_LEGEND and "Te" in BADGE_LEGEND
    test_row = next(r for r in range(view.model.rowCount()) if view.model.record(r).split == "test")
    tip = view.model.data(view.model.index(test_row), Qt.ItemDataRole.ToolTipRole)
    record = view.model.record(test_row)
    assert tip == badge_tooltip(record, view.model.city_label(record)) and "test split (Te)" in tip


def test_viewer_opens_on_space_steps_with_arrows_zooms_and_curates(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    view = dataset(window).curation
    grid, model = view.grid, view.model
    grid.setFocus()
    grid.selectionModel().setCurrentIndex(model.index(2), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    viewer = view.viewer
    assert viewer is not None and viewer.isVisible()
    qtbot.waitUntil(lambda: not viewer.view.item.pixmap().isNull(), timeout=10000)
    first = viewer.record.id
    assert first == model.image_id(2) and viewer.view.item.pixmap().width() == 96   # the full image, not a thumbnail
    # Keys go where a user's keys go: to the focused widget, the zoomable view (which scrolls with arrows).
    focused = viewer.focusWidget()
    assert focused is viewer.view
    qtbot.keyClick(focused, Qt.Key.Key_Right)
    assert viewer.record.id == model.image_id(3) == model.image_id(grid.currentIndex().row())
    qtbot.keyClick(focused, Qt.Key.Key_Left)
    assert viewer.record.id == first
    fitted = viewer.view.zoom
    qtbot.keyClick(focused, Qt.Key.Key_Plus)
    assert viewer.view.zoom > fitted
    for key, row in ((Qt.Key.Key_PageDown, 3), (Qt.Key.Key_Down, 4), (Qt.Key.Key_Up, 3), (Qt.Key.Key_PageUp, 2)):
        qtbot.keyClick(focused, key)  # zoomed in, the keys still step instead of scrolling the picture
        assert viewer.record.id == model.image_id(row), key
    qtbot.keyClick(focused, Qt.Key.Key_0)
    assert abs(viewer.view.zoom - fitted) < 1e-6
    qtbot.keyClick(focused, Qt.Key.Key_R)   # the curation keys act on the image shown, which moves on
    assert tiny_project.image(first).status == "rejected"
    assert viewer.record.id == model.image_id(3)
    qtbot.keyClick(focused, Qt.Key.Key_Escape)
    assert view.viewer is None
    # A double-click opens it too.
    rect = grid.visualRect(model.index(0))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.viewer is not None and view.viewer.record.id == model.image_id(0)
    view.viewer.close()


def test_predict_all_then_filter_the_grid_by_what_the_model_says(qtbot, tiny_project, tmp_path, random_bundle):
    """Predict all (a job) stores the model's guesses: the Model filter shows right / wrong / says-X,
    sorting by confidence puts the least sure first, and each thumbnail carries the guess."""
    from geospottr_gui.views.dataset.image_grid import GuessRole

    window = make_window(qtbot, tiny_project, tmp_path)
    window.context.set_model(str(random_bundle))
    view = dataset(window).curation
    view.predict.button.click()
    assert view.predict.job is not None and view.predict.cancel.isVisible()  # a job, cancellable
    qtbot.waitUntil(lambda: view.predict.job is None, timeout=120000)
    stored = tiny_project.predictions()
    assert stored and set(stored) == set(tiny_project.image_ids(status=["pending", "accepted"]))
    view.model_filter.setCurrentIndex(view.model_filter.findData("wrong"))
    wrong = set(view.model.ids)
    view.model_filter.setCurrentIndex(view.model_filter.findData("right"))
    assert not wrong & set(view.model.ids) and len(wrong) + len(view.model.ids) == len(stored)
    slug = next(iter(stored.values()))[0]
    view.model_filter.setCurrentIndex(view.model_filter.findData(f"says:{slug}"))
    assert set(view.model.ids) == {i for i, (c, _p) in stored.items() if c == slug}
    view.model_filter.setCurrentIndex(0)
    view.order.setCurrentIndex(view.order.findData("confidence"))
    sure = [stored[i][1] for i in view.model.ids if i in stored]
    assert sure == sorted(sure)
    guess = view.model.index(0).data(GuessRole)
    first = view.model.record(0)
    assert guess is not None and guess[2] == (stored[first.id][0] == first.city_slug)
    assert "model:" in view.model.index(0).data(Qt.ItemDataRole.ToolTipRole)
