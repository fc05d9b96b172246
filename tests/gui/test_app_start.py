"""Starting the app with arguments ("Open with GeoSpottr" runs ``geospottr-gui %F``), Help > About's
versions, a missing workspace, and keys kept in the OS keyring."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtCore import QSettings

from core.acquisition import keys
from core.data.project import Project
from geospottr_gui import settings as keys_
from geospottr_gui.app import open_window
from geospottr_gui.arguments import parse, split_arguments
from geospottr_gui.context import AppContext
from geospottr_gui.main_window import MainWindow
from geospottr_gui.views.predict.predict_view import NO_MODEL_WAITING


def _settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_arguments_split_into_a_project_and_photos(tmp_path, tiny_project, photo_factory):
    photo = photo_factory("a.jpg", seed=1)
    (tmp_path / "empty").mkdir()
    photos_dir = photo.parent
    assert split_arguments([str(tiny_project.root)]) == (str(tiny_project.root), [])
    assert split_arguments([str(tmp_path / "empty")]) == (str(tmp_path / "empty"), [])
    assert split_arguments([str(tmp_path / "new-project")]) == (str(tmp_path / "new-project"), [])
    assert split_arguments([str(photo), str(tmp_path / "gone.jpg"), str(photos_dir)]) == (
        None, [photo, tmp_path / "gone.jpg", photos_dir])


def test_photos_open_the_last_project_in_predict_and_wait_for_a_model(qtbot, tmp_path, tiny_project, photo_factory):
    settings = _settings(tmp_path)
    settings.setValue("lastProject", str(tiny_project.root))
    photos = [photo_factory(f"{i}.jpg", seed=i) for i in range(2)]
    window = open_window(parse(["geospottr-gui", *map(str, photos)]), settings)
    qtbot.addWidget(window)
    assert window.context.project.root == tiny_project.root
    predict = window.workspaces["Predict"]
    qtbot.waitUntil(lambda: len(predict.entries) == 2, timeout=30000)
    qtbot.wait(100)  # the restored workspace (Dataset) must not take over
    assert window.stack.currentWidget() is predict
    assert predict.predictor is None and NO_MODEL_WAITING in predict.caption.text()
    window.close()
    predict.deleteLater()
    qtbot.wait(50)


def test_photos_are_predicted_at_once_when_a_model_is_known(qtbot, tmp_path, tiny_project, random_bundle,
                                                            photo_factory):
    settings = _settings(tmp_path)
    settings.setValue("lastProject", str(tiny_project.root))
    keys_.PROJECT_MODEL.key(keys_.project_part(tiny_project.root)).set(settings, str(random_bundle))
    window = open_window(parse(["geospottr-gui", str(photo_factory("a.jpg", seed=1))]), settings)
    qtbot.addWidget(window)
    predict = window.workspaces["Predict"]
    # The queue row shows the top city once the result reaches the UI thread.
    qtbot.waitUntil(lambda: predict.queue.count() == 1 and "→" in predict.queue.item(0).text(), timeout=30000)
    window.close()
    predict.deleteLater()
    qtbot.wait(50)


def test_a_project_folder_argument_opens_that_project(qtbot, tmp_path, tiny_project):
    window = open_window(parse(["geospottr-gui", str(tmp_path / "fresh")]), _settings(tmp_path))
    qtbot.addWidget(window)
    assert window.context.project.root == tmp_path / "fresh" and (tmp_path / "fresh" / "geospottr.db").exists()
    assert "Predict" not in window.workspaces


def test_about_shows_the_probed_versions_and_the_model_bundle(qtbot, tmp_path, tiny_project, random_bundle):
    window = MainWindow(AppContext(tiny_project, _settings(tmp_path)))
    qtbot.addWidget(window)
    window.show()
    about = window.show_about()  # before the probe: says so, and fills in when it ends
    assert "still being probed" in about.label.text() and not about.copy_button.isEnabled()
    assert not window.device_label.isVisible()  # no "probing…" placeholder for the 15-25 s torch may take
    window.context.set_model(str(random_bundle))
    qtbot.waitUntil(lambda: window.versions is not None and "Model bundle" in window.versions, timeout=60000)
    assert window.device_label.isVisible() and window.device_label.text() == f"device: {window.versions['Device']}"
    text = about.label.text()
    for label in ("GeoSpottr:", "Python:", "torch:", "torchvision:", "PySide6:", "Qt:", "Model bundle:"):
        assert label in text
    assert "baseline, 4 cities from run r1" in text
    about.copy_button.click()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text().startswith("GeoSpottr:")
    about.close()


def test_a_missing_workspace_module_is_a_loud_error(tmp_path, tiny_project, qtbot):
    with pytest.raises(ModuleNotFoundError, match="Nowhere workspace"):
        MainWindow(AppContext(tiny_project, _settings(tmp_path)), [("Nowhere", "geospottr_gui.views.nowhere", "X")])


@pytest.fixture
def memory_keyring():
    """A real in-memory keyring backend (no OS keyring on a headless test machine)."""
    import keyring
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    class Backend(KeyringBackend):
        priority = 1

        def __init__(self) -> None:
            super().__init__()
            self.store: dict[tuple[str, str], str] = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            if self.store.pop((service, username), None) is None:
                raise PasswordDeleteError(username)

    previous = keyring.get_keyring()
    backend = Backend()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_the_download_panel_keeps_a_key_through_core_keys(qtbot, tmp_path, memory_keyring):
    from .dataset_support import dataset, make_window

    window = make_window(qtbot, Project.init(tmp_path / "p"), tmp_path)
    panel = dataset(window).download
    panel.remember.setChecked(True)
    panel.in_settings.setChecked(False)
    panel._keep_secret("k-123")
    qtbot.waitUntil(lambda: "key saved in the OS keyring" in panel.log.toPlainText(), timeout=10000)
    assert keys.find_secret(keys.GOOGLE_KEY) == "k-123"
    assert panel.context.settings.value("download/secret/streetview") is None
    assert keys.delete_secret(keys.GOOGLE_KEY) and keys.find_secret(keys.GOOGLE_KEY) is None
    assert not keys.delete_secret(keys.GOOGLE_KEY)


@pytest.mark.parametrize("flag, expected", [("--help", "--monitor RUN"), ("-h", "usage: geospottr-gui"),
                                            ("--version", "geospottr-gui ")])
def test_help_and_version_print_and_exit_without_qt(flag, expected):
    """`geospottr-gui --help` is read before Qt starts: it prints and exits 0, no window, no Qt loaded
    (so it works even where Qt's system libraries are missing)."""
    code = ("import sys; from geospottr_gui.app import main; rc = main(['geospottr-gui', sys.argv[1], 'x.jpg']); "
            "assert 'PySide6.QtWidgets' not in sys.modules, 'Qt was loaded'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, flag], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout


def test_the_device_probe_names_the_device_without_loading_torch_into_the_app(tmp_path):
    """The status bar's device comes from a child `geospottr versions --json`: the app process stays
    without torch (about 1 GB) until a job needs it."""
    code = f"""
import sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from core.data.project import Project
from geospottr_gui.context import AppContext
from geospottr_gui.main_window import MainWindow
app = QApplication([])
window = MainWindow(AppContext(Project.init({str(tmp_path / 'p')!r}),
                               QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat)))
window.show()
def check():
    if window.versions is not None:
        print("DEVICE", window.versions["Device"], "torch" in sys.modules, window.device_label.text(), sep="|")
        app.quit()
timer = QTimer(); timer.timeout.connect(check); timer.start(100)
QTimer.singleShot(150000, app.quit)
app.exec()
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=200, env=env)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("DEVICE")), None)
    assert line is not None, proc.stdout + proc.stderr
    _, device, torch_loaded, label = line.split("|")
    assert torch_loaded == "False" and label == f"device: {device}" and device.split()[0] in ("cpu", "cuda:", "mps")
