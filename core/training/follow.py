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

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..events import Control, Event, EventCallback, Kind
from ..fsutil import open_regular
from ..typed import DamagedFile, Fields, parse_json
from . import runs
from .metrics import Iteration

#: Seconds between two looks at the files: the "at most about a second behind" of a monitor.
INTERVAL_S = 0.5
#: Bytes at the start of the file remembered to recognise a file rewritten in place.
HEAD_BYTES = 64
#: Kinds of which only the newest record of a read is kept: the progress counter is re-sent every
#: iteration and only its last value means anything to a reader catching up.
COALESCED = frozenset({"progress"})

_KIND = re.compile(rb'^\{"kind": "([^"]*)"')
_RESUME_LINE = re.compile(rb'(?m)^\{"kind": "' + Kind.RESUME.value.encode() + rb'"[^\n]*')


def _kind_of(line: bytes) -> bytes | None:
    """The record kind from the line's first bytes (what `runs.event_to_json` writes first), unparsed."""
    match = _KIND.match(line)
    return match.group(1) if match else None


def _prefixes(kinds: frozenset[str]) -> tuple[bytes, ...]:
    return tuple(b'{"kind": "' + k.encode() + b'"' for k in kinds)


#: A number as Python's json module writes it (NaN and infinities included).
_NUM = rb"(-?[0-9][0-9.eE+-]*|-?Infinity|NaN)"
#: The fields of an iteration record the curves need, as `metrics.Iteration` writes them (iteration, loss,
#: lr first) and as runs written before it did (loss, lr, ..., iteration), then the record's time (after
#: its data), with the column order of each.
_TIME = rb'(?:, [^{}\n]*)?\}, "time": ' + _NUM
_ITERATION_LAYOUTS = (
    (re.compile(rb'"data": \{"iteration": ([0-9]+), "loss": ' + _NUM + rb', "lr": ' + _NUM + _TIME), [0, 1, 2, 3]),
    (re.compile(rb'"data": \{"loss": ' + _NUM + rb', "lr": ' + _NUM + rb', [^{}]*?"iteration": ([0-9]+)' + _TIME),
     [2, 0, 1, 3]),
)


def _decode(lines: list[bytes]) -> list[dict[str, Any]]:
    """JSON objects of `lines` as one array (one decoder call: about half the time of a call per line),
    line by line when one is damaged (a killed writer's fragment), which is then skipped."""
    try:
        records = parse_json(b"[" + b",".join(lines) + b"]", "metrics lines")
    except DamagedFile:  # not UTF-8, not JSON or a "[[[[..." line nested too deep
        records = []
        for line in lines:
            try:
                records.append(parse_json(line, "metrics line"))
            except DamagedFile:
                continue
    return [r for r in records if isinstance(r, dict)]


def _kind_lines(chunk: bytes, kind: str) -> list[bytes]:
    prefix = _prefixes(frozenset({kind}))
    return [line for line in chunk.split(b"\n") if line.startswith(prefix)]


def iteration_columns(chunk: bytes) -> np.ndarray:
    """(n, 4) float array of iteration number, loss, lr and record time (NaN if absent) of the iteration
    lines in `chunk`, in order.

    Read by pattern over the whole chunk, several times faster than decoding the JSON, which matters for a
    100k-step history; if any iteration line has another layout, they are decoded as JSON
    (`metrics.Iteration`, damaged ones skipped) instead.
    """
    first = b'{"kind": "iteration"'
    count = chunk.count(b"\n" + first) + chunk.startswith(first)
    for pattern, order in _ITERATION_LAYOUTS:
        found = pattern.findall(chunk)
        if len(found) == count:
            values = np.array(list(map(float, [v for row in found for v in row])), dtype=np.float64)
            return values.reshape(-1, 4)[:, order]
    rows = []
    for record in _decode(_kind_lines(chunk, "iteration")):
        for p in Iteration.read([record]):
            when = record.get("time")
            rows.append([p.iteration, p.loss, p.lr, when if isinstance(when, (int, float)) else np.nan])
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


