"""All five workspaces live together in one main window: built in any order, switched through, closed."""

from __future__ import annotations

import pytest

from geospottr_gui.main_window import WORKSPACES

from .dataset_support import make_window

TITLES = [title for title, _module, _cls in WORKSPACES]


def _visit(qtbot, window, order):
    for title in order:
        view = window.workspace(title)
        window.show_workspace(title)
        qtbot.waitUntil(lambda v=view: window.stack.currentWidget() is v)
        assert not type(view).__name__ == "QLabel", f"{title} failed to load: {view.text()}"
        qtbot.wait(100)  # let each view's first jobs (torch imports, map pages) start in between
    assert set(window.workspaces) == set(TITLES)


@pytest.mark.parametrize("order", [TITLES, list(reversed(TITLES))], ids=["in-order", "reversed"])
def test_all_workspaces_build_and_switch_in_one_window(qtbot, tiny_project, tmp_path, random_bundle, order):
    window = make_window(qtbot, tiny_project, tmp_path, all_workspaces=True)
    window.context.model_selected.emit(str(random_bundle))
    _visit(qtbot, window, order)
    for title in TITLES:  # and around once more, now that everything is built
        window.show_workspace(title)
        assert window.stack.currentWidget() is window.workspaces[title]
    qtbot.waitUntil(lambda: window.versions is not None, timeout=60000)  # the torch import in a worker
    window.close()
