"""Keyboard curation in the grid: A / R / 1-9 change the database at once, Ctrl+Z / Ctrl+Shift+Z undo and redo."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from .dataset_support import dataset, make_window


def _select(view, rows):
    grid, model = view.grid, view.model
    grid.setFocus()
    grid.selectionModel().setCurrentIndex(model.index(rows[0]), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    for row in rows[1:]:
        grid.selectionModel().select(model.index(row), QItemSelectionModel.SelectionFlag.Select)


def test_keys_curate_and_undo_restores(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    view = dataset(window).curation
    assert view.model.rowCount() == 48
    first, second = view.model.image_id(0), view.model.image_id(1)
    original = tiny_project.image(first).city_slug

    _select(view, [0])
    qtbot.keyClick(view.grid, Qt.Key.Key_A)
    assert tiny_project.image(first).status == "accepted"
    assert view.grid.currentIndex().row() == 1  # moved on to the next image
    qtbot.keyClick(view.grid, Qt.Key.Key_R)
    assert tiny_project.image(second).status == "rejected"
    _select(view, [0])
    qtbot.keyClick(view.grid, Qt.Key.Key_4)  # the 4th city, alphabetical: zagreb
    target = tiny_project.cities()[3].slug
    assert tiny_project.image(first).city_slug == target
    assert window.undo_action.isEnabled() and "Relabel" in window.undo_action.text()

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert tiny_project.image(first).city_slug == original
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert tiny_project.image(second).status == "pending"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert tiny_project.image(first).status == "pending"
    assert not window.undo_action.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert tiny_project.image(first).status == "accepted"
    # The grid shows the change without a reload: the record is re-read when painted.
    assert view.model.record(view.model.row_of(first)).status == "accepted"


def test_bulk_reject_of_a_selection_and_status_filter(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    view = dataset(window).curation
    _select(view, [2, 3, 4, 5])
    chosen = view.grid.selected_ids()
    assert len(chosen) == 4
    qtbot.keyClick(view.grid, Qt.Key.Key_Delete)
    assert {tiny_project.image(i).status for i in chosen} == {"rejected"}
    assert sorted(view.grid.selected_ids()) == sorted(chosen)  # a bulk action keeps the selection
    view.status.setCurrentText("rejected")
    assert sorted(view.model.ids) == sorted(chosen)
    window.undo()
    qtbot.waitUntil(lambda: view.model.rowCount() == 0)  # the grid re-queries after the change
    assert tiny_project.image_ids(status="rejected") == []


def test_city_filter_detail_pane_and_picker(qtbot, tiny_project, tmp_path, monkeypatch):
    window = make_window(qtbot, tiny_project, tmp_path)
    panel = dataset(window)
    view = panel.curation
    panel.show_city("rijeka")
    assert view.model.rowCount() == 12
    assert {view.model.record(r).city_slug for r in range(12)} == {"rijeka"}
    _select(view, [0])
    qtbot.waitUntil(lambda: view.detail.image.pixmap() is not None and not view.detail.image.pixmap().isNull())
    assert "Rijeka, HR" in view.detail.meta.text() and "import" in view.detail.meta.text()

    from geospottr_gui.views.dataset import curation_actions

    class Picker:  # stands in for the modal dialog: "user picked split"
        def __init__(self, cities, parent):
            pass

        def exec(self):
            return True

        def selected_slug(self):
            return "split"

    monkeypatch.setattr(curation_actions, "CityPickerDialog", Picker)
    chosen = view.grid.selected_ids()
    qtbot.keyClick(view.grid, Qt.Key.Key_L)
    assert tiny_project.image(chosen[0]).city_slug == "split"


def test_thumbnails_are_made_off_thread_and_cached_on_disk(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    view = dataset(window).curation
    model = view.model
    index = model.index(0)
    qtbot.waitUntil(lambda: model.data(index, Qt.ItemDataRole.DecorationRole) is not None, timeout=10000)
    thumbs = list((tiny_project.cache_dir / "thumbs").rglob("*.jpg"))
    assert thumbs and model.image_id(0) in {p.stem for p in thumbs}


def test_detail_pane_shortens_a_long_source_id_in_the_middle(tiny_project):
    """A 64-character panorama id has nowhere to wrap: it is shortened in the middle, never cut at the edge."""
    from dataclasses import replace

    from geospottr_gui.views.dataset.image_detail import LONG_VALUE, metadata_html, source_text

    record = replace(next(iter(tiny_project.images())), source="streetview", source_id="p" * 30 + "MIDDLE" + "q" * 28)
    shown = metadata_html(record, "Rijeka, HR")
    assert "MIDDLE" not in shown and "streetview · ppp" in shown and "…" + "q" * 10 in shown
    assert len(source_text(record)) > LONG_VALUE and "MIDDLE" in source_text(record)
