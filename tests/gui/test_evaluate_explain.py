"""Evaluate's heat maps tab on a model that learned a planted shortcut: a cell's images with their maps,
and the shortcut check's warning, all computed in workers."""

from __future__ import annotations

import pytest

from geospottr_gui.views.evaluate.evaluate_view import EvaluateView
from tests.core.explain.conftest import planted, planted_project  # noqa: F401  (fixtures)
from tests.core.explain.planted import patch_share
from tests.gui.conftest import context_for


@pytest.fixture
def view(qtbot, tmp_path, planted_project):  # noqa: F811
    v = EvaluateView(context_for(planted_project, tmp_path))
    qtbot.addWidget(v)
    v.resize(1300, 900)
    v.show()
    yield v
    v.shutdown()


def test_cell_images_with_heat_maps_and_the_shortcut_warning(qtbot, view):
    with qtbot.waitSignal(view.evaluated, timeout=60000) as blocker:
        view.run_button.click()
    report = blocker.args[0]
    panel = view.explain
    assert view.tabs.tabText(2) == "Heat maps && shortcuts" and not panel.cell_button.isEnabled()
    cell = next(i for i, row in enumerate(report.confusion) if row[i])  # a diagonal cell with images
    view.show_cell(cell, cell)
    rows = view.cell_results(cell, cell)
    assert panel.cell_button.isEnabled()
    panel.cell_button.click()
    qtbot.waitUntil(lambda: all(m is not None for m in panel._maps), timeout=60000)
    assert panel.thumbs.count() == len(rows) and not panel.thumbs.item(0).icon().isNull()
    assert panel.large.pixmap() is not None and not panel.large.pixmap().isNull()
    assert "evidence for" in panel.caption.text()
    shares = [patch_share(m.heatmap) for m in panel._maps]
    assert sum(m for m, _ in shares) / len(shares) > 3 * shares[0][1]   # the evidence sits on the patch

    qtbot.waitUntil(lambda: panel.shortcut_button.isEnabled(), timeout=10000)
    panel.shortcut_button.click()
    qtbot.waitUntil(lambda: panel.shortcuts is not None, timeout=60000)
    assert "of the evidence comes from the bottom 12% of the frame" in panel.findings.toPlainText()
    assert "train --crop-bottom 0.12" in panel.findings.toPlainText()
