"""The app's runs list reads a run as `geospottr runs` does (issue 27 item 8): a finished probe is one epoch,
a paused run is "paused"."""

from __future__ import annotations

from core.data.project import Project
from tests.core.test_cli_first_hour import probe_and_paused_runs


def test_the_app_runs_list_reads_the_same(qtbot, tmp_path):
    from geospottr_gui.views.train.runs_list import RunsList

    with Project.init(tmp_path / "p") as project:
        probe_and_paused_runs(project.runs_dir)
        runs = RunsList(project)
        qtbot.addWidget(runs)
        qtbot.waitUntil(lambda: runs.table.rowCount() == 2, timeout=10_000)  # listed in a worker
        qtbot.waitUntil(lambda: runs.table.rowCount() == 2, timeout=10000)  # listed in a worker, or at once
        cells = {runs.table.item(r, 0).data(256): [runs.table.item(r, c).text() for c in (1, 2)]
                 for r in range(runs.table.rowCount())}
        assert cells == {"20261207-100000-efficientnet-lite0": ["finished", "1"],
                         "20261207-110000-baseline": ["paused 21%", "2/10"]}
        runs.deleteLater()
