"""Entry point of ``geospottr``: global options, subcommand dispatch, one-line errors.

Each command module exposes ``register(subparsers, common)``; heavy imports (torch) happen inside the
command functions so ``geospottr --help`` stays instant.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import io
import os
import sys
import threading
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..errors import Cancelled, GeoSpottrError
from . import clean_cmds, download_cmds, eval_cmds, project_cmds, train_cmds, version_cmd
from .common import runnable
from .render import clean, clean_output

#: Modules that add subcommands, in the order `--help` lists them (the workflow: data, train, use).
COMMAND_MODULES = [project_cmds, download_cmds, clean_cmds, train_cmds, eval_cmds, version_cmd]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the subcommand is not overwritten by the subcommand's default.
    common.add_argument("--project", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                        help="project folder (default: $GEOSPOTTR_PROJECT, else the default project in the user data dir)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    parser = argparse.ArgumentParser(
        prog="geospottr", description="Build street-level photo datasets, train a city classifier, geolocate photos.",
        parents=[common])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


#: Set to 1 to end the process through CPython's full finalization (see `fast_exit`), e.g. to debug a
#: destructor or a leak report that runs at interpreter teardown.
FULL_EXIT_ENV = "GEOSPOTTR_FULL_EXIT"

#: Modules whose teardown at interpreter exit is slow enough to skip (torch: about 0.45 s, a quarter of
#: a one-photo `predict`).
SLOW_TEARDOWN_MODULES = ("torch",)


def main(argv: Sequence[str] | None = None) -> int:
    # Every line printed, argparse's errors included, goes through `render.clean`: a file name with ANSI
    # escapes or undecodable bytes is shown escaped, never run by the terminal or raising UnicodeEncodeError.
    with clean_output():
        status = _main(argv)
    # Only as the program itself (the `geospottr` script, `python -m core`): a caller that passes argv or
    # imports main() gets the status back and its process lives on.
    if argv is None and sys._getframe(1).f_globals.get("__name__") == "__main__":
        fast_exit(status)
    return status


def fast_exit(status: int) -> None:
    """End the process now with `status` when a slow-to-tear-down module (torch) was imported; else return.

    CPython's exit tears every module down one by one, which for torch takes about 0.45 s after the
    command has finished. This does what that exit does that anyone can observe, in the same order, and
    then skips the teardown with ``os._exit``: non-daemon threads are joined, `atexit` handlers run
    (logging's shutdown, ``weakref.finalize``, temporary directories), every file still open for writing
    is flushed, then stdout and stderr; a reader that closed stdout gives 141 as `_reader_gone` does.
    ``GEOSPOTTR_FULL_EXIT=1`` turns it off."""
    if os.environ.get(FULL_EXIT_ENV, "") not in ("", "0"):
        return
    if not any(name in sys.modules for name in SLOW_TEARDOWN_MODULES):
        return
    shutdown = getattr(threading, "_shutdown", None)  # what finalization calls: joins threads, runs their hooks
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    _flush_open_files()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BrokenPipeError:
            status = status or _reader_gone()
        except (OSError, ValueError):  # closed or failing: finalization would have ignored it too
            pass
    os._exit(status & 0xFF if isinstance(status, int) else 1)


def _flush_open_files() -> None:
    """Flush every file object still open for writing: finalization would have closed it (a command
    closes its files, so this is a guard, about 30 ms with torch's 200,000 objects)."""
    kinds = (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom)
    for obj in gc.get_objects():
        if type(obj) in kinds:
            try:
                if not obj.closed:
                    obj.flush()
            except (OSError, ValueError):
                pass


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit: a reader that closed the pipe is then caught below
        return status
    except BrokenPipeError:
        return _reader_gone()
    except Cancelled as exc:
        print(f"geospottr: {clean(str(exc), one_line=True)}", file=sys.stderr)
        return 130
    except GeoSpottrError as exc:
        if debug:
            raise
        print(f"geospottr: error: {clean(runnable(str(exc), args), one_line=True)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("geospottr: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"geospottr: error: {type(exc).__name__}: {clean(str(exc), one_line=True)} "
              "(run with --debug for details)", file=sys.stderr)
        return 1


def _reader_gone() -> int:
    """The reader of stdout closed it (``geospottr stats --json | head -1``): stop quietly, as Unix tools
    do, with 141 (128 + SIGPIPE). stdout goes to /dev/null so that Python's flush at exit finds no pipe to
    fail on and prints no "Exception ignored" traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


if __name__ == "__main__":
    sys.exit(main())
