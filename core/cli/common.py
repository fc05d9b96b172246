"""Pieces every command shares: opening the project, running a job with progress bars and Ctrl+C."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from ..data.project import Project, default_project_dir
from ..errors import GeoSpottrError
from ..events import Control
from .render import ProgressPrinter


def open_project(args: argparse.Namespace, readonly: bool = False) -> Project:
    """The project named by --project, else $GEOSPOTTR_PROJECT, else the default one (created on first use).
    `readonly` for commands that only read (stats, runs, cities): they work on a read-only disk too and
    never wait for another process's write lock (`Project.open`)."""
    explicit = getattr(args, "project", None)
    if explicit is not None:
        try:
            return Project.open(explicit, readonly=readonly)
        except OSError as exc:  # a folder of the project that is no folder (a dangling runs/ symlink), ...
            raise GeoSpottrError(f"cannot open the project at {explicit}: {exc.strerror or exc}"
                                 + (f" ({exc.filename})" if exc.filename else "")) from None
    root = default_project_dir()
    try:
        return Project.open(root, create="GEOSPOTTR_PROJECT" not in os.environ, readonly=readonly)
    except OSError as exc:  # a read-only or odd HOME: the default project cannot be made there
        raise GeoSpottrError(f"cannot create the default project at {root} ({exc.strerror or exc}): give "
                             "--project DIR or set GEOSPOTTR_PROJECT") from None


def command_line(args: argparse.Namespace | None, words: str) -> str:
    """``geospottr WORDS`` as the user can run it again: with the ``--project`` they gave, if they gave one
    (without it the command would open another project). `words` is already shell-quoted."""
    project = getattr(args, "project", None) if args is not None else None
    if project is None:
        return f"geospottr {words}"
    return f"geospottr --project {shlex.quote(str(project))} {words}"


#: A `geospottr ...` hint quoted in backticks inside a message (the core's errors write them so).
_HINT = re.compile(r"`geospottr (?!--project |init )([^`]*)`")


def runnable(message: str, args: argparse.Namespace | None) -> str:
    """`message` with every backticked `geospottr ...` hint made runnable as printed (see `command_line`)."""
    return _HINT.sub(lambda m: f"`{command_line(args, m.group(1))}`", message)


class Interrupts:
    """What `cancel_on_interrupt` returns: call it to put the previous SIGINT handler back; `interrupted`
    says whether Ctrl+C was pressed, so a job that stopped cleanly still exits 130 as interrupted
    commands do (a stop sent from elsewhere, say `runs --send stop`, is not an interrupt)."""

    def __init__(self, restore: Callable[[], object]) -> None:
        self._restore = restore
        self.interrupted = False

    def __call__(self) -> None:
        self._restore()


def cancel_on_interrupt(control: Control) -> Interrupts:
    """First Ctrl+C asks the job to stop after the unit in flight; a second one aborts at once."""
    if threading.current_thread() is not threading.main_thread():
        return Interrupts(lambda: None)
    previous = signal.getsignal(signal.SIGINT)
    interrupts = Interrupts(lambda: signal.signal(signal.SIGINT, previous))

    def handler(signum, frame):
        interrupts.interrupted = True
        if control.cancelled:
            raise KeyboardInterrupt
        print("\nstopping after the current step (Ctrl+C again to abort)", file=sys.stderr)
        control.cancel()

    signal.signal(signal.SIGINT, handler)
    return interrupts


@contextmanager
def job() -> Iterator[tuple[ProgressPrinter, Control]]:
    """(on_event, control) for one long job: bars on stderr, Ctrl+C cancels cleanly."""
    control = Control()
    restore = cancel_on_interrupt(control)
    try:
        with ProgressPrinter() as printer:
            yield printer, control
    finally:
        restore()
