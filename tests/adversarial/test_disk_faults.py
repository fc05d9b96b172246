"""Issue 24 item 7: locked, read-only, full. A database locked by another writer is called locked (not
damaged) and reading it never waits; a project on a read-only disk works for the commands that only
read; a full disk during import or export and EFBIG while writing a checkpoint give one line, leave
nothing half-written (rows and files checked before and after) and the same command then completes.

Full and read-only disks are real: a small tmpfs mounted for the test (root with CAP_SYS_ADMIN, as in
CI containers); where mounting is not allowed those cases skip, saying so. EFBIG comes from
RLIMIT_FSIZE in a child process, which needs no privilege."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from core.data import catalog
from core.data.exporting import export
from core.data.importing import ADD_BATCH, import_source
from core.data.project import DatabaseLocked, Project, ReadOnlyProject, database_error

from .conftest import cli, env, one_line_error
from .hostile import jpeg


def _state(project) -> tuple[int, int]:
    return len(project.images()), len(list(project.images_dir.rglob("*.jpg")))


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".part" in p.name)


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size) -> a fresh tmpfs folder of that size; `remount(options)` changes it; unmounted after."""
    mounts = []

    def mount(size: str):
        point = tmp_path / f"disk{len(mounts)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {done.stderr.strip()}")
        mounts.append(point)
        return point

    def remount(point, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True)

    mount.remount = remount
    yield mount
    for point in reversed(mounts):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _photos(folder, n: int, size=(200, 150)):
    (folder / "zagreb").mkdir(parents=True)
    for i in range(n):
        (folder / "zagreb" / f"{i}.jpg").write_bytes(jpeg(size, seed=500 + i, quality=95))
    return folder


def test_a_full_disk_during_import_leaves_rows_and_files_matching_and_resumes(tmp_path, tmpfs):
    """Photos are stored in batches (one flush, one transaction each): the disk fills during the second
    batch, the first stays whole, the refused one leaves neither rows nor files, and a rerun adds the rest."""
    total = ADD_BATCH * 2 + 10
    disk = tmpfs("4m")
    Project.init(disk / "p", [catalog.resolve("Zagreb,HR")]).close()
    src = _photos(tmp_path / "src", total)  # ~40 KB each: about 90 fit
    result = cli("--project", disk / "p", "import", src, timeout=120)
    line = one_line_error(result)
    assert "disk is full" in line and "run the command again" in line
    with Project.open(disk / "p") as project:
        rows, files = _state(project)
        assert rows == files and rows % ADD_BATCH == 0 and 0 < rows < total and _leftovers(disk) == []
    tmpfs.remount(disk, "size=20m")
    result = cli("--project", disk / "p", "import", src, timeout=120)
    assert result.returncode == 0 and f"{total - rows} added, {rows} already" in result.stdout, result.stderr
    with Project.open(disk / "p") as project:
        assert _state(project) == (total, total)


def test_a_full_disk_during_export_leaves_no_partial_folder(tmp_path, tmpfs, proj):
    import_source(proj, _photos(tmp_path / "src", 10))
    before = _state(proj)
    disk = tmpfs("200k")
    out = disk / "export"
    line = one_line_error(cli("--project", proj.root, "export", out, timeout=120))
    assert "disk is full" in line
    assert not out.exists() and list(disk.iterdir()) == []  # no partial folder, no temp folder
    tmpfs.remount(disk, "size=20m")
    assert export(proj, "imagefolder", out) == 10  # the same target works now
    assert len(list(out.rglob("*.jpg"))) == 10 and (out / "manifest.csv").exists()
    assert _state(proj) == before


def test_a_killed_imagefolder_export_can_be_run_again(tmp_path, proj):
    import_source(proj, _photos(tmp_path / "src", 3, size=(40, 30)))
    out = tmp_path / "out"
    killed = cli("--project", proj.root, "export", out, extra_env={"GEOSPOTTR_TEST_KILL_AT": "export-before-rename"})
    assert killed.returncode != 0 and not out.exists()
    assert len(_leftovers(tmp_path)) == 1  # the dead export's temp folder, swept by the next one
    assert cli("--project", proj.root, "export", out).returncode == 0
    assert len(list(out.rglob("*.jpg"))) == 3 and _leftovers(tmp_path) == []


def test_a_read_only_project_works_for_read_only_commands(tmp_path, tmpfs):
    disk = tmpfs("20m")
    with Project.init(disk / "p", [catalog.resolve("Zagreb,HR")]) as project:
        import_source(project, _photos(tmp_path / "src", 2, size=(40, 30)))
    tmpfs.remount(disk, "ro")
    for args in (["stats"], ["stats", "--json"], ["runs"], ["cities"]):
        result = cli("--project", disk / "p", *args, timeout=60)
        assert result.returncode == 0, (args, result.stderr)
    assert "zagreb" in cli("--project", disk / "p", "cities").stdout
    for args in (["cities", "--add", "Split,HR"], ["import", tmp_path / "src"], ["split"]):
        line = one_line_error(cli("--project", disk / "p", *args, timeout=60))
        assert "read-only" in line and "stats, runs, cities" in line, (args, line)
    with Project.open(disk / "p", readonly=True) as project:
        assert _state(project) == (2, 2)
        with pytest.raises(ReadOnlyProject):
            project.set_status([r.id for r in project.images()], "accepted")


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "exclusive":  # another program using the file without WAL, holding it exclusively
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO settings(key, value) VALUES('lock-holder', '1')")
if sys.argv[2] == "exclusive":
    conn.execute("COMMIT")
    conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("kind", ["writer", "exclusive"])
