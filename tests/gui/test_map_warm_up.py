"""The Dataset workspace loads what its Map tab's first page needs (folium, the offline Leaflet sources,
the GeoNames place table: about 1.8 s of the first map at 27,500 photos) in a worker a few seconds after it
opens (after the grid's first fill), so the Map tab does not wait for it. Checked in a fresh interpreter, where nothing is loaded yet."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

SCRIPT = r"""
import sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication([])
from tests.conftest import build_tiny_project
from tests.gui.conftest import context_for
from geospottr_gui.workers import stop_all_jobs
from core.data import catalog
from core import maps
assert "folium" not in sys.modules and maps._leaflet_sources.cache_info().currsize == 0
tmp = Path(sys.argv[1])
project = build_tiny_project(tmp, per_city=2, size=(32, 24))
from PySide6.QtTest import QTest
from geospottr_gui.views.dataset.dataset_view import WARM_UP_DELAY_MS, DatasetView
view = DatasetView(context_for(project, tmp))
assert "folium" not in sys.modules  # not while the grid fills: the worker's imports would hold the GIL
QTest.qWait(WARM_UP_DELAY_MS + 300)
stop_all_jobs(60000)  # waits for the warm-up job
print("folium" in sys.modules, maps._leaflet_sources.cache_info().currsize, catalog._places.cache_info().currsize)
"""


def test_opening_the_dataset_workspace_loads_the_map_page_s_libraries_in_the_background(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-3:] == ["True", "1", "1"], done.stdout + done.stderr
