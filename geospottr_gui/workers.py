"""The ONE worker pattern: run a core job off the UI thread and re-emit its events as Qt signals.

A core job has the shape ``fn(*args, on_event=..., control=..., **kwargs)``. `start_job` runs it in a
QThread; the worker forwards every `core.events.Event` through the ``event`` signal (queued to the UI
thread), and ends with exactly one of ``finished(result)``, ``failed(message)`` or ``cancelled()``.
`JobHandle.cancel/pause/resume` reach the job through its `Control`, so a stop takes effect at the
job's next checkpoint (one image, one iteration) and the unit in flight finishes cleanly.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import Cancelled, GeoSpottrError
from core.events import PROGRESS, Control, Event

log = logging.getLogger(__name__)

#: Progress events of one scope closer together than this are coalesced (the UI need not repaint 500x/s).
PROGRESS_INTERVAL_S = 0.03


class Worker(QObject):
    event = Signal(object)      # core.events.Event
    finished = Signal(object)   # the job's return value
    failed = Signal(str)        # one line a user can read
    cancelled = Signal()

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, control: Control) -> None:
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.control = control
        self._last_progress: dict[str, float] = {}

    def _emit(self, event: Event) -> None:
        if event.kind == PROGRESS and event.done != event.total:
            now = time.monotonic()
            if now - self._last_progress.get(event.scope, 0.0) < PROGRESS_INTERVAL_S:
                return
            self._last_progress[event.scope] = now
        self.event.emit(event)

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(*self._args, on_event=self._emit, control=self.control, **self._kwargs)
        except Cancelled:
            self.cancelled.emit()
        except GeoSpottrError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must never die silently
            log.exception("job %s failed", getattr(self._fn, "__name__", self._fn))
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(result)


class JobHandle(QObject):
    """A running job: cancel / pause / resume it; `done` fires once it has ended in any way."""

    done = Signal()

    def __init__(self, worker: Worker, thread: QThread, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.thread = thread
        self.running = True
        for signal in (worker.finished, worker.failed, worker.cancelled):
            signal.connect(self._end)

    @property
    def control(self) -> Control:
        return self.worker.control

    def cancel(self) -> None:
        self.worker.control.cancel()

    def pause(self) -> None:
        self.worker.control.pause()

    def resume(self) -> None:
        self.worker.control.resume()

    def wait(self, ms: int = 30000) -> bool:
        """Block until the thread ends (for shutdown and tests)."""
        return self.thread.wait(ms)

    @Slot()
    def _end(self, *_: object) -> None:
        self.running = False
        self.thread.quit()
        self.done.emit()


def start_job(parent: QObject, fn: Callable[..., Any], *args: Any, control: Control | None = None,
              on_event: Callable[[Event], None] | None = None, on_finished: Callable[[Any], None] | None = None,
              on_failed: Callable[[str], None] | None = None, on_cancelled: Callable[[], None] | None = None,
              **kwargs: Any) -> JobHandle:
    """Run ``fn(*args, on_event=, control=, **kwargs)`` in a new QThread owned by `parent`.

    The callbacks run on the UI thread. Keep the returned handle to cancel the job.
    """
    control = control or Control()
    thread = QThread(parent)
    worker = Worker(fn, args, kwargs, control)
    worker.moveToThread(thread)
    handle = JobHandle(worker, thread, parent)
    if on_event:
        worker.event.connect(on_event)
    if on_finished:
        worker.finished.connect(on_finished)
    if on_failed:
        worker.failed.connect(on_failed)
    if on_cancelled:
        worker.cancelled.connect(on_cancelled)
    thread.started.connect(worker.run)
    thread.finished.connect(worker.deleteLater)
    handle._keep = worker  # the worker must outlive this function
    thread.start()
    return handle

