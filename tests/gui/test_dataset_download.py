"""The Download panel against the acquisition tests' loopback Street View server: a download completes and
updates the counts; cancel stops one midway; a bad key is explained in plain words."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from core.data import catalog
from core.data.project import Project
from tests.core.acquisition.conftest import CITIES, RADIUS_KM, make_world
from tests.core.acquisition.fake_apis import FakeApis

from .dataset_support import dataset, download_panel_on_fake_apis


@pytest.fixture
def apis():
    with FakeApis(make_world()) as server:
        yield server


def _panel(qtbot, tmp_path, apis, target: int):
    project = Project.init(tmp_path / "p")
    for query in CITIES:
        project.add_city(catalog.resolve(query), target_count=target, radius_km=RADIUS_KM)
    window, panel = download_panel_on_fake_apis(qtbot, project, tmp_path, apis)
    return window, project, panel


def test_download_completes_and_updates_counts(qtbot, tmp_path, apis):
    window, project, panel = _panel(qtbot, tmp_path, apis, target=6)
    qtbot.waitUntil(lambda: "18 images for 3 cities" in panel.estimate.text(), timeout=10000)
    # 18 images, plus up to 5 refused placeholders (billed too): 23 x $7 / 1,000 at most.
    assert "$0.16 at most" in panel.estimate.text()
    panel.start_button.click()
    assert not panel.start_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.job.running, timeout=60000)
    assert not panel.error.isVisible(), panel.error.text()
    assert project.city_counts() == {"rijeka": 6, "split": 6, "zagreb": 6}
    assert panel.overall.value() == 18
    cities = dataset(window).cities
    qtbot.waitUntil(lambda: {cities.table.item(r, 1).text() for r in range(3)} == {"6 / 6"})
    qtbot.waitUntil(lambda: dataset(window).curation.model.rowCount() == 18)
    qtbot.waitUntil(lambda: "reached its target" in panel.estimate.text(), timeout=5000)
    assert apis.world.key not in panel.log.toPlainText()
    assert panel.context.settings.value("download/secret/streetview") is None  # not kept unless asked


def test_cancel_stops_the_download(qtbot, tmp_path, apis, monkeypatch):
    apis.world.image_delay_s = 0.05
    window, project, panel = _panel(qtbot, tmp_path, apis, target=200)
    qtbot.waitUntil(lambda: panel._estimate is not None, timeout=10000)
    panel.workers.setValue(2)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda _parent, _title, text: asked.append(text) or QMessageBox.StandardButton.Yes)
    panel.start_button.click()
    assert asked == ["Download 600 Street View images for at most $5.25?"]  # the cost is confirmed first
    qtbot.waitUntil(lambda: sum(project.city_counts().values()) >= 2, timeout=30000)
    panel.pause_button.click()
    assert panel.job.control.paused and panel.pause_button.text() == "Resume"
    panel.pause_button.click()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.job.running, timeout=30000)
    assert "cancelled" in panel.log.toPlainText()
    stopped_at = sum(project.city_counts().values())
    assert 2 <= stopped_at < 600
    qtbot.wait(300)
    assert sum(project.city_counts().values()) == stopped_at  # nothing runs after the cancel
    assert panel.start_button.isEnabled()


def test_a_bad_key_is_explained(qtbot, tmp_path, apis):
    window, project, panel = _panel(qtbot, tmp_path, apis, target=3)
    panel.key.setText("wrong-key")
    panel.start_button.click()
    qtbot.waitUntil(lambda: not panel.job.running, timeout=30000)
    assert panel.error.isVisible()
    assert panel.error.text().startswith("The provider refused the key")
    assert "wrong-key" not in panel.error.text()


def test_budget_pause_and_honest_spend_across_restarts(qtbot, tmp_path, apis):
    for pano in apis.world.panos[::2]:   # half the panoramas answer with a grey placeholder, billed
        pano.has_imagery = False
    apis.world.ignore_return_error_code = True
    apis.world.image_delay_s = 0.05
    window, project, panel = _panel(qtbot, tmp_path, apis, target=50)
    panel.workers.setValue(2)
    panel.budget.setValue(12)
    qtbot.waitUntil(lambda: "$0.08 at most" in panel.estimate.text(), timeout=10000)  # 12 x $7 / 1,000
    panel.start_button.click()
    qtbot.waitUntil(lambda: apis.world.counts["image"] >= 3, timeout=30000)
    panel.pause_button.click()
    assert panel.state_label.text().startswith("Paused") and panel.overall.format().startswith("Paused")
    qtbot.wait(400)  # the requests in flight finish
    paid = apis.world.counts["image"]
    qtbot.wait(400)
    assert apis.world.counts["image"] == paid, "requests went on while paused"
    panel.pause_button.click()
    assert panel.state_label.text() == "Downloading…"
    qtbot.waitUntil(lambda: not panel.job.running, timeout=60000)
    assert apis.world.counts["image"] == 12   # the budget, refused placeholders included
    assert panel.cost.text() == "This job: 12 billed image requests ({} refused placeholders), about $0.08 so far".format(
        project.conn.execute("SELECT COUNT(*) FROM sample_points WHERE outcome = 'rejected'").fetchone()[0])

    # Start again: the same unfinished job, its spend carried over (also into a new app: it is in the project).
    qtbot.waitUntil(lambda: "This job already spent about $0.08" in panel.estimate.text(), timeout=10000)
    panel.start_button.click()
    qtbot.waitUntil(lambda: not panel.job.running, timeout=60000)
    assert apis.world.counts["image"] == 24 and "24 billed image requests" in panel.cost.text()

    panel.key.setText("wrong-key")
    panel.start_button.click()
    qtbot.waitUntil(lambda: not panel.job.running, timeout=30000)
    assert panel.error.isVisible() and panel.cost.text() == ""   # no stale spend line under an error
