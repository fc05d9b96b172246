"""Control a training run from another process: the ``control.json`` protocol and the trainer's relay.

Why a file: a run may have been started by ``geospottr train`` in a terminal, by ``torchrun``, or by the
desktop app, and any of them may be watched by a monitor window of another process. The run folder is the
one thing they all share, so commands travel through it.

Protocol (``runs/<id>/control.json``, documented in README "Watching and controlling a run"):

* A sender appends ``{"seq": n, "command": "pause" | "resume" | "stop" | "save", "time": ..., "from": ...}``
  to the file's ``"commands"`` list (the last `KEEP` are kept) with ``seq`` one above the highest one
  there, and replaces the file atomically (`send_command`).
* The training process applies every command whose ``seq`` is above the highest it has seen, once, in
  order; commands already in the file when the run (re)starts are history and are skipped. Pause blocks
  before the next iteration, stop ends the run after the iteration in flight with a resumable ``last.pt``
  (exactly like Ctrl+C), save writes ``last.pt`` after the iteration in flight.
* The trainer acknowledges in ``status.json``: ``"paused"`` and ``"control_seq"`` (the last command
  applied), and refreshes ``"updated"`` plus the progress fields (``epoch``, ``epochs``, ``iteration``,
  ``total``) every `HEARTBEAT_S` and after each epoch, so a watcher on another machine can tell a live
  run from a dead one.

`ControlRelay` is a daemon thread in the training process (rank 0): it polls the file every
`POLL_S` and turns commands into calls on the run's `Control`, which the loop checks between iterations.
A thread rather than a check inside the loop because the loop is blocked while paused, validating or
building the feature cache, and must still see "resume" and keep its heartbeat then.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..errors import GeoSpottrError
from ..events import Control
from ..fsutil import atomic_write_text
from ..typed import DamagedFile
from . import runs

CONTROL = "control.json"
COMMANDS = ("pause", "resume", "stop", "save")
#: How many commands the file keeps (a sender never needs more than the last few).
KEEP = 20
#: How often the relay looks at control.json: a button in a monitor acts within about this long.
POLL_S = 0.25
#: `ControlRelay.poll`'s default: read control.json now.
_READ = object()
#: How often status.json is refreshed while the run lives (its ``updated`` field is the heartbeat).
HEARTBEAT_S = 5.0


def read_commands(run_dir: Path) -> list[dict[str, Any]]:
    """The commands in a run's control file, oldest first ([] when there is none or its content is damaged:
    the next `send_command` replaces it). A control.json that is no regular file (a FIFO, a device) or is
    huge raises `GeoSpottrError`: it is opened like every run file (`runs.read_run_json`), never waited on."""
    try:
        data = runs.read_run_json(Path(run_dir) / CONTROL, "control file")
    except DamagedFile:
        return []
    commands = data.raw("commands")
    if not isinstance(commands, list):
        return []
    return [c for c in commands if isinstance(c, dict) and isinstance(c.get("seq"), int)
            and not isinstance(c.get("seq"), bool) and 0 < c["seq"] < 2**53 and c.get("command") in COMMANDS]


def last_seq(run_dir: Path) -> int:
    return max((c["seq"] for c in read_commands(run_dir)), default=0)


def send_command(run_dir: Path | str, command: str) -> int:
    """Ask the process training the run in `run_dir` to pause / resume / stop / save; returns the seq.

    Raises `GeoSpottrError` for an unknown command or a folder that is not a run.
    """
    path = Path(run_dir)
    if command not in COMMANDS:
        raise GeoSpottrError(f"unknown run command {command!r} (use one of {', '.join(COMMANDS)})")
    if not (path / runs.CONFIG).is_file():
        raise GeoSpottrError(f"{path} is not a training run folder (no {runs.CONFIG})")
    commands = read_commands(path)
    seq = max((c["seq"] for c in commands), default=0) + 1
    commands.append({"seq": seq, "command": command,
                     "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "from": f"{os.getpid()}@{socket.gethostname()}"})
    atomic_write_text(runs.run_file(path, CONTROL), json.dumps({"commands": commands[-KEEP:]}, indent=1))
    return seq


def apply_command(control: Control, command: str) -> bool:
    """Act on `control` for one command; returns True for "save" (the caller writes last.pt)."""
    if command == "pause":
        control.pause()
    elif command == "resume":
        control.resume()
    elif command == "stop":
        control.cancel()
    return command == "save"


class ControlRelay:
    """The training process's side: control.json -> `Control`, and the status.json heartbeat.

    ``progress()`` returns the fields to publish (epoch, iteration, ...); it is called from the relay
    thread and must only read plain attributes. "save" needs a `Control` with ``request_checkpoint``
    (`trainer.TrainControl`, what `train` uses unless given another); a plain `Control` ignores it.
    """

    def __init__(self, run_dir: Path, control: Control, progress: Callable[[], dict[str, Any]],
                 poll_s: float = POLL_S, heartbeat_s: float = HEARTBEAT_S,
                 on_command: Callable[[str], None] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.control = control
        self.progress = progress
        #: Told each command taken from control.json (the training process says so in its own output:
        #: a terminal running `train` shows a pause sent from a monitor window).
        self.on_command = on_command
        self.poll_s, self.heartbeat_s = poll_s, heartbeat_s
        self.seen = max((c["seq"] for c in self._read()), default=0)  # commands from before this start are history
        #: Why control.json cannot be read (a FIFO put there, say), or "": commands are then not heard.
        self.problem = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the relay thread and the training loop both call `check`
        self._mtime_ns = self._stat()
        self._paused = control.paused
        self._epoch = progress().get("epoch")
        self._thread = threading.Thread(target=self._loop, name=f"run-control-{self.run_dir.name}", daemon=True)

    def start(self) -> "ControlRelay":
        self.write_status()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (before the final status is written, so no heartbeat can overwrite it)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def write_status(self) -> None:
        runs.set_status(self.run_dir, "running", paused=self.control.paused, control_seq=self.seen,
                        **self.progress())

    def _stat(self) -> int:
        try:
            return (self.run_dir / CONTROL).stat().st_mtime_ns
        except OSError:
            return 0

    def _read(self) -> list[dict[str, Any]]:
        """control.json's commands; a file that cannot be read (no regular file) is remembered in `problem`
        and reads as no commands: the run goes on, and a fixed file is read again on its next change."""
        try:
            commands = read_commands(self.run_dir)
        except GeoSpottrError as exc:
            self.problem = str(exc)
            return []
        self.problem = ""
        return commands

    def _new_commands(self) -> list[dict[str, Any]] | None:
        """The commands in control.json when it changed since the last look (None when it did not). Runs
        without the lock: reading a file never holds up the training loop's `check`."""
        mtime = self._stat()
        if mtime == self._mtime_ns:
            return None
        self._mtime_ns = mtime
        return self._read()

    def poll(self, commands: Any = _READ) -> bool:
        """Apply new `commands` (as `_new_commands` read them; by default read now); returns True when
        status.json should be rewritten now."""
        if commands is _READ:
            commands = self._new_commands()
        changed = False
        for cmd in commands or ():
            if cmd["seq"] <= self.seen:
                continue
            self.seen = cmd["seq"]
            changed = True
            if apply_command(self.control, cmd["command"]) and hasattr(self.control, "request_checkpoint"):
                self.control.request_checkpoint()
            if self.on_command is not None:
                self.on_command(cmd["command"])
        if self.control.paused != self._paused:  # also a pause from the app's own buttons
            self._paused = self.control.paused
            changed = True
        epoch = self.progress().get("epoch")
        if epoch != self._epoch:  # an epoch ended: watchers' progress should not lag a heartbeat behind
            self._epoch = epoch
            changed = True
        return changed

    def check(self, heartbeat: bool = False) -> bool:
        """Apply new commands and publish status.json when something changed (or `heartbeat`); returns
        whether it was written. The training loop calls this between iterations (a stat of control.json when
        nothing changed), so a command takes effect before the next step however fast steps are; the thread
        covers long steps, caching and pauses. control.json is read before the lock is taken (it is opened
        non-blocking anyway), so no reader ever holds the lock while waiting on a file."""
        commands = self._new_commands()
        with self._lock:
            try:
                if self.poll(commands) or heartbeat:
                    self.write_status()
                    return True
            except (OSError, GeoSpottrError):
                pass  # a full disk, a vanished folder or a refused path must not kill the run: the next check retries
            return False

    def _loop(self) -> None:
        waited = 0.0
        while not self._stop.wait(self.poll_s):
            waited += self.poll_s
            if self.check(heartbeat=waited >= self.heartbeat_s):
                waited = 0.0
