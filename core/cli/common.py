"""Pieces every command shares: opening the project, running a job with progress bars and Ctrl+C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from ..events import Control
from ..project import Project, default_project_dir
from .render import ProgressPrinter


def open_project(args: argparse.Namespace) -> Project:
    """The project named by --project, else $GEOSPOTTR_PROJECT, else the default one (created on first use)."""
    explicit = getattr(args, "project", None)
    if explicit is not None:
        return Project.open(explicit)
    root = default_project_dir()
    return Project.open(root, create="GEOSPOTTR_PROJECT" not in os.environ)


def cancel_on_interrupt(control: Control) -> Callable[[], None]:
    """First Ctrl+C asks the job to stop after the unit in flight; a second one aborts at once."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):  # noqa: ANN001
        if control.cancelled:
            raise KeyboardInterrupt
        print("\nstopping after the current step (Ctrl+C again to abort)", file=sys.stderr)
        control.cancel()

    signal.signal(signal.SIGINT, handler)
    return lambda: signal.signal(signal.SIGINT, previous)


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
