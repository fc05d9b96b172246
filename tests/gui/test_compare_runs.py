"""Compare runs: the runs list's Compare… window sorts runs by any figure and its ticks overlay curves."""

from __future__ import annotations

from PySide6.QtCore import Qt

from geospottr_gui.views.train.compare_dialog import COLUMNS
from geospottr_gui.views.train.runs_list import RunsList
from tests.core.training.test_compare import _run


def test_compare_sorts_numbers_as_numbers_and_ticks_overlay_curves(qtbot, tiny_project):
    root = tiny_project.runs_dir
    for n, (acc, seconds) in enumerate([(0.45, 30.0), (0.9, 200.0), (0.08, 5.0)]):
        _run(root, f"2026120{n + 1}-100000-run", {"arch": "baseline", "head": "probe", "lr": 0.01 * (n + 1)},
             [(acc, seconds)])
    runs = RunsList(tiny_project)
    qtbot.addWidget(runs)
    with qtbot.waitSignal(runs.refreshed, timeout=30000):
        runs.refresh()
    dialog = runs.open_compare()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=30000)
    best_val = [c[0] for c in COLUMNS].index("Best val")
    dialog.table.sortItems(best_val)
    assert dialog.row_ids() == ["20261203-100000-run", "20261201-100000-run", "20261202-100000-run"]
    assert dialog.table.item(2, best_val).text() == "90.0%"
    with qtbot.waitSignal(runs.overlays_changed, timeout=30000) as overlays:
        dialog.table.item(2, 0).setCheckState(Qt.CheckState.Checked)
    assert runs.checked_run_ids() == ["20261202-100000-run"]
    assert list(overlays.args[0]) in ([], ["20261202-100000-run"])  # the curve arrives once read
    dialog.close()
