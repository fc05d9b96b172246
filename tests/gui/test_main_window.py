"""The main window opens on a project, shows its counts, imports dropped folders, and keeps its state."""

from __future__ import annotations

import html

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from core.data.project import Project
from geospottr_gui.main_window import importable_paths
from geospottr_gui.views.widgets.dialogs import ATTRIBUTIONS, about_html

from .dataset_support import dataset, make_window


def test_window_opens_with_workspaces_menus_and_status(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path, all_workspaces=True)
    assert list(window.workspaces) == ["Dataset"]  # the others are built when first shown
    assert window.nav.count() >= 4
    window.show_workspace("Train")
    assert "Train" in window.workspaces and window.stack.currentWidget() is window.workspaces["Train"]
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus[:2] == ["File", "Edit"] and "Help" in menus
    assert window.project_label.text() == "project: project"
    assert window.counts_label.text() == "48 images · 4 cities"
    assert not window.undo_action.isEnabled()
    qtbot.waitUntil(lambda: dataset(window).curation.model.rowCount() == 48)


def test_first_run_guide_shows_on_an_empty_project(qtbot, tmp_path):
    window = make_window(qtbot, Project.init(tmp_path / "empty"), tmp_path)
    view = dataset(window)
    assert view.get_started.isVisible()
    assert "No cities yet" in view.cities.summary.text()
    view.get_started.dismissed.emit()
    assert not view.get_started.isVisible()
    assert window.context.settings.value("ui/getStartedDismissed", type=bool)


def test_dropping_a_folder_imports_it_into_the_grid(qtbot, tmp_path, photo_factory):
    project = Project.init(tmp_path / "p")
    for i in range(3):
        photo_factory(f"Zagreb/{i}.jpg", seed=i)
        photo_factory(f"Osijek/{i}.jpg", seed=10 + i)
    source = tmp_path / "src"
    (source / "notes.txt").write_text("not importable")
    (source / "Zagreb" / ".hidden.jpg").write_bytes((source / "Zagreb" / "0.jpg").read_bytes())
    assert importable_paths([source, source / "notes.txt"]) == [source]
    window = make_window(qtbot, project, tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(source))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: not window.file_job.running, timeout=30000)
    # the status bar shows the core's ImportReport.summary: skips counted by reason, as the CLI prints them
    qtbot.waitUntil(lambda: any("2 skipped (" in m and "1 hidden" in m and "1 not inside a city folder" in m
                                for m in messages))
    view = dataset(window)
    qtbot.waitUntil(lambda: view.curation.model.rowCount() == 6, timeout=5000)
    assert sorted(c.slug for c in project.cities()) == ["osijek", "zagreb"]
    qtbot.waitUntil(lambda: window.counts_label.text() == "6 images · 2 cities")
    assert view.cities.table.rowCount() == 2


def test_an_export_shows_progress_and_a_cancelled_one_leaves_nothing(qtbot, tmp_path, photo_factory):
    """File > Export copies every photo for an image folder: the status bar's bar and Cancel serve it as
    they serve an import; cancelled, no folder is left behind, finished, it says how many it wrote."""
    project = Project.init(tmp_path / "p")
    for i in range(4):
        photo_factory(f"Zagreb/{i}.jpg", seed=i)
    window = make_window(qtbot, project, tmp_path)
    window.import_paths([tmp_path / "src"])
    qtbot.waitUntil(lambda: not window.file_job.running, timeout=30000)
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)

    out = tmp_path / "export-cancelled"
    job = window.export_to("imagefolder", str(out))
    assert window.progress.isVisible() and window.progress_cancel.isVisible()
    window.progress_cancel.click()
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    assert "export cancelled" in messages and not out.exists() and not window.progress_cancel.isVisible()

    out = tmp_path / "export"
    job = window.export_to("imagefolder", str(out))
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    assert f"exported 4 images to {out}" in messages and len(list(out.rglob("*.jpg"))) == 4


def test_window_state_and_workspace_are_restored(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path)
    window.show_workspace(list(window.workspaces)[-1])
    window.resize(900, 700)
    window.close()
    again = make_window(qtbot, Project.open(tiny_project.root), tmp_path)
    qtbot.waitUntil(lambda: again.nav.currentRow() == again.nav.count() - 1)
    assert again.context.recent_projects()[0] == str(tiny_project.root)


def test_about_lists_data_attributions_escaped():
    text = about_html({"Device": "<cpu>"})
    assert all(html.escape(what) in text for what, _ in ATTRIBUTIONS)
    assert "&lt;cpu&gt;" in text and "<cpu>" not in text
