"""The Predict workspace with a real (randomly initialised) bundle, real files and the real web map."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

from geospottr_gui.views.predict.predict_view import PredictView
from geospottr_gui.views.widgets.map_view import evaluate_js
from tests.gui.conftest import context_for


@pytest.fixture
def view(qtbot, tmp_path, tiny_project, random_bundle):
    v = PredictView(context_for(tiny_project, tmp_path))
    qtbot.addWidget(v)
    v.top_k.setValue(3)
    v.resize(1200, 800)
    v.show()
    v.set_model(str(random_bundle))
    qtbot.waitUntil(lambda: v.predictor is not None, timeout=30000)
    yield v
    v.shutdown()
    v.deleteLater()
    qtbot.wait(50)  # pages must be gone before QtWebEngine's profile at exit


def drop(view, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    view.drop.dropEvent(event)


class shown_with_map:  # noqa: N801 - used like qtbot.waitSignal
    """Wait for the next ranking and then for its own map page (which follows the list a moment later)."""

    def __init__(self, qtbot, view) -> None:
        self.qtbot, self.view = qtbot, view
        self.shown = qtbot.waitSignal(view.prediction_shown, timeout=20000)

    def __enter__(self):
        self.before = self.view.map.generation
        return self.shown.__enter__()

    def __exit__(self, *exc):
        result = self.shown.__exit__(*exc)
        if exc[0] is None:
            wait_new_map(self.qtbot, self.view, self.before)
        return result


def wait_new_map(qtbot, view, before: int) -> None:
    qtbot.waitUntil(lambda: view.map.generation > before and view.map.is_loaded, timeout=20000)


def test_dropping_a_photo_ranks_cities_and_maps_one_marker_each(qtbot, view, photo_factory):
    photo = photo_factory("street.jpg", seed=1)
    with shown_with_map(qtbot, view):
        drop(view, [photo])
    assert view.ranking.rowCount() == 3
    probs = [view.ranking.cellWidget(r, 2).value() for r in range(3)]
    assert probs == sorted(probs, reverse=True)
    top = view.current.result.top
    assert view.ranking.item(0, 1).text() == f"{top.name}, {top.country}"
    assert view.queue.count() == 1 and "→" in view.queue.item(0).text()
    assert evaluate_js(view.map, "typeof L") == "object"
    assert evaluate_js(view.map, "document.querySelectorAll('.gs-candidate').length") == 3
    assert evaluate_js(view.map, "document.querySelectorAll('.gs-top').length") == 1
    # No tiles here (no network): the page falls back to the bundled basemap, with no script errors.
    qtbot.waitUntil(lambda: evaluate_js(view.map, "document.body.dataset.tiles") in ("offline", "online"),
                    timeout=15000)
    assert evaluate_js(view.map, "document.querySelectorAll('.leaflet-basemap-pane path').length") > 100
    assert view.map.script_errors == []
    # top-k re-cuts the shown ranking and map without predicting again
    before = view.map.generation
    view.top_k.setValue(2)
    assert view.ranking.rowCount() == 2
    wait_new_map(qtbot, view, before)
    assert evaluate_js(view.map, "document.querySelectorAll('.gs-candidate').length") == 2


def test_several_photos_queue_and_can_be_combined_as_one_place(qtbot, view, photo_factory, tmp_path):
    photos = [photo_factory(f"p{i}.jpg", seed=i, kind=1) for i in range(3)]
    bad = tmp_path / "src" / "broken.jpg"
    bad.write_bytes(b"not an image")
    drop(view, photos + [bad])
    qtbot.waitUntil(lambda: not view.busy, timeout=30000)
    assert view.queue.count() == 4
    assert view.queue.item(3).text().startswith("✗") and "broken.jpg" in view.queue.item(3).text()
    assert view.offer.isVisible()
    with shown_with_map(qtbot, view) as shown:
        view.same_place.click()
    group = shown.args[0]
    assert group.group and group.view_count == 3 and len(group.failures) == 1
    assert "3 views combined" in view.caption.text()
    assert evaluate_js(view.map, "document.querySelectorAll('.gs-candidate').length") == 3

    out = tmp_path / "out" / "predictions.csv"
    rows = view.export_csv(out)
    with out.open(newline="") as fh:
        table = list(csv.DictReader(fh))
    assert rows == len(table) == 3 * 3 + 1 + 3  # three photos, one failure, one group
    assert table[0]["rank"] == "1" and float(table[0]["probability"]) > 0
    assert any(r["error"] for r in table)


def test_a_folder_is_predicted_in_batch_and_a_pasted_image_too(qtbot, view, photo_factory, tmp_path):
    for i in range(5):
        photo_factory(f"batch/{i}.jpg", seed=10 + i)
    view.add_paths([tmp_path / "src" / "batch"])
    assert not view.offer.isVisible()
    qtbot.waitUntil(lambda: not view.busy, timeout=30000)
    assert len(view.entries) == 5 and all("→" in view.queue.item(i).text() for i in range(5))
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkGreen)
    QGuiApplication.clipboard().setImage(image)
    with qtbot.waitSignal(view.prediction_shown, timeout=20000) as shown:
        view.paste()
    assert shown.args[0].name.startswith("pasted image")
    assert view.ranking.rowCount() == 3
