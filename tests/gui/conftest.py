"""GUI test setup shared by every tests/gui module.

QtWebEngine must be imported, and OpenGL contexts shared, before pytest-qt creates the QApplication.
"""

import pytest
from PySide6 import QtWebEngineWidgets  # noqa: F401  (import before the QApplication exists)
from PySide6.QtCore import QCoreApplication, Qt

QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


@pytest.fixture
def random_bundle(tiny_project):
    """A randomly initialised baseline bundle over the tiny project's cities, saved as run r1: enough for
    UI plumbing (rankings, markers, challenge rounds); accuracy is tested elsewhere."""
    import torch

    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo, save_bundle

    torch.manual_seed(0)
    cities = tiny_project.cities()
    meta = BundleMeta(arch="baseline", image_size=32, run_id="r1",
                      classes=[ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in cities])
    (tiny_project.runs_dir / "r1").mkdir(parents=True, exist_ok=True)  # a run folder, as the trainer leaves it
    (tiny_project.runs_dir / "r1" / "config.json").write_text('{"arch": "baseline", "created": "2026-01-01T00:00:00"}')
    return save_bundle(tiny_project.runs_dir / "r1" / "best.pt", registry.build("baseline", len(cities)).eval(), meta)


def context_for(project, tmp_path):
    """An AppContext whose settings live in tmp_path: Qt caches the user settings path per process, so
    the default QSettings would carry one test's choices (a model path) into the next."""
    from PySide6.QtCore import QSettings

    from geospottr_gui.context import AppContext

    return AppContext(project, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
