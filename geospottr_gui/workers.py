"""The ONE worker pattern: run a core job off the UI thread and re-emit its events as Qt signals.

A core job has the shape ``fn(*args, on_event=..., control=..., **kwargs)``. `start_job` runs it in a
QThread; the worker forwards every `core.events.Event` through the ``event`` signal (queued to the UI
thread), and ends with exactly one of ``finished(result)``, ``failed(message)`` or ``cancelled()``.
`JobHandle.cancel/pause/resume` reach the job through its `Control`, so a stop takes effect at the
job's next checkpoint (one image, one iteration) and the unit in flight finishes cleanly.
A job that imports torch is started with ``needs_torch=True``: its worker first imports torch through
`native_libs.import_torch`, which keeps concurrent first imports from breaking each other.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
import time
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from core.data.project import release_thread_connections
from core.errors import Cancelled, GeoSpottrError
from core.events import PROGRESS, Control, Event

from .native_libs import import_torch

log = logging.getLogger(__name__)

#: Progress events of one scope closer together than this are coalesced (the UI need not repaint 500x/s).
PROGRESS_INTERVAL_S = 0.03


class Worker(QObject):
    event = Signal(object)      # core.events.Event
    finished = Signal(object)   # the job's return value
    failed = Signal(str)        # one line a user can read
    cancelled = Signal()

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, control: Control,
                 needs_torch: bool = False) -> None:
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.control = control
        self.needs_torch = needs_torch
        self._last_progress: dict[str, float] = {}

    def _emit(self, event: Event) -> None:
        if event.kind == PROGRESS and event.done != event.total:
            now = time.monotonic()
            if now - self._last_progress.get(event.scope, 0.0) < PROGRESS_INTERVAL_S:
                return
            self._last_progress[event.scope] = now
        try:
            self.event.emit(event)
        except RuntimeError:  # the application is shutting down under the job: stop it
            raise Cancelled() from None

    @Slot()
    def run(self) -> None:
        try:
            if self.needs_torch:
                import_torch()
            result = self._fn(*self._args, on_event=self._emit, control=self.control, **self._kwargs)
        except Cancelled:
            self.cancelled.emit()
        except GeoSpottrError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            log.exception("job %s failed", getattr(self._fn, "__name__", self._fn))
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(result)
        finally:
            # What the job was given (a project, a predictor, a config) must not live on in the handle.
            self._fn, self._args, self._kwargs = _ended_job, (), {}
            release_thread_connections()  # this thread ends now; its SQLite connections must not linger
            # End the thread from inside, so a UI thread blocked in `JobHandle.wait` is not waiting
            # on its own queued `_end` call.
            QThread.currentThread().quit()


def _ended_job(*_args: Any, **_kwargs: Any) -> None:
    """What a worker's function becomes once it has run (it must not keep the real one's closure alive)."""


def release_memory() -> None:
    """Hand the memory a finished torch job used back to the system.

    A training run or a scan leaves models, data loaders and feature caches behind in reference cycles,
    and glibc keeps freed heap pages mapped, so RSS stayed at each job's peak (0.8 -> 2.1 -> 2.4 GB).
    Collecting the cycles and trimming the heap brings it back down (benchmarks/bench_gui_memory.py).
    """
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to trim
            pass


#: Jobs still running, so the window can stop them all before it closes (a QThread destroyed while
#: running aborts the process).
_LIVE: set["JobHandle"] = set()


def stop_all_jobs(wait_ms: int = 30000, *, keeping_work: bool = False) -> None:
    """Cancel every running job and wait for its thread (app shutdown, test teardown); with `keeping_work`
    only the jobs started with ``keeps_work=True`` (quit: the others are left behind)."""
    handles = [h for h in _LIVE if h.keeps_work or not keeping_work]
    for handle in handles:
        handle.cancel()
    for handle in handles:
        if handle.wait(wait_ms):
            _LIVE.discard(handle)


def stop_jobs(owner: QObject, wait_ms: int = 30000) -> None:
    """Cancel every running job started for `owner` or any widget inside it, and wait for their threads.

    This is a view's whole ``shutdown()`` bookkeeping: a thread must not outlive the widget it reports to.
    """
    handles = [h for h in owner.findChildren(JobHandle) if h.running]
    for handle in handles:
        handle.cancel()
    for handle in handles:
        handle.wait(wait_ms)


class JobBoard(QObject):
    """The long jobs a user should see from anywhere (training, evaluation, download, scan, import).

    A job started with a `title` is listed here while it runs; ``changed()`` fires when one starts,
    reports progress or ends, ``ended(handle)`` when one ends (its `outcome` says how). The main
    window's status bar shows the board and announces each end.
    """

    changed = Signal()
    ended = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.handles: list[JobHandle] = []

    def add(self, handle: "JobHandle") -> None:
        self.handles.append(handle)
        self.changed.emit()

    def remove(self, handle: "JobHandle") -> None:
        if handle in self.handles:
            self.handles.remove(handle)
            self.changed.emit()
            self.ended.emit(handle)


_BOARD: JobBoard | None = None


def job_board() -> JobBoard:
    """The application's one board of titled jobs (made on first use, on the UI thread)."""
    global _BOARD
    if _BOARD is None:
        _BOARD = JobBoard()
    return _BOARD