@functools.lru_cache(maxsize=8)
def _others(skipped: frozenset[str]) -> re.Pattern[bytes]:
    """Lines (after a newline) whose kind is not one of `skipped`."""
    alternatives = b"|".join(re.escape(k.encode()) for k in sorted(skipped))
    return re.compile(rb'\n(\{"kind": "(?!(?:' + alternatives + rb')")[^\n]*)')


def _lines_except(chunk: bytes, skipped: frozenset[str]) -> list[bytes]:
    """The non-blank lines of `chunk` in order, without those of the `skipped` kinds but the newest of each."""
    record = b'{"kind": "'
    if (skipped and chunk.endswith(b"\n") and chunk.startswith(record)
            and chunk.count(b"\n" + record) + 1 == chunk.count(b"\n")):
        # Every line is a record as `runs.MetricsWriter` writes it: pick them by their first bytes, in C.
        first = chunk[:chunk.index(b"\n")]
        picked = [] if first.startswith(_prefixes(skipped)) else [(0, first)]
        picked += [(m.start(1), m.group(1)) for m in _others(skipped).finditer(chunk)]
        for prefix in _prefixes(skipped):  # the newest line of each skipped kind
            at = chunk.rfind(b"\n" + prefix)
            at = at + 1 if at >= 0 else 0 if chunk.startswith(prefix) else -1
            if at >= 0:
                picked.append((at, chunk[at:chunk.index(b"\n", at)]))
        return [line for _, line in sorted(picked)]
    lines: list[bytes | None] = [line for line in chunk.split(b"\n") if line.strip()]
    if skipped:
        hits = [i for i, line in enumerate(lines) if line.startswith(_prefixes(skipped))]
        newest: dict[bytes | None, int] = {}
        for i in reversed(hits):
            newest.setdefault(_kind_of(lines[i]), i)
            if len(newest) == len(skipped):
                break
        keep = set(newest.values())
        for i in hits:
            if i not in keep:
                lines[i] = None
    return [line for line in lines if line is not None]


def parse_lines(chunk: bytes, coalesce: frozenset[str] = COALESCED,
                columns: bool = False) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """(records of the complete lines in `chunk`, iteration columns or None).

    Of each kind in `coalesce` only the newest record survives; kinds are recognised from the line's
    first bytes, so a 100k-step log does not decode 100k progress lines nobody will look at. With
    `columns` (reading a whole history), iteration lines come back as `iteration_columns` instead of
    records, but for the newest, which stays a record too (the info strip shows it). Lines that are not
    a JSON object are skipped.
    """
    skipped = frozenset(coalesce) | (frozenset({"iteration"}) if columns else frozenset())
    iterations = _history_iterations(chunk) if columns else None
    return runs.drop_redone(_decode(_lines_except(chunk, skipped))), iterations


def _history_iterations(chunk: bytes) -> np.ndarray:
    """`iteration_columns` of a history without the iterations a ``resume`` record superseded (the rule of
    `runs.drop_redone`): each resume line cuts the rows read before it."""
    rows, start = np.empty((0, 4)), 0
    for match in _RESUME_LINE.finditer(chunk):
        rows = np.concatenate([rows, iteration_columns(chunk[start:match.start()])])
        point = next(map(runs.ResumePoint.of, _decode([match.group(0)])), None)
        if point is not None:
            rows = rows[point.keeps(Kind.ITERATION, rows[:, 0])]
        start = match.end()
    return np.concatenate([rows, iteration_columns(chunk[start:])]) if start else iteration_columns(chunk)


class TailRead(NamedTuple):
    """What one `MetricsTail.read` found. ``reset``: the file was replaced or rewritten and the records
    start from its beginning again (drop what you had). ``iterations``: see `parse_lines` (``columns``)."""

    records: list[dict[str, Any]]
    reset: bool
    iterations: np.ndarray | None = None


