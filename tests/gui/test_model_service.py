"""Issue 26 item 2 / issue 25 item 6: the app holds one loaded model per (file, device) in
`context.models`, shared by every workspace, let go when the project changes, after idle time and when
the window closes; every "Choose model…" is the one dialog helper, offering .pt and .onnx."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from geospottr_gui.model_service import MODEL_FILTER, ModelService
from tests.conftest import REPO, build_tiny_project
from tests.gui.conftest import context_for


@pytest.fixture
def bundle(tmp_path):
    from tests.core.inference.conftest import make_bundle

    return make_bundle(tmp_path / "best.pt", "efficientnet-lite0-probe", weights="none", image_size=64, view_size=48)


def test_every_job_gets_the_same_loaded_model_until_the_file_changes(qtbot, bundle):
    service = ModelService()
    first = service.get(bundle)
    assert service.get(str(bundle)) is first and service.get(Path(bundle).parent / "." / "best.pt") is first
    stat = bundle.stat()
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a run wrote a new best.pt
    assert service.get(bundle) is not first


def test_release_and_idle_release_let_go_and_say_so(qtbot, bundle):
    service = ModelService(idle_seconds=3600)
    first = service.get(bundle)
    service.release_idle()  # used just now: kept
    assert service.get(bundle) is first
    with qtbot.waitSignal(service.released, timeout=1000):
        service.release()
    second = service.get(bundle)
    assert second is not first
    service.idle_seconds = 0
    with qtbot.waitSignal(service.released, timeout=1000):
        service.release_idle()
    assert service.get(bundle) is not second


def test_opening_another_project_releases_the_models(qtbot, tmp_path, bundle, tiny_project):
    context = context_for(tiny_project, tmp_path)
    context.models.get(bundle)
    other = build_tiny_project(tmp_path / "other", per_city=2)
    with qtbot.waitSignal(context.models.released, timeout=1000):
        context.set_project(other)
    other.close()


def test_only_the_model_service_loads_models_or_asks_for_a_model_file():
    """One owner: no workspace loads a bundle itself or writes its own model file filter."""
    offenders = []
    for path in sorted((REPO / "geospottr_gui").rglob("*.py")):
        if path.name == "model_service.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"Predictor\.load\(|load_predictor\(|load_bundle\(|\(\*\.pt\)", text.replace("def load_predictor(", "")):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
    assert "*.pt" in MODEL_FILTER and "*.onnx" in MODEL_FILTER


def test_the_context_and_its_model_service_own_no_timer(tmp_path, tiny_project):
    """A context is a Python-owned QObject that garbage collection may destroy from a worker thread; a
    running QTimer among its children would stay registered with the UI thread's event loop and crash it
    when it next fired (the full GUI suite segfaulted in QTimerInfoList::activateTimers). The idle release
    is driven by the main window's timer instead."""
    from PySide6.QtCore import QTimer

    from tests.gui.conftest import context_for

    context = context_for(tiny_project, tmp_path)
    assert context.findChildren(QTimer) == [] and context.models.findChildren(QTimer) == []
