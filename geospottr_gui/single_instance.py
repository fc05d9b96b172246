"""One window per user: a second ``geospottr-gui IMAGE...`` hands its arguments to the open one and exits.

The first instance listens on a local socket (`QLocalServer`; a Unix socket or a Windows named pipe)
named after the user and their settings folder. A later start connects, writes one JSON line
``{"args": [...], "cwd": "..."}`` (paths made absolute, since the two processes' working folders
differ) and exits once the open window has answered ``ok`` (it queues the photos in Predict and comes
to the front). Starting a second full app instead took 20 s and 1.2 GB.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from core.typed import DamagedFile, parse_json

log = logging.getLogger(__name__)

#: How long a starting instance waits for the open one (connect, then its answer).
CONNECT_MS = 500
ANSWER_MS = 3000
#: A forwarded message larger than this is not a command line: drop the connection.
MAX_MESSAGE_BYTES = 1 << 20


def server_name() -> str:
    """The socket name: one per user and settings folder (a test's isolated folder gets its own)."""
    where = os.environ.get("XDG_CONFIG_HOME") or str(Path.home())
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return "geospottr-" + hashlib.sha1(f"{user}|{where}".encode("utf-8")).hexdigest()[:16]


def absolute_arguments(args: list[str], cwd: str | None = None) -> list[str]:
    """Positional arguments as absolute paths (the open window resolves them against nothing)."""
    base = Path(cwd or os.getcwd())
    paths = (Path(a).expanduser() for a in args)
    return [str(p if p.is_absolute() else base / p) for p in paths]


def forward(args: list[str], name: str | None = None) -> bool:
    """Hand `args` (positional command-line arguments) to a running instance; False when none answers."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_MS):
        return False
    message = json.dumps({"args": absolute_arguments(args)}).encode("utf-8") + b"\n"
    socket.write(message)
    if not socket.waitForBytesWritten(ANSWER_MS):
        return False
    answered = socket.waitForReadyRead(ANSWER_MS) and bytes(socket.readAll().data()).startswith(b"ok")
    socket.disconnectFromServer()
    return answered


class InstanceServer(QObject):
    """Listens for later starts; ``received(list[str])`` carries each one's absolute arguments."""

    received = Signal(list)

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # this user only
        self.server.newConnection.connect(self._connected)
        self._buffers: dict[int, bytes] = {}  # by id(socket): what a connection sent so far

    def listen(self) -> bool:
        """Start listening (a socket file left by a crashed instance is removed first)."""
        if self.server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)
        if self.server.listen(self.name):
            return True
        log.warning("single instance: cannot listen on %s: %s", self.name, self.server.errorString())
        return False

    def close(self) -> None:
        self.server.close()

    def _connected(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)  # a C++ slot: safe while the server is destroyed

    def _read(self, socket: QLocalSocket) -> None:
        key = id(socket)
        data = self._buffers.pop(key, b"") + bytes(socket.readAll().data())
        if len(data) > MAX_MESSAGE_BYTES:
            socket.abort()
            return
        if b"\n" not in data:
            self._buffers[key] = data
            return
        line = data.split(b"\n", 1)[0]
        try:
            message = parse_json(line, "single instance message")
            args = [str(a) for a in message["args"] if isinstance(a, str)]
        except (DamagedFile, KeyError, TypeError):
            log.warning("single instance: ignored a malformed message")
            socket.abort()
            return
        socket.write(b"ok\n")
        socket.flush()
        self.received.emit(args)
