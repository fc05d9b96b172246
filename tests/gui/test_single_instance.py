"""One instance: a second ``geospottr-gui PHOTO`` hands the photo to the open window and exits at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtNetwork import QLocalSocket

from geospottr_gui.main_window import MainWindow
from geospottr_gui.single_instance import InstanceServer, server_name
from tests.gui.conftest import context_for

REPO = Path(__file__).resolve().parents[2]


def test_a_second_start_queues_its_photo_in_the_open_window_and_exits(qtbot, tmp_path, tiny_project, random_bundle,
                                                                        photo_factory):
    window = MainWindow(context_for(tiny_project, tmp_path),
                        [("Predict", "geospottr_gui.views.predict.predict_view", "PredictView")])
    qtbot.addWidget(window)
    window.show()
    window.context.set_model(str(random_bundle))
    server = InstanceServer(parent=window)
    server.received.connect(window.open_arguments)
    assert server.listen() and server.name == server_name()
    photo = photo_factory("from-the-file-manager.jpg", seed=3)
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    started = time.monotonic()
    # A relative path, from another working folder: the open window must get the absolute one.
    second = subprocess.Popen([sys.executable, "-m", "geospottr_gui.app", photo.name], cwd=photo.parent, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=60000)  # our event loop answers it meanwhile
    finally:
        if second.poll() is None:
            second.kill()
    output = second.stdout.read().decode(errors="replace")
    assert second.returncode == 0, output
    predict = window.workspaces["Predict"]
    qtbot.waitUntil(lambda: len(predict.entries) == 1, timeout=30000)
    assert predict.entries[0].name == str(photo) and window.stack.currentWidget() is predict
    qtbot.waitUntil(lambda: predict.entries[0].done, timeout=30000)
    print(f"second start handed over and exited in {time.monotonic() - started:.2f} s")
    window.close()
    server.close()
    predict.deleteLater()
    qtbot.wait(50)


def test_a_malformed_message_is_dropped_and_the_server_keeps_listening(qtbot, tmp_path):
    server = InstanceServer(name=f"geospottr-test-{os.getpid()}")
    received = []
    server.received.connect(received.append)
    assert server.listen()
    clients = []
    for payload in (b"not json\n", b'{"args": 5}\n', b'{"args": ["/a.jpg"]}\n'):
        socket = QLocalSocket(server)  # owned by Qt, not by Python's garbage collector
        clients.append(socket)
        socket.connectToServer(server.name)
        assert socket.waitForConnected(1000)
        socket.write(payload)
        socket.flush()
        qtbot.wait(100)
    qtbot.waitUntil(lambda: received == [["/a.jpg"]], timeout=3000)
    assert bytes(clients[-1].readAll().data()) == b"ok\n"
    server.close()
    server.deleteLater()
    qtbot.wait(50)
