"""Progress where no bar can be drawn: a log file, a CI job, ``geospottr train > run.log 2>&1``.

tqdm draws nothing when stderr is not a terminal, so a two-hour run used to print nothing for minutes.
`ProgressLines` prints one plain line per progress scope when it starts and finishes and, in between, a
line `LINE_EVERY_S` after the last one when progress arrives: done/total, the job's own words
(epoch, loss), images per second and the time left. A step that reports nothing for longer (a logistic
regression fitting 27,500 photos, a slow first batch) gets a heartbeat line from a background thread,
"still working, 3m after: <the last line>", so a log never goes quiet for 30 s.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from ..events import PROGRESS, Event, Kind
from ..training.budget import duration_text

#: Seconds between two progress lines: half the 30 s a watcher of a log file is promised, because a line
#: waits for the job's next report after it (see `ProgressLines`).
LINE_EVERY_S = 15.0


@dataclass
class _Scope:
    started: float
    first_done: int
    finished: bool = False


class ProgressLines:
    """An event callback for PROGRESS (and ITERATION, whose images/s it quotes) that writes plain lines.

    Two clocks: `last_line` (when a line was last written: progress lines wait `every` after it) and
    `last_activity` (when the job last reported anything: the heartbeat speaks only after `every` of
    silence, so it never starves the progress lines of a job that reports slowly but steadily). With
    `every` = 15 s, a line comes at least every 30 s whatever the job's reporting rhythm."""

    def __init__(self, write: Callable[[str], None], every: float = LINE_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write, self.every, self.clock = write, every, clock
        self.scopes: dict[str, _Scope] = {}
        self.last_line = self.last_activity = -float("inf")
        self.images_per_s: float | None = None
        self.last_text, self.last_text_at = "", 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heart: threading.Thread | None = None

    def note(self, text: str) -> None:
        """A line the caller wrote itself (a log line): the heartbeat quotes it and waits `every` from now."""
        self._start()
        with self._lock:
            self.last_text = text
            self.last_text_at = self.last_line = self.last_activity = self.clock()

    def beat(self) -> None:
        """One heartbeat check: after `every` of silence, "still working, <how long> after: <last line>"."""
        with self._lock:
            now = self.clock()
            due = bool(self.last_text) and min(now - self.last_line, now - self.last_activity) >= self.every
            if due:
                self.last_line = now
                text = f"still working, {duration_text(now - self.last_text_at)} after: {self.last_text}"
        if due:
            self.write(text)

    def _beat_until_closed(self) -> None:
        while not self._stop.wait(self.every / 4):
            self.beat()

    def close(self) -> None:
        """Stop the heartbeat (the job is over)."""
        self._stop.set()
        if self._heart is not None:
            self._heart.join()

    def _start(self) -> None:
        if self._heart is None:
            self._heart = threading.Thread(target=self._beat_until_closed, name="progress heartbeat", daemon=True)
            self._heart.start()

    def __call__(self, event: Event) -> None:
        self._start()
        if event.kind == Kind.ITERATION:
            self.images_per_s = event.data.get("images_per_s") or self.images_per_s
            return
        if event.kind != PROGRESS or event.total is None:
            return
        now, done, total = self.clock(), event.done or 0, event.total
        self.last_activity = now
        name = event.scope or "working"
        scope = self.scopes.get(name)
        first = scope is None or scope.finished and done < total
        if scope is None or first:
            scope = self.scopes[name] = _Scope(now, done)
        finished = done >= total
        if not (first or (finished and not scope.finished) or now - self.last_line >= self.every):
            return
        scope.finished = finished
        line = f"{name}: {done}/{total} ({100 * done / max(total, 1):.0f}%)"
        message = event.message or ""
        if message:
            line += f" {message}"
        ips = event.data.get("images_per_s") or (self.images_per_s if name == "training" else None)
        if ips and "img/s" not in message:
            line += f", {ips:.1f} img/s"
        elapsed = now - scope.started
        if not finished and "ETA" not in message and done > scope.first_done and elapsed > 0:
            rate = (done - scope.first_done) / elapsed
            line += f", ETA {duration_text((total - done) / rate)}"
        self.note(line)
        self.write(line)
