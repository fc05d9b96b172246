"""Draws a job's events in a terminal: one progress bar per scope, warnings as lines above the bars."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

from ..events import DONE, ERROR, LOG, PROGRESS, WARNING, Event, Kind


class ProgressPrinter:
    """An `EventCallback` for the CLI. Use as a context manager so bars close on errors too."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._bars: dict[str, Any] = {}

    def __call__(self, event: Event) -> None:
        if event.kind == PROGRESS and event.total is not None and not self.quiet:
            bar = self._bars.get(event.scope)
            if bar is None:
                bar = self._bars[event.scope] = tqdm(total=event.total, desc=event.scope or "working", unit="it",
                                                      file=sys.stderr, leave=True, dynamic_ncols=True,
                                                      disable=None, mininterval=0.2)  # no bars when not a TTY
            bar.total = event.total
            bar.n = event.done or 0
            if event.message:
                bar.set_postfix_str(event.message[-40:], refresh=False)
            bar.refresh()
        elif event.kind in (WARNING, ERROR):
            tqdm.write(f"{event.kind}: {event.message}", file=sys.stderr)
        elif event.kind == DONE:
            bar = self._bars.pop(event.scope, None)
            if bar is not None:
                bar.close()
        elif event.kind in (LOG, Kind.RUN_STARTED) and event.message:
            tqdm.write(event.message, file=sys.stderr)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> "ProgressPrinter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
