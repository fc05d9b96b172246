"""The "Find problems" dialog on a real project with generated bad frames: scan, review, reject, undo."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from core.quality import open_findings
from geospottr_gui.context import AppContext
from geospottr_gui.views.problems_dialog import ProblemsDialog
from tests.core.quality.conftest import bad_project  # noqa: F401  (fixture)


@pytest.fixture
def dialog(qtbot, bad_project, tmp_path):  # noqa: F811
    context = AppContext(bad_project, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    d = ProblemsDialog(context)
    qtbot.addWidget(d)
    d.show()
    yield d
    d.close()


def _scan(qtbot, d):
    d.scan_button.click()
    qtbot.waitUntil(lambda: d.scan_button.isEnabled(), timeout=60000)


def test_scan_lists_findings_by_kind_with_checkboxes(qtbot, dialog):
    assert dialog.selected_checks() == ["frames", "duplicates"]
    _scan(qtbot, dialog)
    titles = [dialog.tree.topLevelItem(i).text(0) for i in range(dialog.tree.topLevelItemCount())]
    assert titles[:4] == ["Placeholder frames (no imagery) (1)", "Near-black frames (1)", "Near-white frames (1)",
                          "Blurred frames (1)"]
    assert any(t.startswith("Duplicates labelled with different cities (2)") for t in titles)
    assert len(dialog.checked_finding_ids()) == 8
    assert "8 findings" in dialog.status.text()
    qtbot.waitUntil(lambda: not dialog.tree.topLevelItem(1).child(0).icon(0).isNull(), timeout=20000)


def test_reject_selected_then_undo(qtbot, dialog, bad_project):  # noqa: F811
    _scan(qtbot, dialog)
    dialog.tree.topLevelItem(0).setCheckState(0, Qt.CheckState.Unchecked)  # keep the placeholder
    dialog.reject_selected()
    assert len(bad_project.images(status="rejected")) == 7
    assert [f.kind for f in open_findings(bad_project)] == ["placeholder"]
    assert dialog.tree.topLevelItemCount() == 1
    dialog.undo()
    assert bad_project.images(status="rejected") == []
    assert len(open_findings(bad_project)) == 8


def test_scene_and_labels_without_files_are_skipped_with_a_line(qtbot, dialog):
    for name in ("frames", "duplicates"):
        dialog.checks[name].setChecked(False)
    dialog.checks["scene"].setChecked(True)
    _scan(qtbot, dialog)
    assert "No problems found" in dialog.status.text()
    assert "scene check skipped" in dialog.status.text() and "--weights" in dialog.status.text()