def test_a_locked_database_is_called_locked_not_damaged(proj, kind, monkeypatch):
    before = _state(proj)
    proj.close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(proj.db_path), kind], env=env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr(Project, "LOCK_WAIT_S", 0.5)
        started = time.monotonic()
        if kind == "writer":  # WAL: reading and opening never wait for the writer; writing says "locked"
            with Project.open(proj.root) as project:
                assert _state(project) == before
                with pytest.raises(DatabaseLocked, match="locked by another process"):
                    project.add_city(catalog.resolve("Rijeka,HR"))
        else:
            with pytest.raises(DatabaseLocked, match="locked by another process"):
                with Project.open(proj.root, readonly=True) as project:
                    project.stats()
        assert time.monotonic() - started < 20
    finally:
        holder.kill()
        holder.wait()
    with Project.open(proj.root) as project:
        assert _state(project) == before


def test_database_errors_are_classified():
    import sqlite3

    from core.fsutil import WriteFailed

    assert isinstance(database_error(sqlite3.OperationalError("database is locked"), "db"), DatabaseLocked)
    assert isinstance(database_error(sqlite3.OperationalError("attempt to write a readonly database"), "db"),
                      ReadOnlyProject)
    assert isinstance(database_error(sqlite3.OperationalError("database or disk is full"), "db"), WriteFailed)
    assert "damaged" in str(database_error(sqlite3.DatabaseError("file is not a database"), "db"))


EFBIG = """
import resource, sys
from pathlib import Path
from core.fsutil import WriteFailed, atomic_write_bytes
target = Path(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
try:
    atomic_write_bytes(target, b"new checkpoint " * 100_000)   # 1.5 MB > the 64 KB limit
except WriteFailed as exc:
    print(exc)
"""


def test_efbig_writing_a_checkpoint_is_one_line_and_keeps_the_old_one(tmp_path):
    """RLIMIT_FSIZE makes write() fail with EFBIG (Python ignores SIGXFSZ), as a checkpoint bigger than the
    file system allows would; `save_bundle` writes checkpoints through `atomic_write_bytes`."""
    target = tmp_path / "run" / "last.pt"
    target.parent.mkdir()
    target.write_bytes(b"old checkpoint")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(EFBIG), str(target)], env=env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "larger than the file system or the process's file size limit allows" in done.stdout
    assert len(done.stdout.strip().splitlines()) == 1
    assert target.read_bytes() == b"old checkpoint" and sorted(p.name for p in target.parent.iterdir()) == ["last.pt"]


def test_a_training_checkpoint_over_the_file_size_limit_fails_in_one_line_and_resumes(tiny_project):
    """A real `train` whose checkpoint meets EFBIG (RLIMIT_FSIZE): one line, the run marked failed with
    that reason, no half checkpoint; `train --resume` then completes it."""
    import json
    import resource

    root = tiny_project.root
    tiny_project.close()
    command = [sys.executable, "-m", "core", "--project", str(root), "train", "--arch", "baseline", "--weights", "none",
               "--epochs", "1", "--image-size", "64", "--workers", "0", "--batch-size", "8"]
    limit = 200 * 1024  # far below a checkpoint, above config.json, status.json and metrics.jsonl
    failed = subprocess.run(command, env=env(), capture_output=True, text=True, timeout=300,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    line = one_line_error(failed)
    assert "larger than the file system or the process's file size limit allows" in line
    (run,) = (root / "runs").iterdir()
    assert not list(run.glob("*.pt")) and _leftovers(run) == []
    assert json.loads((run / "status.json").read_text())["status"] == "failed"
    resumed = subprocess.run([*command[:5], "train", "--resume", run.name], env=env(), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()


MEMMAP = """
import sys
import numpy as np
from pathlib import Path
from core.fsutil import WriteFailed, reserve_space
tmp = Path(sys.argv[1])
out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(4_000_000,))   # 8 MB, sparse
try:
    reserve_space(tmp)       # what the feature cache does before filling its map
    out[:] = 1
except WriteFailed as exc:
    del out
    tmp.unlink()
    print(exc)
"""


def test_a_memory_mapped_cache_on_a_full_disk_is_one_line_not_a_sigbus(tmpfs):
    """Filling a sparse memory map on a full disk kills the process with SIGBUS (no message, a half file
    left); the feature cache reserves its blocks first (`fsutil.reserve_space`), so it gets one line."""
    disk = tmpfs("1m")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(MEMMAP), str(disk / "feats.part.npy")], env=env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])  # -7 would be the SIGBUS
    assert "the disk is full" in done.stdout and len(done.stdout.strip().splitlines()) == 1
    assert list(disk.iterdir()) == []
