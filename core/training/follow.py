"""Follow a run as it trains, whoever trains it: tail ``metrics.jsonl`` and watch ``status.json``.

Used by the desktop app's monitor window and by ``geospottr runs --follow``: both see a run started in
this process, in a terminal, under ``torchrun``, or on another machine writing to a shared folder.

`MetricsTail` reads only the bytes appended since the last read. It keeps a half-written last line for
the next read (the writer flushes per line, but a reader can catch it mid-line), skips a line that is not
JSON (a killed writer's fragment), and starts over from byte 0 when the file was replaced, truncated or
rewritten in place (another inode, a smaller size, or different first bytes). `RunFollower` adds the
run's state from status.json, corrected for a dead process (`runs.live_status`), and `follow_run` is the
job that polls both until cancelled (or until the run has ended).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..events import Control, Event, EventCallback
from . import runs

#: Event kind of `follow_run`'s reports; ``data["update"]`` holds a `FollowUpdate`.
FOLLOW = "follow"
#: Seconds between two looks at the files: the "at most about a second behind" of a monitor.
INTERVAL_S = 0.5
#: Bytes at the start of the file remembered to recognise a file rewritten in place.
HEAD_BYTES = 64
#: Kinds of which only the newest record of a read is kept: the progress counter is re-sent every
#: iteration and only its last value means anything to a reader catching up.
COALESCED = frozenset({"progress"})

_KIND = re.compile(rb'^\{"kind": "([^"]*)"')


def _kind_of(line: bytes) -> bytes | None:
    """The record kind from the line's first bytes (what `runs.event_to_json` writes first), unparsed."""
    match = _KIND.match(line)
    return match.group(1) if match else None


def _prefixes(kinds: frozenset[str]) -> tuple[bytes, ...]:
    return tuple(b'{"kind": "' + k.encode() + b'"' for k in kinds)


def parse_lines(chunk: bytes, coalesce: frozenset[str] = COALESCED) -> list[dict[str, Any]]:
    """The JSON records of complete lines in `chunk`; of each kind in `coalesce` only the last survives.

    Lines that are not a JSON object (a fragment left by a killed writer) are skipped. Coalesced kinds
    are recognised from the line's first bytes so that a 100k-iteration log does not parse 100k
    progress lines nobody will look at, and the rest is parsed as one JSON array (one decoder call,
    about half the time of a call per line), falling back to line by line when a line is damaged.
    """
    lines: list[bytes | None] = [line for line in chunk.split(b"\n") if line.strip()]
    if coalesce:
        hits = [i for i, line in enumerate(lines) if line.startswith(_prefixes(coalesce))]
        newest: dict[bytes | None, int] = {}
        for i in reversed(hits):
            newest.setdefault(_kind_of(lines[i]), i)
            if len(newest) == len(coalesce):
                break
        keep = set(newest.values())
        for i in hits:
            if i not in keep:
                lines[i] = None
        lines = [line for line in lines if line is not None]
    try:
        records = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:  # a damaged line (UnicodeDecodeError is a ValueError too): find it
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return [r for r in records if isinstance(r, dict)]


