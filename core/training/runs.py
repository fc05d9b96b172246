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
from typing import Any, Iterator, Mapping, NamedTuple

from ..errors import GeoSpottrError
from ..events import Event, Kind
from ..fsutil import atomic_write_text, check_name, ensure_inside, open_regular, safe_child
from ..names import did_you_mean
from ..typed import SMALL_JSON_BYTES, DamagedFile, Fields, parse_json, read_object
from .metrics import EpochMetrics

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LAST = "last.pt"
BEST = "best.pt"
STATUSES = ("running", "finished", "stopped", "failed")
#: metrics.jsonl larger than this is refused (a 100k-iteration run writes about 30 MiB; /dev/zero never ends).
METRICS_MAX_BYTES = 256 * 1024 * 1024
#: The highest pid any system hands out (Linux's pid_max is at most 2**22); a larger one is damage.
MAX_PID = 2**31 - 1


def new_run_id(arch: str, runs_dir: Path) -> str:
    """``YYYYmmdd-HHMMSS-<arch>``, with a counter when two runs start in the same second."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_id, n = f"{stamp}-{arch}", 2
    while (runs_dir / run_id).exists():
        run_id, n = f"{stamp}-{arch}-{n}", n + 1
    return check_run_id(run_id)


def check_run_id(run_id: object) -> str:
    """`run_id` if it is a run id: one plain name (`fsutil.check_name`), never a path (``../../x``,
    ``/abs``, ``a/b``); the one validator of run ids, wherever they come from (CLI, GUI, a database)."""
    try:
        return check_name(run_id, "run id")
    except GeoSpottrError:
        raise GeoSpottrError(f"{run_id!r} is not a run id: a run id is a folder name in runs/, "
                             "not a path (no '/', no '..')") from None


def short_run_name(run_id: str) -> str:
    """``11-30 22:10 geospottr`` for ``20261130-221005-geospottr`` (legends and narrow lists); any other
    folder name is returned as it is."""
    match = re.fullmatch(r"\d{4}(\d\d)(\d\d)-(\d\d)(\d\d)\d\d-(.+)", run_id)
    if match is None:
        return run_id
    month, day, hour, minute, rest = match.groups()
    return f"{month}-{day} {hour}:{minute} {rest}"


def run_dir(runs_dir: Path, run_id: str) -> Path:
    """The folder of run `run_id` in `runs_dir`; an id that is a path (``../../x``) is refused, and so is a
    run folder that is a symlink leading out of `runs_dir`: a resumed or evaluated run writes into its
    folder, which must stay inside the project."""
    check_run_id(run_id)
    path = safe_child(runs_dir, run_id, what="run id")
    if not (path / CONFIG).is_file():
        ids = sorted((p.name for p in runs_dir.iterdir() if (p / CONFIG).is_file()), reverse=True) \
            if runs_dir.is_dir() else []
        raise GeoSpottrError(f"no run {run_id!r} in this project{did_you_mean(run_id, ids)}; "
                             + ("`geospottr runs` lists them" if ids else "none trained yet: start one with `geospottr train`"))
    return path


def new_run_dir(runs_dir: Path, run_id: str) -> Path:
    """The folder for run `run_id` (created, or existing for a resumed run), checked to stay in `runs_dir`."""
    path = safe_child(runs_dir, check_run_id(run_id), what="run id")
    path.mkdir(parents=True, exist_ok=True)
    return ensure_inside(path, runs_dir)  # again after mkdir: nothing swapped in meanwhile


def run_file(folder: Path, name: str) -> Path:
    """`folder/name` (a run's config.json, metrics.jsonl...), refused when it is a symlink out of the run."""
    return safe_child(folder, name)


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=1))


def read_run_json(path: Path | str, what: str = "run file") -> Fields:
    """A run's JSON file (config.json, status.json, control.json) as typed `Fields`; a missing file reads as
    an empty object. A FIFO, a device, a huge file or damaged content: `GeoSpottrError` naming the file."""
    return read_object(path, what, SMALL_JSON_BYTES, missing={})


def read_json(path: Path | str) -> dict[str, Any]:
    """`read_run_json`'s plain dict ({} when the file is missing; damage raises `GeoSpottrError`)."""
    return read_run_json(path).data