class MetricsTail:
    """Incremental reader of a JSON-lines file that another process appends to."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.offset = 0  # bytes consumed: always just after a newline
        self._ident: tuple[int, int] | None = None
        self._head = b""

    def read(self, coalesce: frozenset[str] = COALESCED, columns: bool = False) -> TailRead:
        """The lines completed since the last read (all of them after a reset or on the first read).

        `columns`: a read from the file's start returns its iterations as columns (see `parse_lines`).
        """
        try:
            self.path.lstat()
        except FileNotFoundError:
            reset = self.offset > 0
            self.offset, self._ident, self._head = 0, None, b""
            return TailRead([], reset)
        # Like every run file: a FIFO or a device is refused at once (not waited on), a huge file too.
        with open_regular(self.path, runs.METRICS_MAX_BYTES, "metrics file") as fh:
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
            return TailRead([], reset)
        if self.offset == 0:
            self._head = data[:min(HEAD_BYTES, end + 1)]
        start, self.offset = self.offset, self.offset + end + 1
        records, iterations = parse_lines(data[:end + 1], coalesce, columns and start == 0)
        return TailRead(records, reset, iterations)


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
    def from_status(cls, data: dict[str, Any] | Fields, source: str = runs.STATUS) -> "RunState":
        """The state a status.json record tells; damaged fields raise `GeoSpottrError` naming `source`."""
        fields_ = data if isinstance(data, Fields) else Fields(data, source)
        if not fields_.data:
            return cls("starting")

        def num(key: str) -> int:
            return fields_.int(key, 0, lo=0, hi=2**53)

        status = runs.live_status(fields_)
        recorded = fields_.str("status")
        reason = fields_.str("reason") or fields_.str("error")
        if status != recorded:
            reason = "its process is gone (killed or crashed); resume it from its last checkpoint"
        return cls(status, paused=status == "running" and fields_.bool("paused"), epoch=num("epoch"),
                   epochs=num("epochs"), iteration=num("iteration"), total=num("total"), reason=reason,
                   recorded=recorded)


@dataclass
class FollowUpdate:
    """What changed since the previous poll: new metrics records, whether the file was rewritten
    (``reset``: drop what you had), the run's state when it changed (else None), and, when the records
    are a whole history read from the file's start, its iterations as columns (``iterations``)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    reset: bool = False
    state: RunState | None = None
    #: With a whole history: every iteration as (iteration, loss, lr) rows; only the newest is in `records`.
    iterations: np.ndarray | None = None

    def __bool__(self) -> bool:
        return bool(self.records or self.reset or self.state is not None)


class RunFollower:
    """Polls one run folder; each `poll` returns only what is new."""

    def __init__(self, run_dir: Path | str) -> None:
        self.run_dir = Path(run_dir)
        self.metrics = MetricsTail(self.run_dir / runs.METRICS)
        self.state: RunState | None = None
        self._status_key: tuple[int, int] | None = None
        self._status = Fields({}, str(self.run_dir / runs.STATUS))

    def _read_status(self) -> Fields:
        """status.json, re-read only when it changed (the trainer replaces it atomically)."""
        path = self.run_dir / runs.STATUS
        try:
            st = path.stat()
        except OSError:
            self._status_key, self._status = None, Fields({}, str(path))
            return self._status
        key = (st.st_ino, st.st_mtime_ns)
        if key != self._status_key:
            self._status = runs.read_run_json(path, "run status")
            self._status_key = key
        return self._status

    def poll(self) -> FollowUpdate:
        # A whole history (the first read, or a rewritten file) brings its iterations as columns.
        read = self.metrics.read(columns=True)
        # Liveness is re-judged every poll: a killed process leaves status.json unchanged.
        state = RunState.from_status(self._read_status())
        changed = state != self.state
        self.state = state
        return FollowUpdate(read.records, read.reset, state if changed else None, read.iterations)


def follow_run(run_dir: Path | str, *, on_event: EventCallback, control: Control, interval: float = INTERVAL_S,
               until_ended: bool = True) -> RunState:
    """Report a run's records and state changes as `Kind.FOLLOW` events (``data["update"]``: a
    `FollowUpdate`) until cancelled (a job).

    The first event carries the whole history so far. With `until_ended`, returns once the run has
    finished, stopped or failed (after one more look, so the records written after the final status
    are not missed); otherwise keeps following, since a stopped run may be resumed.
    """
    follower = RunFollower(run_dir)
    final_look = False
    while True:
        update = follower.poll()
        if update:
            on_event(Event(Kind.FOLLOW, scope=follower.run_dir.name, data={"update": update}))
        if until_ended and follower.state is not None and follower.state.ended:
            if final_look:
                return follower.state
            final_look = True
        control.sleep(interval)