class MetricsTail:
    """Incremental reader of a JSON-lines file that another process appends to."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.offset = 0  # bytes consumed: always just after a newline
        self._ident: tuple[int, int] | None = None
        self._head = b""

    def read(self, coalesce: frozenset[str] = COALESCED) -> tuple[list[dict[str, Any]], bool]:
        """(records of the lines completed since the last read, reset): ``reset`` means the file was
        replaced or rewritten and the records start from its beginning again (drop what you had)."""
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            reset = self.offset > 0
            self.offset, self._ident, self._head = 0, None, b""
            return [], reset
        with fh:
            st = os.fstat(fh.fileno())
            ident = (st.st_dev, st.st_ino)
            head = fh.read(HEAD_BYTES)
            reset = self.offset > 0 and (ident != self._ident or st.st_size < self.offset
                                         or head[:len(self._head)] != self._head)
            if reset or self._ident is None:
                self.offset = 0
            self._ident = ident
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n")
        if end < 0:  # nothing new, or only the start of a line still being written
            return [], reset
        if self.offset == 0:
            self._head = data[:min(HEAD_BYTES, end + 1)]
        self.offset += end + 1
        return parse_lines(data[:end + 1], coalesce), reset


@dataclass(frozen=True)
class RunState:
    """A run's state as status.json tells it, with a dead process's "running" read as "stopped"."""

    status: str  # starting (no status.json yet) | running | finished | stopped | failed
    paused: bool = False
    epoch: int = 0
    epochs: int = 0
    iteration: int = 0
    total: int = 0
    reason: str = ""
    recorded: str = ""  # what status.json says; differs from `status` for a killed run

    @property
    def ended(self) -> bool:
        return self.status not in ("starting", "running")

    @classmethod
    def from_status(cls, data: dict[str, Any]) -> "RunState":
        if not data:
            return cls("starting")

        def num(key: str) -> int:
            try:
                return int(data.get(key) or 0)
            except (TypeError, ValueError):
                return 0

        status = runs.live_status(data)
        reason = str(data.get("reason") or data.get("error") or "")
        if status != data.get("status"):
            reason = "its process is gone (killed or crashed); resume it from its last checkpoint"
        return cls(status, paused=status == "running" and bool(data.get("paused")), epoch=num("epoch"),
                   epochs=num("epochs"), iteration=num("iteration"), total=num("total"), reason=reason,
                   recorded=str(data.get("status", "")))


@dataclass
class FollowUpdate:
    """What changed since the previous poll: new metrics records, whether they restart the history
    (``reset``), and the run's state when it changed (else None)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    reset: bool = False
    state: RunState | None = None

    def __bool__(self) -> bool:
        return bool(self.records or self.reset or self.state is not None)


class RunFollower:
    """Polls one run folder; each `poll` returns only what is new."""

    def __init__(self, run_dir: Path | str) -> None:
        self.run_dir = Path(run_dir)
        self.metrics = MetricsTail(self.run_dir / runs.METRICS)
        self.state: RunState | None = None
        self._status_key: tuple[int, int] | None = None
        self._status: dict[str, Any] = {}

    def _read_status(self) -> dict[str, Any]:
        """status.json, re-read only when it changed (the trainer replaces it atomically)."""
        try:
            st = (self.run_dir / runs.STATUS).stat()
        except OSError:
            self._status_key, self._status = None, {}
            return self._status
        key = (st.st_ino, st.st_mtime_ns)
        if key != self._status_key:
            self._status_key, self._status = key, runs.read_json(self.run_dir / runs.STATUS)
        return self._status

    def poll(self) -> FollowUpdate:
        records, reset = self.metrics.read()
        # Liveness is re-judged every poll: a killed process leaves status.json unchanged.
        state = RunState.from_status(self._read_status())
        changed = state != self.state
        self.state = state
        return FollowUpdate(records, reset, state if changed else None)


def follow_run(run_dir: Path | str, *, on_event: EventCallback, control: Control, interval: float = INTERVAL_S,
               until_ended: bool = True) -> RunState:
    """Report a run's records and state changes as ``FOLLOW`` events until cancelled (a job).

    The first event carries the whole history so far. With `until_ended`, returns once the run has
    finished, stopped or failed (after one more look, so the records written after the final status
    are not missed); otherwise keeps following, since a stopped run may be resumed.
    """
    follower = RunFollower(run_dir)
    final_look = False
    while True:
        update = follower.poll()
        if update:
            on_event(Event(FOLLOW, scope=follower.run_dir.name, data={"update": update}))
        if until_ended and follower.state is not None and follower.state.ended:
            if final_look:
                return follower.state
            final_look = True
        control.sleep(interval)
