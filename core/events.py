"""The event stream and the cancel/pause token that every long job shares.

Every long job has the shape ``job(..., on_event=callback, control=Control())``. It reports through
`Event`s and never knows who listens: the CLI draws progress bars, the GUI's worker re-emits them as Qt
signals, a training run also appends them to ``metrics.jsonl``.

An event's `kind` is a `Kind` (a ``str`` enum, so ``metrics.jsonl`` keeps its plain strings and old run
folders read back unchanged). A kind with a fixed payload has a small frozen dataclass (`Payload`) that
builds the event (`Payload.event`) and reads it back (`Payload.from_data`), so writer and readers share one
list of field names: a renamed field fails loudly instead of plotting NaN. Training's payloads live in
`core.training.metrics`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import Enum
from typing import Any, Callable, ClassVar, Mapping, TypeVar

from .errors import Cancelled


class Kind(str, Enum):
    """Every kind of event. The first five are the ones every listener understands."""

    PROGRESS = "progress"
    LOG = "log"
    WARNING = "warning"
    ERROR = "error"
    DONE = "done"
    #: A training run began (payload `core.training.metrics.RunStarted`).
    RUN_STARTED = "run_started"
    #: One training step, one finished epoch, one saved checkpoint (`core.training.metrics`).
    ITERATION = "iteration"
    EPOCH = "epoch"
    CHECKPOINT = "checkpoint"
    #: One finished unit of a GUI job, carrying its result (Predict's entries).
    RESULT = "result"
    #: A training run continues from last.pt: data ``{"epoch", "iteration"}`` it restarts from. The
    #: iteration / epoch records after that point, written before the stop, are superseded by the redone ones.
    RESUME = "resume"
    #: What changed in a run being followed (`core.training.follow`; never written to metrics.jsonl).
    FOLLOW = "follow"

    # The value, not "Kind.LOG", in f-strings and str() on every Python version.
    __str__ = str.__str__
    __format__ = str.__format__


PROGRESS = Kind.PROGRESS
LOG = Kind.LOG
WARNING = Kind.WARNING
ERROR = Kind.ERROR
DONE = Kind.DONE


@dataclass(frozen=True)
class Event:
    """One thing a job wants its listeners to know.

    ``scope`` names the sub-task (a city slug, ``"epoch"``, a file) so a listener can keep one progress
    bar per scope. ``data`` holds the job-specific payload (losses, counts, costs) as plain JSON values.
    """

    kind: Kind
    message: str = ""
    done: int | None = None
    total: int | None = None
    scope: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


EventCallback = Callable[[Event], None]

P = TypeVar("P", bound="Payload")


@dataclass(frozen=True)
class Payload:
    """Base of the typed payloads: a frozen dataclass whose fields are the event's ``data`` keys.

    Fields without a default are required: `from_data` raises `ValueError` when one is missing (a damaged
    or foreign record), so readers skip it rather than inventing values. Fields with a default may be
    absent from older ``metrics.jsonl`` files.
    """

    KIND: ClassVar[Kind]

    def event(self, message: str = "", **kwargs: Any) -> Event:
        """This payload as an `Event` of its kind (``data`` holds plain JSON values, as metrics.jsonl needs)."""
        return Event(self.KIND, message, data=asdict(self), **kwargs)

    @classmethod
    def from_data(cls: type[P], data: Mapping[str, Any]) -> P:
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
                   and data.get(f.name) is None]
        if missing:
            raise ValueError(f"{cls.KIND} event without {', '.join(missing)}")
        values = {}
        for f in fields(cls):
            if f.name in data:
                value = data[f.name]
                if value is None and (f.default is not MISSING or f.default_factory is not MISSING):
                    continue  # absent in effect: the default
                if not _fits(f.type, value):
                    raise ValueError(f"{cls.KIND} event with a damaged {f.name}: {value!r:.40}")
                values[f.name] = value
        return cls(**values)

    @classmethod
    def read(cls: type[P], events: Any) -> list[P]:
        """The payloads of this kind among `events` (`Event`s or metrics.jsonl dicts), damaged ones skipped."""
        out = []
        for e in events:
            kind, data = (e.kind, e.data) if isinstance(e, Event) else (e.get("kind"), e.get("data"))
            if kind == cls.KIND and isinstance(data, Mapping):
                try:
                    out.append(cls.from_data(data))
                except (TypeError, ValueError):
                    continue
        return out


#: What a payload field's annotation admits from a JSON record (fields of other types are not checked).
_ADMITS: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _fits(annotation: Any, value: Any) -> bool:
    """Whether JSON `value` may stand in a payload field annotated `annotation` (``"int"``, ``"float | None"``):
    a damaged metrics record (a string epoch, a list loss, an int of 400 digits) is refused, not plotted."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    options = [t.strip() for t in text.split("|")]
    if value is None:
        return "None" in options or not all(t in _ADMITS for t in options if t != "None")
    admitted = [_ADMITS[t] for t in options if t in _ADMITS]
    if len(admitted) != len([t for t in options if t != "None"]):
        return True  # a type this check does not know: left to the payload
    for types in admitted:
        if isinstance(value, bool) and bool not in types:
            continue
        if isinstance(value, types):
            return not isinstance(value, int) or isinstance(value, bool) or abs(value) < 2**63
    return False


def ignore_events(event: Event) -> None:
    """Listener for callers that want no feedback."""


class Control:
    """Cancel and pause requests from another thread (the UI, a signal handler).

    Jobs call `checkpoint()` between units of work (one image, one iteration): it returns at once when
    nothing is requested, blocks while paused, and raises `Cancelled` once cancel is requested, so the unit
    in flight always finishes cleanly.
    """

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # wake a paused job so it can see the cancel

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def checkpoint(self) -> None:
        """Block while paused; raise `Cancelled` if cancel was requested."""
        while not self._running.wait(0.1):
            pass
        if self._cancel.is_set():
            raise Cancelled()

    def sleep(self, seconds: float) -> None:
        """Sleep that a cancel interrupts at once (backoff waits must not delay a stop)."""
        if self._cancel.wait(seconds):
            raise Cancelled()
