"""`geospottr download` end to end: a real subprocess against the loopback API, SIGKILLed mid-run and
resumed, ends with exactly 60 distinct panoramas; the key appears in no project file and no output."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from core.cli.main import main

from .conftest import REPO_ROOT

ARGS = ["--provider", "streetview", "--all", "--per-city", "20", "--workers", "3", "--seed", "5", "--yes",
        "--size", "64", "--radius-m", "300", "--timeout", "2", "--backoff", "0.01", "--qps", "0"]


def _env(apis) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_MAPS_API_KEY", "PYTHONHASHSEED")}
    env.update(GEOSPOTTR_STREETVIEW_URL=apis.streetview_url, GOOGLE_MAPS_API_KEY=apis.world.key,
               PYTHONPATH=str(REPO_ROOT))
    return env


def _count(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_mid_run_then_resume_gives_exactly_60_panoramas(project, apis):
    apis.world.image_delay_s = 0.08  # slow enough to be caught mid-run
    root = project.root
    project.close()
    command = [sys.executable, "-m", "core", "download", "--project", str(root), *ARGS]
    victim = subprocess.Popen(command, cwd=REPO_ROOT, env=_env(apis), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _count(root / "geospottr.db") < 12 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    out, err = victim.communicate(timeout=30)
    killed_at = _count(root / "geospottr.db")
    assert victim.returncode == -signal.SIGKILL and 12 <= killed_at < 60

    resumed = subprocess.run(command, cwd=REPO_ROOT, env=_env(apis), capture_output=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]

    from core.data.project import Project

    with Project.open(root) as reopened:
        rows = reopened.images()
        assert reopened.city_counts() == {"rijeka": 20, "split": 20, "zagreb": 20}
        assert len(rows) == 60 and len({r.source_id for r in rows}) == 60
        assert all(reopened.image_path(r).is_file() for r in rows)
        files = {p.relative_to(root).as_posix() for p in reopened.images_dir.rglob("*")}
    # a file written just before the kill and whose row never landed is re-fetched and overwritten
    # by the resume (same pano, same seeded heading, same bytes): at most the in-flight ones may remain
    assert len(files - {r.path for r in rows} - {"images/" + s for s in ("rijeka", "split", "zagreb")}) <= 3
    assert apis.world.counts["image"] <= 60 + 3  # paid at most for the images in flight at the kill
    text = resumed.stdout.decode()
    assert "saved" in text and "skipped for no coverage" in text and "image requests" in text

    key = apis.world.key.encode()
    assert all(key not in p.read_bytes() for p in root.rglob("*") if p.is_file())
    assert all(key not in stream for stream in (out, err, resumed.stdout, resumed.stderr))


def test_cost_must_be_confirmed(project, apis, monkeypatch, capsys):
    monkeypatch.setenv("GEOSPOTTR_STREETVIEW_URL", apis.streetview_url)
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", apis.world.key)
    args = ["download", "--project", str(project.root), *[a for a in ARGS if a != "--yes"]]
    assert main(args) == 1
    assert "confirm with --yes" in capsys.readouterr().err
    assert project.images() == []


def test_help_states_terms_and_licences(capsys):
    with pytest.raises(SystemExit):
        main(["download", "--help"])
    text = capsys.readouterr().out
    assert "Terms" in text and "CC BY-SA 4.0" in text and "GOOGLE_MAPS_API_KEY" in text and "--per-city N means" in text


def test_cli_download_small(project, apis, monkeypatch, capsys):
    monkeypatch.setenv("GEOSPOTTR_STREETVIEW_URL", apis.streetview_url)
    args = [a for a in ARGS if a != "--all"]
    assert main(["download", "--project", str(project.root), *args, "--cities", "split", "--per-city", "2",
                 "--key", apis.world.key]) == 0
    out = capsys.readouterr().out
    assert "about $0.01" in out and project.city_counts()["split"] == 2
    assert apis.world.key not in out


def test_a_missing_key_is_said_before_any_cost(project, apis, monkeypatch, capsys):
    """Without a key there is nothing to confirm: the key error comes first, not the --yes demand."""
    import keyring
    from keyring.backends.null import Keyring as NoKeyring

    monkeypatch.setenv("GEOSPOTTR_STREETVIEW_URL", apis.streetview_url)
    args = ["download", "--project", str(project.root), *[a for a in ARGS if a != "--yes"]]
    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())  # a machine whose OS keyring holds no key either
    try:
        assert main(args) == 1
    finally:
        keyring.set_keyring(previous)
    captured = capsys.readouterr()
    assert captured.err.startswith("geospottr: error: no Google Maps API key") and "confirm" not in captured.err
    assert "$" not in captured.out and apis.world.counts["metadata"] == 0


@pytest.mark.parametrize("where", ["refused", "unresolvable"])
def test_an_unreachable_provider_stops_at_once_with_one_line(project, monkeypatch, capsys, where):
    """Offline (a name that does not resolve, a refused connection) is not worth retrying: one line, no
    retry lines, no cost question; real sockets and a real lookup of a reserved .invalid name."""
    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{closed.getsockname()[1]}" if where == "refused" else "geospottr-nowhere.invalid"
        monkeypatch.setenv("GEOSPOTTR_STREETVIEW_URL", f"http://{host}/maps/api/streetview")
        args = ["download", "--project", str(project.root), *[a for a in ARGS if a != "--yes"], "--key", "k"]
        assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [captured.err.strip()]
    name = host.split(":")[0]
    assert captured.err.startswith(f"geospottr: error: cannot reach {name}: no network?")
    assert "retrying" not in captured.err and "$" not in captured.out
    assert project.images() == []
