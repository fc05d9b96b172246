"""Terminal output: aligned tables with headers, counted nouns, and a job's events drawn as one progress
bar per scope with warnings as lines above the bars."""

from __future__ import annotations

import sys
from typing import Any, Sequence

from ..events import DONE, ERROR, LOG, PROGRESS, WARNING, Event, Kind


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 image``, ``2 images``, ``1,250 images`` (`words` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def table(columns: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "",
          widths: Sequence[int] = ()) -> list[str]:
    """Rows under a header, every column as wide as its widest cell (at least `widths[i]`), two spaces apart.

    A column whose header starts with ``>`` is right-aligned (numbers); the ``>`` is not printed. Cells are
    printed with `str`, so callers format numbers (and put units in the header) first."""
    right = [c.startswith(">") for c in columns]
    heads = [c.lstrip(">") for c in columns]
    cells = [[str(v) for v in row] for row in rows]
    size = [max([len(h), *(len(r[i]) for r in cells), *(widths[i:i + 1])]) for i, h in enumerate(heads)]

    def line(values: Sequence[str]) -> str:
        return indent + "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, size, right)).rstrip()

    return [line(heads), *(line(r) for r in cells)]


class ProgressPrinter:
    """An `EventCallback` for the CLI. Use as a context manager so bars close on errors too."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._bars: dict[str, Any] = {}

    def __call__(self, event: Event) -> None:
        if event.kind == PROGRESS and event.total is not None and not self.quiet:
            bar = self._bars.get(event.scope)
            if bar is None:
                from tqdm import tqdm

                bar = self._bars[event.scope] = tqdm(total=event.total, desc=event.scope or "working", unit="it",
                                                      file=sys.stderr, leave=True, dynamic_ncols=True,
                                                      disable=None, mininterval=0.2)  # no bars when not a TTY
            bar.total = event.total
            bar.n = event.done or 0
            if event.message:
                bar.set_postfix_str(event.message[-40:], refresh=False)
            bar.refresh()
        elif event.kind in (WARNING, ERROR):
            _write(f"{event.kind}: {event.message}", file=sys.stderr)
        elif event.kind == DONE:
            bar = self._bars.pop(event.scope, None)
            if bar is not None:
                bar.close()
        elif event.kind in (LOG, Kind.RUN_STARTED) and event.message:
            _write(event.message, file=sys.stderr)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> "ProgressPrinter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write(text: str, file: Any) -> None:
    """A line above the progress bars (tqdm moves them down), imported only when a job reports something."""
    from tqdm import tqdm

    tqdm.write(text, file=file)