def set_status(path: Path, status: str, **extra: Any) -> None:
    write_json(path / STATUS, {"status": status, "pid": os.getpid(), "host": socket.gethostname(),
                               "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra})


def event_to_json(event: Event) -> str:
    return json.dumps({"kind": event.kind, "message": event.message, "done": event.done, "total": event.total,
                       "scope": event.scope, "data": dict(event.data), "time": round(event.time, 3)})


def record_event(record: dict[str, Any]) -> Event | None:
    """The `Event` a metrics.jsonl record was written from (`event_to_json`'s inverse; missing fields
    default), or None for a kind this version does not know (a newer writer's) or a damaged record:
    readers skip it."""
    if not isinstance(record, dict):
        return None
    try:
        kind = Kind(record.get("kind"))
    except (ValueError, TypeError):
        return None
    data = record.get("data")
    done, total, when = record.get("done"), record.get("total"), record.get("time")
    return Event(kind=kind, message=str(record.get("message") or ""),
                 done=done if _plain_int(done) else None, total=total if _plain_int(total) else None,
                 scope=str(record.get("scope") or ""), data=data if isinstance(data, dict) else {},
                 time=float(when) if isinstance(when, (int, float)) and not isinstance(when, bool)
                 and abs(when) < 1e12 else 0.0)


def _plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53


def resolve_run(runs_dir: Path, ref: str) -> Path:
    """A run folder given as a path (a shared folder, another project) or as an id in `runs_dir`."""
    path = Path(ref).expanduser()
    if (path / CONFIG).is_file():
        return path
    return run_dir(runs_dir, ref)


class MetricsWriter:
    """An event listener appending each event to metrics.jsonl (flushed per line)."""

    def __init__(self, path: Path) -> None:
        path = run_file(path.parent, path.name)  # never append through a symlink out of the run folder
        self._fh = path.open("a", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        self._fh.write(event_to_json(event) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_metrics(run: Path | str, kinds: tuple[Kind | str, ...] | None = None) -> list[dict[str, Any]]:
    """The events of a run (optionally only `kinds`), skipping a half-written last line of a killed run,
    damaged lines, and the records a resumed run did again (`drop_redone`). The file is opened like every
    run file (`fsutil.open_regular`: a FIFO or a device is refused, not waited on; at most
    `METRICS_MAX_BYTES`)."""
    path = Path(run) / METRICS
    out: list[dict[str, Any]] = []
    try:
        path.lstat()
    except (OSError, ValueError):
        return out
    # Lines written by `event_to_json` name their kind first: other kinds are skipped unparsed, which
    # makes listing the epochs of a 100k-iteration run a matter of milliseconds. Resume records are
    # always read: they say which earlier records were redone.
    kinds_read = None if kinds is None else (*kinds, Kind.RESUME)  # a tuple: str-enum members hash by name
    wanted = tuple(f'{{"kind": "{k}"'.encode() for k in kinds_read) if kinds_read is not None else ()
    with open_regular(path, METRICS_MAX_BYTES, "metrics file") as fh:
        for line in fh:
            if wanted and line.startswith(b'{"kind": "') and not line.startswith(wanted):
                continue
            try:
                event = parse_json(line, "metrics line")
            except DamagedFile:  # a killed writer's fragment, or damage
                continue
            if isinstance(event, dict) and (kinds_read is None or event.get("kind") in kinds_read):
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
        data = record.get("data")
        data = data if isinstance(data, dict) else {}
        return cls(_number_or_zero(data.get("epoch")), _number_or_zero(data.get("iteration")))

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
    """The iteration of an iteration record, the epoch of an epoch record (0 when absent or damaged), else None."""
    data = record.get("data")
    data = data if isinstance(data, dict) else {}
    kind = record.get("kind")
    if kind == Kind.ITERATION:
        return _number_or_zero(data.get("iteration"))
    return _number_or_zero(data.get("epoch")) if kind == Kind.EPOCH else None


def _number_or_zero(value: Any) -> int:
    """A record's epoch or iteration number: 0 unless it is a plain finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value) if value == value and abs(value) < 2**53 else 0


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
    #: Why the run's files could not be read (status "unreadable"): one line naming the file.
    problem: str = ""
    #: A probe refit on train + val after its val figures were measured (config.json "refit"; older runs: no).
    refit: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _process_alive(pid: int) -> bool:
    if not 0 < pid <= MAX_PID:  # 0 would signal our own process group; 2**70 is damage, not a process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


#: A "running" run of another machine whose status.json heartbeat (refreshed every few seconds by the
#: trainer, see `runcontrol`) is older than this was killed or lost its machine.
STALE_S = 120.0


def live_status(data: Mapping[str, Any] | Fields, source: str = STATUS) -> str:
    """The status a status.json record really means: "running" whose process is gone reads "stopped".

    Gone: on this machine, its pid is no longer alive; on another (a shared runs folder), its heartbeat
    ``updated`` is older than `STALE_S`. Damaged fields raise `GeoSpottrError` naming `source`.
    """
    fields_ = data if isinstance(data, Fields) else Fields(data, source)
    status = fields_.str("status", "stopped")
    if status != "running":
        return status
    if fields_.str("host") == socket.gethostname():
        alive = _process_alive(fields_.int("pid", 0, lo=0, hi=MAX_PID))
        return "running" if alive else "stopped"  # killed: resumable from last.pt
    updated = fields_.time("updated")
    if updated is None:
        return "stopped"
    age = (datetime.now(timezone.utc) - updated).total_seconds()
    return "running" if age < STALE_S else "stopped"


def run_info(path: Path) -> RunInfo:
    """What `runs` lists for one run folder; a run whose files are damaged or no files at all (a FIFO, a
    device) is listed as "unreadable" with the one-line reason in `problem`, never hangs or raises."""
    try:
        return _run_info(path)
    except GeoSpottrError as exc:
        return RunInfo(run_id=path.name, path=str(path), arch="?", created="", status="unreadable", epochs_done=0,
                       epochs=0, best_val_acc=None, best_checkpoint=None, last_checkpoint=None, problem=str(exc))


def _run_info(path: Path) -> RunInfo:
    config = read_run_json(path / CONFIG, "run config")
    epochs = EpochMetrics.read(read_metrics(path, (Kind.EPOCH,)))
    accs = [e.val_acc for e in epochs if isinstance(e.val_acc, (int, float)) and e.val_acc == e.val_acc]
    best, last = path / BEST, path / LAST
    state = read_run_json(path / STATUS, "run status")
    status = live_status(state, str(path / STATUS))
    return RunInfo(run_id=path.name, path=str(path), arch=config.str("arch", "?"), created=config.str("created"),
                   status=status, epochs_done=max((e.epoch for e in epochs if isinstance(e.epoch, int)), default=0),
                   epochs=config.int("epochs", 0, lo=0), best_val_acc=max(accs) if accs else None,
                   best_checkpoint=str(best) if best.is_file() else None,
                   last_checkpoint=str(last) if last.is_file() else None,
                   paused=status == "running" and state.bool("paused"),
                   iteration=state.int("iteration", 0, lo=0), total=state.int("total", 0, lo=0),
                   refit=config.bool("refit", False))


def _scan(runs_dir: Path) -> list[RunInfo]:
    if not runs_dir.is_dir():
        return []
    return [run_info(p) for p in sorted(runs_dir.iterdir()) if _is_run(p)]


def _is_run(folder: Path) -> bool:
    try:
        return (folder / CONFIG).exists() or (folder / CONFIG).is_symlink()
    except OSError:
        return False


def list_runs(project: Any) -> list[RunInfo]:
    """All runs of a project (a `Project` or its runs folder), oldest first."""
    return _scan(Path(getattr(project, "runs_dir", project)))


def iter_epochs(run: Path | str) -> Iterator[EpochMetrics]:
    """Per-epoch metrics of a run, for plots (a resumed run's re-done epoch appears once, its last version)."""
    by_epoch = {e.epoch: e for e in EpochMetrics.read(read_metrics(run, (Kind.EPOCH,)))}
    yield from (by_epoch[k] for k in sorted(by_epoch))

