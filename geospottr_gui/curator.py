"""Curation edits, undo and redo for every view: small ones at once, big ones in a worker.

Judging one image with a key must feel immediate, so an edit of up to `BACKGROUND_THRESHOLD` images
runs on the UI thread (a few milliseconds). A bigger one (select all over 30,000 images: a second or
more) runs as a job through `start_job`: the worker applies it in one chunked, cancellable transaction
(`core.data.curation.apply_change` / `write_labels`) and only then, back on the UI thread, the history
records it (`CurationHistory.push` / `undone` / `redone`). So the history never holds an edit that was
not applied, and a cancel leaves both the database and the history as they were.

While a job runs the curator is `busy`: it starts no other edit, undo or redo (they would race the one
in flight), and views disable their curation actions on ``busy_changed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QObject, Signal

from core.data.curation import Change, Edit, apply_change, write_labels
from core.events import PROGRESS, Event

from .workers import JobHandle, start_job

if TYPE_CHECKING:
    from .context import AppContext

#: Edits (and undos / redos) touching more images than this run in a worker, with progress.
BACKGROUND_THRESHOLD = 2000


class Curator(QObject):
    """Owned by the `AppContext` (``context.curator``); every view's accept / reject / relabel / undo /
    redo goes through it.

    Signals: ``busy_changed(bool)`` when a background step starts or ends; ``progress(text, done, total)``
    while it runs; ``failed(message)`` when one failed (nothing changed). Outcomes also go to
    ``context.status``.
    """

    busy_changed = Signal(bool)
    progress = Signal(str, int, int)
    failed = Signal(str)

    def __init__(self, context: "AppContext", threshold: int = BACKGROUND_THRESHOLD) -> None:
        super().__init__(context)
        self.context = context
        self.threshold = threshold
        self.job: JobHandle | None = None
        self.text = ""  # what the running job does ("Reject 30,000 images")

    @property
    def busy(self) -> bool:
        return self.job is not None

    # ------------------------------------------------------------------ steps
    def apply(self, change: Change) -> Edit | None:
        """Apply and record `change`. Small: here and now, returning the `Edit` (None if it changed nothing).
        Big: in a worker, returning None at once; the history records it when it is done.
        Raises `GeoSpottrError` (small edits) like `CurationHistory.apply`."""
        history = self.context.history
        if self._refuse():
            return None
        if len(change) <= self.threshold:
            return history.apply(change)
        self._start(change.text, apply_change, history.project, change,
                    done=lambda edit: self._report(history.push(edit), change.text, "no label changed"))
        return None

    def undo(self) -> Edit | None:
        """Revert the latest edit: at once when small (returns it), else in a worker (returns None)."""
        history = self.context.history
        edit = history.next_undo
        if edit is None or self._refuse():
            return None
        if len(edit.before) <= self.threshold:
            return self._report(history.undo(), "", verb="Undid")
        self._start(edit.inverse().text, write_labels, history.project, edit.before, text=edit.inverse().text,
                    done=lambda _result: self._report(history.undone(edit), "", verb="Undid"))
        return None

    def redo(self) -> Edit | None:
        history = self.context.history
        edit = history.next_redo
        if edit is None or self._refuse():
            return None
        if len(edit.after) <= self.threshold:
            return self._report(history.redo(), "", verb="Redid")
        self._start(f"Redo {edit.text[0].lower()}{edit.text[1:]}", write_labels, history.project, edit.after,
                    text=edit.text, done=lambda _result: self._report(history.redone(edit), "", verb="Redid"))
        return None

    def cancel(self) -> None:
        """Ask the running job to stop: it rolls back and records nothing."""
        if self.job is not None:
            self.job.cancel()

    def stop(self, wait_ms: int = 30000) -> None:
        """Cancel the running job and wait for it, ignoring its outcome (another project is about to
        open and the old one to close under it; a cancel rolls the edit back, and a job that finished
        first has already committed, which only loses its undo step)."""
        job = self.job
        if job is None:
            return
        job.cancel()
        job.wait(wait_ms)
        self._end()

    # ------------------------------------------------------------------ internals
    def _refuse(self) -> bool:
        if self.busy:
            self.context.status.emit(f"wait for “{self.text}” to finish (or cancel it)")
            return True
        return False

    def _start(self, label: str, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None], **kwargs: Any) -> None:
        """Run the job ``fn(*args, **kwargs)``; `done(result)` records its outcome once it has finished."""
        self.text = label
        handle: JobHandle | None = None

        # Each outcome is recorded (`done`) before `busy_changed(False)`, so a listener sees the history
        # as it now is; an outcome of a job that `stop` dropped is ignored.
        def finished(result: Any) -> None:
            if self._current(handle):
                try:
                    done(result)
                finally:
                    self._end()

        def failed(message: str) -> None:
            if self._current(handle):
                self._end()
                self.context.status.emit(f"{label} failed: nothing changed")
                self.failed.emit(message)

        def cancelled() -> None:
            if self._current(handle):
                self._end()
                self.context.status.emit(f"{label} cancelled: nothing changed")

        handle = start_job(self, fn, *args, on_event=self._on_event, on_finished=finished, on_failed=failed,
                           on_cancelled=cancelled, **kwargs)
        self.job = handle
        self.progress.emit(label, 0, 0)
        self.context.status.emit(f"{label}…")
        self.busy_changed.emit(True)

    def _current(self, handle: JobHandle | None) -> bool:
        """True when `handle` is the running job (not one `stop` already gave up on)."""
        return handle is not None and self.job is handle

    def _end(self) -> None:
        self.job = None
        self.text = ""
        self.busy_changed.emit(False)

    def _on_event(self, event: Event) -> None:
        if event.kind == PROGRESS and self.job is not None:
            self.progress.emit(self.text, event.done or 0, event.total or 0)

    def _report(self, edit: Edit | None, text: str, nothing: str = "", verb: str = "") -> Edit | None:
        if edit is not None:
            self.context.status.emit(f"{verb}: {edit.text}" if verb else edit.text)
        elif nothing:
            self.context.status.emit(f"{text}: {nothing}")
        return edit

