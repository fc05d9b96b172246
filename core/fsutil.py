"""Atomic file writes: a kill at any moment leaves either the old file or the new one, never half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: Suffix of in-flight temporary files; `Project.open` sweeps leftovers of killed writers.
PART_SUFFIX = ".part"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def sweep_partials(root: Path) -> int:
    """Delete temp files left by killed writers under `root`; returns how many."""
    count = 0
    if root.is_dir():
        for p in root.rglob(f"*{PART_SUFFIX}"):
            p.unlink(missing_ok=True)
            count += 1
    return count
