"""The event stream and the cancel/pause token that every long job shares.

Every long job has the shape ``job(..., on_event=callback, control=Control())``. It reports through
`Event`s and never knows who listens: the CLI draws progress bars, the GUI's worker re-emits them as Qt
signals, a training run also appends them to ``metrics.jsonl``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import Cancelled

#: Kinds every listener understands; jobs may add their own (e.g. ``"iteration"``, ``"epoch"``).
PROGRESS = "progress"
LOG = "log"
WARNING = "warning"
ERROR = "error"
DONE = "done"


@dataclass(frozen=True)
class Event:
    """One thing a job wants its listeners to know.

    ``scope`` names the sub-task (a city slug, ``"epoch"``, a file) so a listener can keep one progress
    bar per scope. ``data`` holds the job-specific payload (losses, counts, costs) as plain JSON values.
    """

    kind: str
    message: str = ""
    done: int | None = None
    total: int | None = None
    scope: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


EventCallback = Callable[[Event], None]


def ignore_events(event: Event) -> None:  # noqa: ARG001 - the null listener
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