class JobHandle(QObject):
    """A running job: cancel / pause / resume it; `done` fires once it has ended in any way.

    The handle lives on the UI thread and relays the worker's signals to the caller's callbacks, so
    every callback (a lambda included) runs on the UI thread: PySide would run a plain callable
    connected straight to the worker in the worker's thread.
    """

    done = Signal()

    def __init__(self, worker: Worker, thread: QThread, callbacks: dict[str, Callable[..., None] | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.thread = thread
        self.running = True
        #: For the job board (`JobBoard`): what the job is called, the workspace that shows it, its latest
        #: (done, total), and once ended "finished" | "failed" | "cancelled".
        self.title: str | None = None
        self.workspace: str | None = None
        self.progress: tuple[int, int] | None = None
        self.outcome: str | None = None
        #: Quitting waits for this job to stop at its next checkpoint (`start_job(keeps_work=True)`).
        self.keeps_work = False
        self._control = worker.control  # the worker object is deleted when its thread ends
        self._callbacks = callbacks
        worker.event.connect(self._on_event)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)

    @property
    def control(self) -> Control:
        return self._control

    def cancel(self) -> None:
        self._control.cancel()

    def pause(self) -> None:
        self._control.pause()

    def resume(self) -> None:
        self._control.resume()

    def wait(self, ms: int = 30000) -> bool:
        """Block until the thread ends (for shutdown and tests)."""
        try:
            return self.thread.wait(ms)
        except RuntimeError:  # the QThread was already deleted: it had ended
            return True

    @Slot(object)
    def _on_event(self, event: Event) -> None:
        if self.title and event.kind == PROGRESS and event.total:
            self.progress = (int(event.done or 0), int(event.total))
            job_board().changed.emit()
        self._call("on_event", event)

    @Slot(object)
    def _on_finished(self, result: object) -> None:
        self._end("on_finished", result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._end("on_failed", message)

    @Slot()
    def _on_cancelled(self) -> None:
        self._end("on_cancelled")

    def _call(self, name: str, *args: object) -> None:
        callback = self._callbacks.get(name)
        if callback is not None:
            callback(*args)

    def _end(self, name: str, *args: object) -> None:
        self.running = False
        self.outcome = {"on_finished": "finished", "on_failed": "failed"}.get(name, "cancelled")
        _LIVE.discard(self)
        try:
            self._call(name, *args)
        finally:
            self.done.emit()
            if self.title:
                job_board().remove(self)
                if not any(h.title for h in _LIVE):  # a long job's models and caches: not while another runs
                    release_memory()  # after the callbacks: they may have dropped the last references


def start_job(parent: QObject, fn: Callable[..., Any], *args: Any, control: Control | None = None,
              on_event: Callable[[Event], None] | None = None, on_finished: Callable[[Any], None] | None = None,
              on_failed: Callable[[str], None] | None = None, on_cancelled: Callable[[], None] | None = None,
              needs_torch: bool = False, title: str | None = None, workspace: str | None = None,
              keeps_work: bool = False, **kwargs: Any) -> JobHandle:
    """Run ``fn(*args, on_event=, control=, **kwargs)`` in a new QThread; the handle is a child of `parent`.

    The callbacks run on the UI thread (call this from the UI thread). Keep the returned handle to
    cancel the job. `needs_torch`: `fn` imports torch (see the module docstring). A long job a user
    should see from any workspace gets a `title` ("Training") and the `workspace` that shows it: it is
    then listed on the `job_board` while it runs. `keeps_work`: stopping it saves the user's work (a training
    checkpoint, the download's photo in flight), so quitting waits for it; any other job is cancelled and
    left behind when the app quits (its results are only a view's, and its writes are atomic), so a job
    busy inside a library call (t-SNE, a torch import) never holds the quit up.
    """
    control = control or Control()
    # The thread belongs to the application, not to `parent`: closing a view while a job that cannot stop
    # at once (a catalog load) still runs must not destroy a running QThread, which aborts the process.
    thread = QThread(QCoreApplication.instance())
    worker = Worker(fn, args, kwargs, control, needs_torch)
    worker.moveToThread(thread)
    handle = JobHandle(worker, thread, {"on_event": on_event, "on_finished": on_finished, "on_failed": on_failed,
                                        "on_cancelled": on_cancelled}, parent)
    thread.started.connect(worker.run)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    handle._keep = worker  # the worker must outlive this function
    handle.title, handle.workspace, handle.keeps_work = title, workspace, keeps_work
    _LIVE.add(handle)
    if title:
        job_board().add(handle)
    thread.start()
    return handle
