"""Run folders: ``runs/<id>/`` with config.json, status.json, metrics.jsonl, last.pt and best.pt.

``metrics.jsonl`` gets one JSON line per event (appended and flushed at once, so a reader such as the GUI
runs list, or a killed run's post-mortem, sees everything up to the last finished line). ``status.json``
says running / finished / stopped / failed; a "running" run whose process is gone was killed and reads as
"stopped" (resumable with ``--resume ID``).
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from ..errors import GeoSpottrError
from ..events import Event, Kind
from ..fsutil import atomic_write_text, safe_child
from ..names import did_you_mean
from .metrics import EpochMetrics

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LAST = "last.pt"
BEST = "best.pt"
STATUSES = ("running", "finished", "stopped", "failed")


def new_run_id(arch: str, runs_dir: Path) -> str:
    """``YYYYmmdd-HHMMSS-<arch>``, with a counter when two runs start in the same second."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_id, n = f"{stamp}-{arch}", 2
    while (runs_dir / run_id).exists():
        run_id, n = f"{stamp}-{arch}-{n}", n + 1
    return run_id


def short_run_name(run_id: str) -> str:
    """``11-30 22:10 geospottr`` for ``20261130-221005-geospottr`` (legends and narrow lists); any other
    folder name is returned as it is."""
    match = re.fullmatch(r"\d{4}(\d\d)(\d\d)-(\d\d)(\d\d)\d\d-(.+)", run_id)
    if match is None:
        return run_id
    month, day, hour, minute, rest = match.groups()
    return f"{month}-{day} {hour}:{minute} {rest}"


