"""All five workspaces live together in one main window: built in any order, switched through, sized for
a 1280x800 screen, following the model chosen before they were built, and never importing torch on the
UI thread (with QtWebEngine's Chromium running, a late native torch library can crash the process)."""

from __future__ import annotations

import builtins
import threading

import pytest

from geospottr_gui.main_window import WORKSPACES, MainWindow
from geospottr_gui.views.widgets.map_view import online_tiles

from .dataset_support import make_window

TITLES = [title for title, _module, _cls in WORKSPACES]
#: Modules whose import loads torch (the torch side of the wall in pyproject.toml's import-linter contracts).
TORCH_MODULES = ("torch", "torchvision", "core.inference.prediction", "core.devices", "core.training.trainer",
                 "core.training.cache", "core.training.data", "core.training.transforms", "core.models.bundle",
                 "core.models.backbones", "core.quality.embedding", "core.quality.scene")


@pytest.fixture
def ui_thread_imports(monkeypatch):
    """Every torch-loading module an ``import`` statement asks for on the UI thread, while the test runs."""
    seen: list[str] = []
    real_import = builtins.__import__

    def guarded(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and threading.current_thread() is threading.main_thread() and name.startswith(TORCH_MODULES):
            seen.append(name)
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", guarded)
    return seen


def _close(qtbot, window: MainWindow) -> None:
    window.close()  # saves its state and stops every job
    for view in window.workspaces.values():
        view.deleteLater()  # their map pages must be gone before QtWebEngine's profile at exit
    qtbot.wait(50)


@pytest.mark.parametrize("order", [TITLES, list(reversed(TITLES))], ids=["in-order", "reversed"])
def test_all_workspaces_build_and_switch_in_one_window(qtbot, tiny_project, tmp_path, random_bundle, order,
                                                       ui_thread_imports):
    window = make_window(qtbot, tiny_project, tmp_path, all_workspaces=True)
    for title in order:
        window.show_workspace(title)
        view = window.workspaces[title]
        assert window.stack.currentWidget() is view
        assert type(view).__name__ != "QLabel", f"{title} failed to load: {view.text()}"
        qtbot.wait(150)  # let each view's first jobs (torch imports, map pages) run alongside the next
    assert set(window.workspaces) == set(TITLES)
    window.context.set_model(str(random_bundle))  # every view picks it up
    for title in TITLES:  # around once more, now that everything is built
        window.show_workspace(title)
        assert window.stack.currentWidget() is window.workspaces[title]
    qtbot.waitUntil(lambda: window.versions is not None and "Model bundle" in window.versions, timeout=60000)
    qtbot.waitUntil(lambda: window.workspaces["Predict"].predictor is not None, timeout=30000)
    assert ui_thread_imports == []
    _close(qtbot, window)


def test_the_window_fits_a_1280x800_screen(qtbot, tiny_project, tmp_path):
    window = make_window(qtbot, tiny_project, tmp_path, all_workspaces=True)
    for title in TITLES:
        window.show_workspace(title)
    window.resize(1280, 760)  # 800 less a title bar and a panel
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 760, hint
    qtbot.waitUntil(lambda: window.width() == 1280)
    for title, view in window.workspaces.items():
        assert view.minimumSizeHint().width() <= window.stack.width(), title
    _close(qtbot, window)


def test_workspaces_built_later_use_the_model_chosen_before(qtbot, tiny_project, tmp_path, random_bundle,
                                                           photo_factory):
    window = make_window(qtbot, tiny_project, tmp_path, all_workspaces=True)
    window.context.set_model(str(random_bundle))  # e.g. a training run finished
    window.online_tiles_action.trigger()  # View > Online map tiles: off, for the maps built from now on
    assert not online_tiles(window.context.settings)
    predict = window.workspace("Predict")
    assert predict.model_path == str(random_bundle)
    assert window.workspace("Evaluate").model_path() == str(random_bundle)
    assert window.workspace("Challenge").model_path == str(random_bundle)
    window.predict_paths([photo_factory("a.jpg", seed=1)])
    assert window.stack.currentWidget() is predict
    qtbot.waitUntil(lambda: predict.predictor is not None and not predict.busy, timeout=30000)
    assert "→" in predict.queue.item(0).text()
    qtbot.waitUntil(lambda: predict.map.current is not None and predict.map.is_loaded, timeout=20000)
    assert "tile.openstreetmap.org" not in predict.map.current.read_text()  # offline basemap only
    _close(qtbot, window)
