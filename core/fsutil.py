"""Safe file handling: atomic writes, bounded reads of user files, paths that stay under their root.

Atomic writes: a kill at any moment leaves either the old file or the new one, never half a file. The
temp file's name carries the writer's PID and host, so a sweep can tell a killed writer's leftovers (dead
PID, or older than an hour) from another live process's in-flight file, which it must never touch.

Bounded reads: a user's "photo" may be a FIFO (open blocks forever), ``/dev/zero`` (endless) or a sparse
8 GB file; `read_regular` refuses anything but a regular file of sane size and reads it in chunks.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import signal
import socket
import stat
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

from .errors import GeoSpottrError

#: Suffix of in-flight temporary files; `sweep_partials` removes those of writers that are gone.
PART_SUFFIX = ".part"
#: A temp file older than this is abandoned whoever wrote it (no write takes an hour).
ABANDONED_AFTER_S = 3600.0
#: Default cap of `read_regular`: far above any photo, CSV or model a user means to give us.
MAX_READ_BYTES = 512 * 1024 * 1024
_CHUNK = 1024 * 1024
#: Environment variable naming a `kill_point` at which the process kills itself (tests only).
KILL_AT_ENV = "GEOSPOTTR_TEST_KILL_AT"

_HOST = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname())[:40] or "host"
_OWNER = re.compile(r"\.pid(\d+)-([A-Za-z0-9-]*)\.")


class WriteFailed(GeoSpottrError):
    """A write the system refused (disk full, file too large, read-only, no permission); nothing was left
    half-written, so the command can simply be run again once the cause is gone."""


#: What a refused write means to a user, by errno (anything else: the system's own words).
_WRITE_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file would be larger than the file system or the process's file size limit allows",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def write_failed(exc: OSError, path: Path | str) -> WriteFailed:
    """The one-line error for an `OSError` raised while writing `path`: the one rule every writer uses
    (atomic files, export folders, the database through `core.data.project`)."""
    reason = _WRITE_REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
    return WriteFailed(f"cannot write {path}: {reason}. Nothing was left half-written: free some space "
                       f"(or fix the cause) and run the command again")


def reserve_space(path: Path) -> None:
    """Allocate every block of file `path` now, so that a full disk is a `WriteFailed` here instead of a
    SIGBUS later: a page of a memory map (a feature cache) first written on a full disk kills the process
    without a word. Where the system has no ``posix_fallocate`` (macOS, Windows) this does nothing."""
    if not hasattr(os, "posix_fallocate"):
        return
    try:
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        finally:
            os.close(fd)
    except OSError as exc:
        raise write_failed(exc, path) from None


def part_prefix(name: str) -> str:
    """The name start of an in-flight temp file or folder for `name`, carrying this writer's PID and host
    (ends with `PART_SUFFIX`), so `is_abandoned` can tell a dead writer's leftovers from a live one's."""
    return f".{name}.pid{os.getpid()}-{_HOST}."


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` through a temp file in the same folder, fsync, then rename over it. A
    refused write (disk full, EFBIG, read-only) removes the temp file and raises `WriteFailed`.

    `durable=False` skips the fsync for a caller that writes many files and then makes them durable
    together with `make_durable` before anything refers to them (one flush instead of one per file: the
    per-file fsync was half of an import's time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=part_prefix(path.name), suffix=PART_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise write_failed(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_failed(exc, path) from None
        raise


def make_durable(paths: Sequence[Path]) -> None:
    """Flush files written with ``atomic_write_bytes(durable=False)`` (and their renames) to the disk,
    all at once: one ``syncfs`` of their filesystem on Linux, else an fsync of each file and folder.
    Call it before a database row names any of them, so a crash never leaves a row without its file."""
    if not paths:
        return
    if _syncfs is not None and len(paths) > 1:  # one file: its own fsync writes less than the whole disk's
        fd = os.open(paths[0].parent, os.O_RDONLY)
        try:
            if _syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for path in [*paths, *{p.parent for p in paths}]:  # the portable way
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise write_failed(exc, path) from None
        try:
            os.fsync(fd)
        except OSError as exc:
            if path.is_dir() and exc.errno in (errno.EINVAL, errno.EBADF, errno.EACCES):
                continue  # some systems cannot fsync a folder; the files themselves are flushed
            raise write_failed(exc, path) from None
        finally:
            os.close(fd)


def _load_syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2), which Python's os module does not offer (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_syncfs = _load_syncfs()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def is_abandoned(path: Path, now: float | None = None) -> bool:
    """True when temp file `path` belongs to no live writer: its PID (on this host) is dead, or it is
    older than `ABANDONED_AFTER_S`. A file of a live writer, or one whose owner cannot be known, is kept."""
    try:
        age = (now or time.time()) - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    if age > ABANDONED_AFTER_S:
        return True
    owner = _OWNER.search(path.name)
    return bool(owner and owner.group(2) == _HOST and not _pid_alive(int(owner.group(1))))


def sweep_partials(root: Path) -> int:
    """Delete abandoned temp files (see `is_abandoned`) under `root`; returns how many.

    Safe while other processes write into `root`: their in-flight files are left alone.
    """
    count = 0
    if root.is_dir():
        now = time.time()
        for p in root.rglob(f"*{PART_SUFFIX}"):
            if is_abandoned(p, now):
                p.unlink(missing_ok=True)
                count += 1
    return count


@contextmanager
def open_regular(path: Path | str, max_bytes: int | None = MAX_READ_BYTES, what: str = "file") -> Iterator[BinaryIO]:
    """An open binary file of regular file `path`, refusing FIFOs, devices, folders and (with `max_bytes`)
    files larger than that: the one way GeoSpottr opens a file that someone else may have put there.

    Opened non-blocking (a FIFO would block `open` itself), checked with fstat on the open descriptor
    (no swap between check and read), then switched back to blocking reads. `max_bytes` None: no size
    cap (a streaming reader with its own per-record caps). Raises `GeoSpottrError` with a one-line reason.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise GeoSpottrError(f"{path}: is a folder, not a {what}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise GeoSpottrError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise GeoSpottrError(f"{path}: is a folder, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise GeoSpottrError(f"{path}: not a regular file (a pipe, socket or device), refused")
        if max_bytes is not None and info.st_size > max_bytes:
            raise GeoSpottrError(f"{path}: {_size(info.st_size)} is too large for a {what} "
                                 f"(limit {_size(max_bytes)}), refused")
        if getattr(os, "O_NONBLOCK", 0):  # POSIX only (Windows has no FIFOs to block on, nor the flag)
            os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        try:
            yield fh
        except OSError as exc:
            raise GeoSpottrError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _size(n: int) -> str:
    """``12 KiB`` / ``512 MiB``: byte counts in messages."""
    if n < 2**20:
        return f"{n / 1024:,.0f} KiB"
    return f"{n / 2**20:,.0f} MiB"


def read_regular(path: Path | str, max_bytes: int = MAX_READ_BYTES, what: str = "file") -> bytes:
    """The bytes of regular file `path`, refusing FIFOs, devices, folders and files over `max_bytes`
    (`open_regular`), read in chunks that stop at the cap even if the file grows meanwhile.
    Raises `GeoSpottrError` with a one-line reason."""
    with open_regular(path, max_bytes, what) as fh:
        chunks, size = [], 0
        while True:
            chunk = fh.read(min(_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise GeoSpottrError(f"{path}: grew past {_size(max_bytes)} while being read, refused")
        return b"".join(chunks)


#: Characters no single path component may hold (separators of any platform, NUL, a drive colon).
_NAME_FORBIDDEN = ("/", "\\", "\x00", ":")


def check_name(name: object, what: str = "name") -> str:
    """`name` if it is one plain path component (no separator, not ``.`` or ``..``, no NUL, no drive
    colon, no control character, at most 255 bytes); else `GeoSpottrError`. The one validator for names
    that become folders or files: run ids, report names, cache keys, the parts `safe_child` joins."""
    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in _NAME_FORBIDDEN) \
            or any(ord(c) < 32 or ord(c) == 127 for c in name) or len(name.encode("utf-8", "surrogateescape")) > 255:
        raise GeoSpottrError(f"refused unsafe {what} {name!r}: it must be one plain name (no folders, no '..')")
    return name


def safe_child(root: Path, *parts: str, what: str = "path part") -> Path:
    """`root / parts...`, refused unless every part is one plain name (`check_name`) and the result
    (symlinks resolved) stays inside `root`: the one guard of every path GeoSpottr builds or writes
    inside a project (slugs, ids, runs/, reports/, cache/)."""
    for part in parts:
        check_name(part, what)
    return ensure_inside(root.joinpath(*parts), root)


def ensure_inside(path: Path, root: Path) -> Path:
    """`path` when it (symlinks resolved) is `root` or lies below it; else `GeoSpottrError` naming where it
    leads. For paths already built (a run folder found by listing runs/)."""
    if not is_inside(path, root):
        try:
            where = Path(path).resolve()
        except (OSError, RuntimeError):
            where = path
        raise GeoSpottrError(f"refused path {path}: it leads outside {root} (to {where}); "
                             f"a symlink out of the project is not followed for writing")
    return Path(path)


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` (resolved, need not exist) is `root` or lies below it."""
    try:
        return Path(path).expanduser().resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte: not provably inside
        return False


def kill_point(name: str) -> None:
    """Test hook: SIGKILL this process here when ``$GEOSPOTTR_TEST_KILL_AT`` equals `name` (crash tests
    need a kill at an exact point between two writes; unset, this is one dictionary lookup)."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
