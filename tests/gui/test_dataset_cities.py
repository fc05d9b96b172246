"""The Cities panel: search-as-you-type adds a catalog city; targets and removal reach the database."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from core.data.project import Project

from .dataset_support import dataset, make_window


def test_add_a_city_by_search_then_set_target_and_remove(qtbot, tmp_path, monkeypatch):
    project = Project.init(tmp_path / "p")
    window = make_window(qtbot, project, tmp_path)
    panel = dataset(window).cities
    qtbot.keyClicks(panel.search, "Osije")
    qtbot.waitUntil(lambda: panel.results.count() > 0 and panel.results.item(0).text().startswith("Osijek"),
                    timeout=30000)  # the first search loads the catalog off the UI thread
    panel.add_button.click()
    qtbot.waitUntil(lambda: project.find_city("osijek") is not None, timeout=10000)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1)
    assert panel.table.item(0, 1).text() == "0 / 1,250"
    assert not panel.preset_button.isVisible()

    panel.table.selectRow(0)
    panel.target.setValue(300)
    panel.set_target_button.click()
    assert project.city("osijek").target_count == 300
    assert panel.table.item(0, 1).text() == "0 / 300"

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    panel.table.selectRow(0)
    panel.remove_button.click()
    qtbot.waitUntil(lambda: project.cities() == [], timeout=10000)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 0)


def test_counts_follow_curation(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    view = dataset(window)
    row = [view.cities.table.item(r, 0).text() for r in range(4)].index("Zagreb, HR")
    assert view.cities.table.item(row, 1).text() == "12 / 12"
    window.context.history.reject(tiny_project.image_ids(city="zagreb")[:5])
    qtbot.waitUntil(lambda: view.cities.table.item(row, 1).text() == "7 / 12")
    window.undo()
    qtbot.waitUntil(lambda: view.cities.table.item(row, 1).text() == "12 / 12")
