"""Empty views say what to do, and cities read "Osijek, HR" wherever the user meets them."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.data.project import Project
from geospottr_gui.views.predict.entry_queue import EMPTY_QUEUE, EntryQueue

from .dataset_support import dataset, make_window


def test_a_filter_without_matches_offers_clear_filters_and_cities_read_as_names(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    view = dataset(window).curation
    assert not view.empty.isVisible() and view.model.rowCount() == 48
    # The city filter lists "Osijek, HR", and tiles are captioned the same way (never the slug).
    labels = [view.city.itemText(i) for i in range(view.city.count())]
    assert "Osijek, HR" in labels and "osijek" not in labels
    assert view.model.data(view.model.index(0), Qt.ItemDataRole.DisplayRole).endswith(", HR")
    view.city.setCurrentIndex(view.city.findData("osijek"))
    assert view.model.rowCount() == 12
    view.status.setCurrentText("rejected")  # nothing is rejected in the tiny project
    assert view.model.rowCount() == 0
    assert view.empty.isVisible() and "No images match" in view.empty.label.text()
    assert view.empty.button.isVisible() and view.empty.button.text() == "Clear filters"
    view.empty.button.click()
    assert view.model.rowCount() == 48 and not view.empty.isVisible()
    assert view.city.currentIndex() == 0 and view.status.currentIndex() == 0


def test_an_empty_project_says_how_to_get_images(qtbot, tmp_path):
    window = make_window(qtbot, Project.init(tmp_path / "empty"), tmp_path)
    view = dataset(window).curation
    assert view.empty.isVisible() and "No images yet" in view.empty.label.text()
    assert not view.empty.button.isVisible()


def test_the_predict_queue_says_what_it_is_for_until_a_photo_arrives(qtbot):
    queue = EntryQueue()
    qtbot.addWidget(queue)
    queue.show()
    assert queue.empty.isVisible() and queue.empty.label.text() == EMPTY_QUEUE
