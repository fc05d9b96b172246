"""The CLI's fast exit (issue 25): once a command that imported torch has finished, `core.cli.main.main` ends
the process itself (threads joined, atexit handlers run, open files and stdout flushed, `os._exit`) instead
of CPython's 0.45 s teardown of torch; ``GEOSPOTTR_FULL_EXIT=1`` turns that off. Whole processes here:
what the user sees must not change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from tests.conftest import REPO


def _run(args: list[str], full_exit: bool, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "GEOSPOTTR_FULL_EXIT": "1" if full_exit else "0"}
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, **kwargs)


def test_predict_prints_the_same_with_and_without_the_fast_exit(tiny_probe_bundle, photo_factory):
    photos = [str(photo_factory(f"p{i}.jpg", i)) for i in range(2)]
    cmd = [sys.executable, "-m", "core", "predict", "--device", "cpu", "--csv", "--model", str(tiny_probe_bundle),
           *photos]
    fast, full = _run(cmd, full_exit=False), _run(cmd, full_exit=True)
    assert (fast.returncode, full.returncode) == (0, 0), fast.stderr + full.stderr
    assert fast.stdout == full.stdout
    assert fast.stdout.count("\n") == 1 + 2 * 5  # header + 5 cities per photo
    assert fast.stderr == full.stderr
    # a failing photo: the same status and lines either way
    absent = [*cmd[:-2], str(Path(photos[0]).with_name("absent.jpg"))]
    fast, full = _run(absent, full_exit=False), _run(absent, full_exit=True)
    assert fast.returncode == full.returncode == 1
    assert (fast.stdout, fast.stderr) == (full.stdout, full.stderr)
    assert "geospottr: 1 file could not be predicted" in fast.stderr


# A command of its own (a fake subcommand module) that imports torch, registers an atexit handler, starts a
# non-daemon thread, leaves a file open with unflushed data, keeps an object whose __del__ only runs at
# interpreter teardown, and returns --status (3). Run as `python -c` (its __name__ is "__main__", argv from sys.argv:
# what the `geospottr` script does).
SCRIPT = r"""
import atexit, sys, threading, time
from pathlib import Path
import core.cli.main as cli

out = Path(sys.argv[1])

class Teardown:
    def __del__(self):
        (out / "teardown").write_text("ran")

def command(args):
    import torch  # noqa: F401 - what makes the exit slow, and the fast exit apply
    atexit.register(lambda: (out / "atexit").write_text("ran"))
    def late():
        time.sleep(0.3)
        (out / "thread").write_text("ran")
    threading.Thread(target=late).start()
    global LEAKED, KEEP
    LEAKED = open(out / "big.txt", "w")  # never closed: the exit must flush it
    LEAKED.write("x" * 1_000_000)
    KEEP = Teardown()
    if args.echo:
        atexit.register(lambda: print("bye from atexit"))
    return args.status

class Fake:
    @staticmethod
    def register(sub, common):
        p = sub.add_parser("fake", parents=[common])
        p.add_argument("--echo", action="store_true")
        p.add_argument("--status", type=int, default=3)
        p.set_defaults(func=command)

cli.COMMAND_MODULES.append(Fake)
sys.argv = ["geospottr", "fake", *sys.argv[2:]]
sys.exit(cli.main())
"""


@pytest.mark.parametrize("full_exit", [False, True])
def test_the_exit_keeps_atexit_handlers_threads_open_files_and_the_status(tmp_path, full_exit):
    result = _run([sys.executable, "-c", SCRIPT, str(tmp_path), "--echo"], full_exit=full_exit)
    assert result.returncode == 3, result.stderr
    assert result.stdout == "bye from atexit\n"
    assert "Exception" not in result.stderr, result.stderr
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "ran"
    assert (tmp_path / "big.txt").stat().st_size == 1_000_000
    # The teardown itself is what the fast exit skips (so it did take the fast way), and only that.
    assert (tmp_path / "teardown").exists() == full_exit


@pytest.mark.parametrize("status, expected", [(3, 3), (0, 141)])
def test_a_reader_that_closed_stdout_gets_141_and_no_traceback(tmp_path, status, expected):
    # buffered stdout (as for a user: no PYTHONUNBUFFERED): the atexit handler's line waits in the buffer
    # and the exit's flush is what finds the pipe closed
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | {"GEOSPOTTR_FULL_EXIT": "0"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path), "--echo", "--status", str(status)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # before the child even starts: its atexit print finds no reader
    stderr = proc.stderr.read()
    # the command's own failure status wins over the reader's absence; nothing is printed about the pipe
    assert proc.wait(timeout=300) == expected
    assert "Exception" not in stderr and "BrokenPipe" not in stderr, stderr
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "big.txt").stat().st_size == 1_000_000


def test_main_called_with_arguments_returns_instead_of_exiting(tiny_probe_bundle, photo_factory, capsys):
    # in process (tests, the GUI, scripts): the caller gets the status and its process goes on
    assert main(["predict", "--device", "cpu", "--csv", "--model", str(tiny_probe_bundle),
                 str(photo_factory("p.jpg", 1))]) == 0
    assert "city" in capsys.readouterr().out
