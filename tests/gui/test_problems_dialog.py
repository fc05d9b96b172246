"""The "Find problems" dialog on a real project with generated bad frames: scan, review, reject, undo."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QPushButton

from core.quality import open_findings
from geospottr_gui.context import AppContext
from geospottr_gui.views.dataset.problems_dialog import ProblemsDialog
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
    images = len(dialog.context.project.images())
    assert dialog.status.text().startswith(f"8 findings in {images} images: frames, duplicates.")
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


def test_a_model_check_without_its_file_asks_for_it_in_the_windows_words(qtbot, dialog):
    for name in ("frames", "duplicates"):
        dialog.checks[name].setChecked(False)
    dialog.checks["scene"].setChecked(True)
    dialog.scan_button.click()
    assert dialog.job is None and dialog.scan_button.isEnabled()   # nothing started
    text = dialog.status.text()
    assert "Places365 weights…" in text and "--weights" not in text


def test_no_problems_says_how_many_images_and_which_checks(qtbot, tiny_project, tmp_path):
    d = ProblemsDialog(AppContext(tiny_project, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(d)
    d.checks["duplicates"].setChecked(False)  # the tiny project's two views of a place look alike
    _scan(qtbot, d)
    assert d.status.text() == "No problems in 48 images: frames."
    d.close()


def test_the_label_check_is_preset_to_the_projects_model_and_browses_its_runs(qtbot, bad_project, tmp_path,  # noqa: F811
                                                                            monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    bundle = bad_project.runs_dir / "r1" / "best.pt"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(b"not read here")
    context = AppContext(bad_project, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    context.set_model(str(bundle))
    d = ProblemsDialog(context)
    qtbot.addWidget(d)
    assert d.model.text() == str(bundle) and not d.checks["labels"].isChecked()   # preset, not forced on
    d.model.clear()
    asked = []
    picked = str(bad_project.runs_dir / "r1" / "last.pt")
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda _parent, title, start, filters: asked.append((start, filters)) or (picked, ""))
    browse = next(b for b in d.findChildren(QPushButton) if b.text() == "Model…")
    browse.click()
    from geospottr_gui.model_service import MODEL_FILTER

    assert asked == [(str(bad_project.runs_dir), MODEL_FILTER)]   # the app's one model dialog
    assert d.model.text() == picked and d.checks["labels"].isChecked()   # picking a model ticks its check
    d.close()


def test_a_models_opinions_come_unticked_measured_problems_ticked(qtbot, tiny_project, tmp_path):
    """A 45%-accurate model's label errors are not pre-chosen for rejection: measured problems (a dark
    frame) are ticked, a network's opinions (label error, outlier) wait for the user, worst first."""
    from core.quality import Finding
    from core.quality.findings import _store

    ids = tiny_project.image_ids()
    found = _store(tiny_project, [Finding(ids[0], "dark", 0.9, "near-black"),
                                  Finding(ids[1], "label_error", 0.3, "labelled A, model says B"),
                                  Finding(ids[2], "label_error", 0.7, "labelled C, model says D"),
                                  Finding(ids[3], "outlier", 4.0, "looks unlike")], ["dark", "label_error", "outlier"])
    d = ProblemsDialog(AppContext(tiny_project, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(d)
    d.show_findings(found)
    ticked = {tiny_project.conn.execute("SELECT kind FROM findings WHERE id = ?", (i,)).fetchone()[0]
              for i in d.checked_finding_ids()}
    assert ticked == {"dark"}
    labels = next(d.tree.topLevelItem(i) for i in range(d.tree.topLevelItemCount())
                  if d.tree.topLevelItem(i).text(0).startswith("Label contradicted"))
    assert [labels.child(i).text(2) for i in range(labels.childCount())] == ["0.70", "0.30"]  # worst first
    d.close()
