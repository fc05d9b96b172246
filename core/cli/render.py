"""Terminal output: aligned tables with headers, counted nouns, and a job's events drawn as one progress
bar per scope with warnings as lines above the bars."""

from __future__ import annotations

import io
import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Sequence, TextIO

from ..events import DONE, ERROR, LOG, PROGRESS, WARNING, Event, Kind
from .progress_lines import ProgressLines

#: What must never reach a terminal raw: C0 controls but tab and newline (a lone carriage return too, while
#: CSV's "\r\n" stays), DEL, C1 controls (ESC [ and CSI start terminal commands), the bidi overrides that
#: reorder what is shown, and lone surrogates (the bytes of a file name that is not valid UTF-8).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]|\r(?!\n)")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a non-UTF-8 name, as Python's surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str, one_line: bool = False) -> str:
    """`text` safe to print: control characters (ANSI escape sequences in a file name: terminal injection),
    bidi overrides and undecodable bytes of file names are shown as ``\\x1b`` / ``\\u202e`` / ``\\xff``.
    Newlines and tabs stay, unless `one_line` (a message that must stay one line). The one function every
    message the CLI prints goes through (`clean_output` applies it to stdout and stderr)."""
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_escape, text)


class CleanStream(io.TextIOBase):
    """A text stream that writes `clean` text to `raw`; a character the terminal's encoding lacks (LC_ALL=C
    with an ASCII stream) is written as its backslash escape instead of raising UnicodeEncodeError."""

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self.raw = raw

    def write(self, text: str) -> int:
        safe = clean(text)
        try:
            self.raw.write(safe)
        except UnicodeEncodeError:
            encoding = getattr(self.raw, "encoding", None) or "ascii"
            self.raw.write(safe.encode(encoding, "backslashreplace").decode(encoding, "replace"))
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def fileno(self) -> int:
        return self.raw.fileno()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.raw, "errors", None)


def raw_stream(stream: TextIO) -> TextIO:
    """The terminal behind a `CleanStream` (progress bars draw their own escape sequences there; their text
    is cleaned by `ProgressPrinter` itself)."""
    return stream.raw if isinstance(stream, CleanStream) else stream


@contextmanager
def clean_output() -> Iterator[None]:
    """While active, everything printed to stdout and stderr goes through `clean` (`core.cli.main`)."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = CleanStream(out) if not isinstance(out, CleanStream) else out  # type: ignore[assignment]
    sys.stderr = CleanStream(err) if not isinstance(err, CleanStream) else err  # type: ignore[assignment]
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        sys.stdout, sys.stderr = out, err


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
        self._lines: ProgressLines | None = None

    def _plain(self) -> ProgressLines | None:
        """Where stderr is not a terminal (tqdm draws nothing there), the plain lines that replace the bars."""
        if self._lines is None and not self.quiet and not sys.stderr.isatty():
            self._lines = ProgressLines(lambda text: _write(text, file=sys.stderr))
        return self._lines

    def __call__(self, event: Event) -> None:
        plain = self._plain() if event.kind in (PROGRESS, Kind.ITERATION) else None
        if plain is not None:
            plain(event)
        elif event.kind == PROGRESS and event.total is not None and not self.quiet:
            bar = self._bars.get(event.scope)
            if bar is None:
                from tqdm import tqdm

                bar = self._bars[event.scope] = tqdm(total=event.total, desc=clean(event.scope or "working", True),
                                                      unit="it", file=raw_stream(sys.stderr), leave=True,
                                                      dynamic_ncols=True,
                                                      disable=None, mininterval=0.2)  # no bars when not a TTY
            bar.total = event.total
            bar.n = event.done or 0
            if event.message:
                bar.set_postfix_str(clean(event.message[-40:], True), refresh=False)
            bar.refresh()
        elif event.kind in (WARNING, ERROR):
            _write(f"{event.kind}: {event.message}", file=sys.stderr)
            self._noted(f"{event.kind}: {event.message}")
        elif event.kind == DONE:
            bar = self._bars.pop(event.scope, None)
            if bar is not None:
                bar.close()
        elif event.kind in (LOG, Kind.RUN_STARTED) and event.message:
            _write(event.message, file=sys.stderr)
            self._noted(event.message)

    def _noted(self, text: str) -> None:
        """Tell the plain progress lines (off a terminal) what was just written, for their heartbeat."""
        lines = self._plain()
        if lines is not None:
            lines.note(text)

    def close(self) -> None:
        if self._lines is not None:
            self._lines.close()
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

    tqdm.write(clean(text), file=raw_stream(file))