def run_dir(runs_dir: Path, run_id: str) -> Path:
    """The folder of run `run_id` in `runs_dir`; an id that is a path (``../../x``) is refused: a resumed
    run writes into its folder, which must stay inside the project."""
    try:
        path = safe_child(runs_dir, run_id)
    except GeoSpottrError:
        raise GeoSpottrError(f"{run_id!r} is not a run id (ids name folders in {runs_dir})") from None
    if not (path / CONFIG).is_file():
        ids = sorted((p.name for p in runs_dir.iterdir() if (p / CONFIG).is_file()), reverse=True) \
            if runs_dir.is_dir() else []
        raise GeoSpottrError(f"no run {run_id!r} in this project{did_you_mean(run_id, ids)}; "
                             + ("`geospottr runs` lists them" if ids else "none trained yet: start one with `geospottr train`"))
    return path


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=1))


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def set_status(path: Path, status: str, **extra: Any) -> None:
    write_json(path / STATUS, {"status": status, "pid": os.getpid(), "host": socket.gethostname(),
                               "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra})


def event_to_json(event: Event) -> str:
    return json.dumps({"kind": event.kind, "message": event.message, "done": event.done, "total": event.total,
                       "scope": event.scope, "data": dict(event.data), "time": round(event.time, 3)})


def record_event(record: dict[str, Any]) -> Event | None:
    """The `Event` a metrics.jsonl record was written from (`event_to_json`'s inverse; missing fields
    default), or None for a kind this version does not know (a newer writer's): readers skip it."""
    try:
        kind = Kind(record.get("kind"))
    except ValueError:
        return None
    data = record.get("data")
    return Event(kind=kind, message=str(record.get("message") or ""),
                 done=record.get("done"), total=record.get("total"), scope=str(record.get("scope") or ""),
                 data=data if isinstance(data, dict) else {}, time=float(record.get("time") or 0.0))


def resolve_run(runs_dir: Path, ref: str) -> Path:
    """A run folder given as a path (a shared folder, another project) or as an id in `runs_dir`."""
    path = Path(ref).expanduser()
    if (path / CONFIG).is_file():
        return path
    return run_dir(runs_dir, ref)


class MetricsWriter:
    """An event listener appending each event to metrics.jsonl (flushed per line)."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("a", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        self._fh.write(event_to_json(event) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_metrics(run: Path | str, kinds: tuple[Kind | str, ...] | None = None) -> list[dict[str, Any]]:
    """The events of a run (optionally only `kinds`), skipping a half-written last line of a killed run
    and the records a resumed run did again (`drop_redone`)."""
    path = Path(run) / METRICS
    out = []
    if not path.is_file():
        return out
    # Lines written by `event_to_json` name their kind first: other kinds are skipped unparsed, which
    # makes listing the epochs of a 100k-iteration run a matter of milliseconds. Resume records are
    # always read: they say which earlier records were redone.
    kinds_read = None if kinds is None else (*kinds, Kind.RESUME)  # a tuple: str-enum members hash by name
    wanted = tuple(f'{{"kind": "{k}"' for k in kinds_read) if kinds_read is not None else ()
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if wanted and line.startswith('{"kind": "') and not line.startswith(wanted):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if kinds_read is None or event.get("kind") in kinds_read:
                out.append(event)
    out = drop_redone(out)
    return out if kinds is None or Kind.RESUME in kinds else [e for e in out if e.get("kind") != Kind.RESUME]


class ResumePoint(NamedTuple):
    """Where a resumed run continues from, as its ``resume`` record says (see `drop_redone`)."""

    epoch: int
    iteration: int

    @classmethod
    def of(cls, record: dict[str, Any]) -> "ResumePoint | None":
        """The point a ``resume`` record names; None for any other record."""
        if record.get("kind") != Kind.RESUME:
            return None
        data = record.get("data") or {}
        return cls(data.get("epoch", 0), data.get("iteration", 0))

    def keeps(self, kind: str, number: Any) -> Any:
        """Whether a record of `kind` numbered `number` (its iteration, or its epoch) written before the resume
        still stands: the steps after the resumed checkpoint were redone. For those two kinds `number` may be
        a numpy array (the monitor's curves): the answer is then one per element."""
        if kind == Kind.ITERATION:
            return number <= self.iteration
        if kind == Kind.EPOCH:
            return number <= self.epoch
        return True  # other kinds are never redone


def drop_redone(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`events` (metrics.jsonl records, in file order) without those a resume superseded.

    A run stopped after its last checkpoint redoes the steps since; at the restart it appends a
    ``resume`` record naming the epoch and iteration it continues from. The iteration records written
    before it with a higher iteration, and the epoch records with a higher epoch, were redone after it,
    so they are dropped here (files written before the marker existed read as they always did). The rule
    is `ResumePoint.keeps`, which the live monitor applies to its curves too.
    """
    out: list[dict[str, Any]] = []
    for event in events:
        point = ResumePoint.of(event)
        if point is not None:
            out = [e for e in out if point.keeps(e.get("kind"), _number(e))]
        out.append(event)
    return out


def _number(record: dict[str, Any]) -> Any:
    """The iteration of an iteration record, the epoch of an epoch record (0 when absent), else None."""
    data = record.get("data") or {}
    kind = record.get("kind")
    return data.get("iteration", 0) if kind == Kind.ITERATION else data.get("epoch", 0) if kind == Kind.EPOCH else None


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    path: str
    arch: str
    created: str
    status: str
    epochs_done: int
    epochs: int
    best_val_acc: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    #: A live run's progress from its status.json heartbeat (see `runcontrol`): paused?, iteration i/total.
    paused: bool = False
    iteration: int = 0
    total: int = 0
    #: A probe refit on train + val after its val figures were measured (config.json "refit"; older runs: no).
    refit: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _process_alive(pid: int) -> bool:
    if pid <= 0:  # no pid recorded (os.kill(0, ...) would signal our own process group)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: A "running" run of another machine whose status.json heartbeat (refreshed every few seconds by the
#: trainer, see `runcontrol`) is older than this was killed or lost its machine.
STALE_S = 120.0


def live_status(data: dict[str, Any]) -> str:
    """The status a status.json record really means: "running" whose process is gone reads "stopped".

    Gone: on this machine, its pid is no longer alive; on another (a shared runs folder), its heartbeat
    ``updated`` is older than `STALE_S`.
    """
    status = data.get("status", "stopped")
    if status != "running":
        return status
    if data.get("host") == socket.gethostname():
        try:
            alive = _process_alive(int(data.get("pid", 0)))
        except (TypeError, ValueError):
            alive = False
        return "running" if alive else "stopped"  # killed: resumable from last.pt
    try:
        age = (datetime.now(timezone.utc) - datetime.fromisoformat(str(data.get("updated")))).total_seconds()
    except ValueError:
        return "stopped"
    return "running" if age < STALE_S else "stopped"


def run_info(path: Path) -> RunInfo:
    config = read_json(path / CONFIG)
    epochs = EpochMetrics.read(read_metrics(path, (Kind.EPOCH,)))
    accs = [e.val_acc for e in epochs if e.val_acc is not None]
    best, last = path / BEST, path / LAST
    state = read_json(path / STATUS)
    status = live_status(state)
    return RunInfo(run_id=path.name, path=str(path), arch=config.get("arch", "?"), created=config.get("created", ""),
                   status=status, epochs_done=max((e.epoch for e in epochs), default=0),
                   epochs=int(config.get("epochs", 0)), best_val_acc=max(accs) if accs else None,
                   best_checkpoint=str(best) if best.is_file() else None,
                   last_checkpoint=str(last) if last.is_file() else None,
                   paused=status == "running" and bool(state.get("paused")),
                   iteration=_int(state.get("iteration")), total=_int(state.get("total")),
                   refit=config.get("refit") is True)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _scan(runs_dir: Path) -> list[RunInfo]:
    if not runs_dir.is_dir():
        return []
    return [run_info(p) for p in sorted(runs_dir.iterdir()) if (p / CONFIG).is_file()]


def list_runs(project: Any) -> list[RunInfo]:
    """All runs of a project (a `Project` or its runs folder), oldest first."""
    return _scan(Path(getattr(project, "runs_dir", project)))


def iter_epochs(run: Path | str) -> Iterator[EpochMetrics]:
    """Per-epoch metrics of a run, for plots (a resumed run's re-done epoch appears once, its last version)."""
    by_epoch = {e.epoch: e for e in EpochMetrics.read(read_metrics(run, (Kind.EPOCH,)))}
    yield from (by_epoch[k] for k in sorted(by_epoch))

