"""A bulk edit over more images than `curator.BACKGROUND_THRESHOLD` runs in a worker: the window stays
responsive, shows progress, records the edit only once applied, and undo / redo / cancel behave."""

from __future__ import annotations

import hashlib
import io
import sqlite3

import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer

from core.data import catalog
from core.data.project import Project
from geospottr_gui.curator import BACKGROUND_THRESHOLD

from .dataset_support import dataset, make_window

IMAGES = BACKGROUND_THRESHOLD + 100


@pytest.fixture(autouse=True)
def no_message_boxes(monkeypatch):
    """A warning here is a bug: fail the test instead of waiting on a modal box nobody closes."""
    from PySide6.QtWidgets import QMessageBox

    def warning(_parent, _title, text, *args, **kwargs):
        raise AssertionError(f"unexpected warning: {text}")

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))


@pytest.fixture
def big_project(tmp_path):
    """Just over the threshold of tiny distinct JPEGs, added through `Project.add_image` (~2 s)."""
    project = Project.init(tmp_path / "big", [catalog.resolve(q) for q in ("Zagreb,HR", "Split,HR")])
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 30, 200)).save(buf, "JPEG")
    slugs = [c.slug for c in project.cities()]
    for n in range(IMAGES):
        data = buf.getvalue() + n.to_bytes(4, "big")  # after the JPEG end marker: distinct bytes, same picture
        project.add_image(data, sha256=hashlib.sha256(data).hexdigest(), width=8, height=8,
                          city=slugs[n % 2], source="import")
    yield project
    project.close()


class WriteLock:
    """Another connection holding the project's write lock: a worker's transaction waits behind it, so
    the test controls how long the bulk edit takes (and can show the UI thread is free meanwhile)."""

    def __init__(self, project: Project) -> None:
        self.conn = sqlite3.connect(project.db_path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def _ticker(qtbot):
    ticks = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    return timer, ticks


def test_bulk_reject_runs_in_a_worker_and_undo_restores(qtbot, big_project, tmp_path):
    project = big_project
    window = make_window(qtbot, project, tmp_path)
    view = dataset(window).curation
    curator = window.context.curator
    assert view.model.rowCount() == IMAGES
    view.grid.setFocus()
    view.grid.selectAll()
    assert len(view.grid.selected_ids()) == IMAGES > BACKGROUND_THRESHOLD

    lock = WriteLock(project)
    timer, ticks = _ticker(qtbot)
    try:
        qtbot.keyClick(view.grid, Qt.Key.Key_Delete)  # returns at once: the edit waits in its worker
        assert curator.busy and project.image_ids(status="rejected") == []
        qtbot.wait(300)  # the event loop keeps running while the edit is in flight
        assert len(ticks) >= 10
        assert curator.busy
        assert view.progress.isVisible() and view.cancel_button.isVisible()
        assert not view.reject_button.isEnabled() and not view.accept_button.isEnabled()
        assert not window.undo_action.isEnabled()
        assert not window.context.history.can_undo  # recorded only once applied
        qtbot.keyClick(view.grid, Qt.Key.Key_A)  # refused while busy: it would race the edit in flight
        assert project.image_ids(status="accepted") == []
    finally:
        lock.release()
    with qtbot.waitSignal(curator.busy_changed, timeout=10000):
        pass
    timer.stop()
    assert len(project.image_ids(status="rejected")) == IMAGES
    assert not view.progress.isVisible() and view.reject_button.isEnabled()
    assert window.undo_action.isEnabled() and f"Reject {IMAGES} images" in window.undo_action.text()
    assert view.model.record(0).status == "rejected"  # the grid shows it

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo: also in the worker
    assert curator.busy
    qtbot.waitUntil(lambda: not curator.busy, timeout=10000)
    assert project.image_ids(status="rejected") == [] and len(project.image_ids(status="pending")) == IMAGES
    assert window.redo_action.isEnabled() and not window.context.history.can_undo

    window.redo()
    assert curator.busy
    qtbot.waitUntil(lambda: not curator.busy, timeout=10000)
    assert len(project.image_ids(status="rejected")) == IMAGES
    assert window.context.history.can_undo and not window.context.history.can_redo


def test_cancelled_bulk_edit_changes_nothing(qtbot, big_project, tmp_path):
    project = big_project
    window = make_window(qtbot, project, tmp_path)
    view = dataset(window).curation
    curator = window.context.curator
    view.grid.selectAll()
    lock = WriteLock(project)
    try:
        view.accept()
        assert curator.busy
        qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    finally:
        lock.release()
    qtbot.waitUntil(lambda: not curator.busy, timeout=10000)
    assert project.image_ids(status="accepted") == []
    assert not window.context.history.can_undo and not window.undo_action.isEnabled()
    assert "cancelled" in window.statusBar().currentMessage()
