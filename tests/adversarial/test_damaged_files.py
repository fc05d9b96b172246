"""Issue 24 item 8: every file the app reads goes through typed readers, so damage is one line naming the
file (no JSONDecodeError, AttributeError, OverflowError, RecursionError, TypeError, ValueError or
UnicodeEncodeError reaches a user); every message is printed with control characters escaped (a name with
ANSI escapes cannot drive the terminal, one with invalid UTF-8 cannot crash the print); LC_ALL=C and an
unwritable HOME work; and a download given --key never loads the keyring package."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.acquisition.sampling import Area
from core.errors import GeoSpottrError
from core.training import runs
from core.training.follow import RunState
from core.training.trainer import TrainConfig
from core.typed import Fields, parse_json

from .conftest import cli, env, one_line_error

RAW_NAMES = ("JSONDecodeError", "AttributeError", "OverflowError", "RecursionError", "TypeError", "ValueError",
             "UnicodeEncodeError", "UnicodeDecodeError", "KeyError", "Traceback")

#: status.json contents that crashed `runs` with a raw exception, and a word of the line they give now.
BAD_STATUS = {
    "list": ("[1, 2, 3]", "expected a JSON object, found a list"),
    "pid_2_70": (json.dumps({"status": "running", "pid": 2**70, "host": os.uname().nodename}), "pid"),
    "pid_text": (json.dumps({"status": "running", "pid": "x", "host": os.uname().nodename}), "pid"),
    "status_list": (json.dumps({"status": ["running"]}), "status"),
    "updated_number": (json.dumps({"status": "running", "host": "elsewhere", "updated": 5}), "updated"),
    "not_json": ("{\"status\": ", "not valid JSON"),
    "deep": ("[" * 100_000, "nested too deeply"),
    "not_utf8": (b"{\"status\": \"\xff\xfe\"}", "not UTF-8"),
    "iteration_huge": (json.dumps({"status": "running", "host": "elsewhere", "updated": "2020-01-01T00:00:00",
                                   "iteration": 1e400}), None),  # json.dumps writes Infinity
}


def _clean(text: str) -> None:
    for name in RAW_NAMES:
        assert name not in text, text[-2000:]


def _run(proj, run_id="20260101-000000-baseline", **files):
    folder = proj.runs_dir / run_id
    folder.mkdir(parents=True, exist_ok=True)
    runs.write_json(folder / runs.CONFIG, {"arch": "baseline", "epochs": 2})
    for name, content in files.items():
        (folder / name.replace("_", ".")).write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


@pytest.mark.parametrize("case", sorted(BAD_STATUS))
def test_a_damaged_status_json_is_one_line_naming_it(proj, case):
    content, words = BAD_STATUS[case]
    folder = _run(proj, status_json=content)
    listed = cli("--project", proj.root, "runs")
    assert listed.returncode == 0
    _clean(listed.stdout + listed.stderr)
    followed = cli("--project", proj.root, "runs", "--follow", folder.name, timeout=60)
    _clean(followed.stdout + followed.stderr)
    if words is not None:
        assert "unreadable" in listed.stdout and words in listed.stderr and "status.json" in listed.stderr
        assert words in one_line_error(followed)
    else:
        assert "unreadable" in listed.stdout or "stopped" in listed.stdout


def test_a_naive_time_is_read_as_utc_not_a_crash():
    old = {"status": "running", "host": "another-machine", "updated": "2020-01-01T00:00:00"}
    assert runs.live_status(old) == "stopped"
    assert RunState.from_status(old).status == "stopped"


def test_damaged_metrics_records_are_skipped_not_plotted(proj):
    lines = [json.dumps({"kind": "epoch", "data": {"epoch": "x", "val_acc": 0.5}}),
             json.dumps({"kind": "epoch", "data": {"epoch": 1, "val_acc": [1]}}),
             json.dumps({"kind": "epoch", "data": {"epoch": 2**70, "val_acc": 0.1}}),
             json.dumps({"kind": "epoch", "data": [1, 2]}),
             json.dumps([1, 2]), json.dumps({"kind": 5}), "[" * 50_000, "\x00\xff garbage",
             json.dumps({"kind": "resume", "data": {"epoch": "x", "iteration": None}}),
             json.dumps({"kind": "iteration", "data": {"iteration": 1, "loss": "nan?", "lr": 0.1}}),
             json.dumps({"kind": "epoch", "data": {"epoch": 2, "val_acc": 0.75}})]
    folder = _run(proj, status_json=json.dumps({"status": "finished"}),
                  metrics_jsonl="\n".join(lines) + "\n")
    (info,) = runs.list_runs(proj)
    assert info.epochs_done == 2 and info.best_val_acc == 0.75 and not info.problem
    listed = cli("--project", proj.root, "runs")
    assert listed.returncode == 0 and "75.0%" in listed.stdout
    followed = cli("--project", proj.root, "runs", "--follow", folder.name)
    assert followed.returncode == 0
    _clean(followed.stdout + followed.stderr)


@pytest.mark.parametrize("config, words", [
    ({"arch": "baseline", "epochs": "x"}, "epochs"), ({"arch": ["baseline"]}, "arch"),
    ({"arch": "baseline", "lr": 1e400}, "lr"), ({"arch": "baseline", "batch_size": 2**70}, "batch_size"),
    ({"arch": "baseline", "amp": "yes"}, "amp"), ([1, 2], "expected a JSON object"),
])
def test_a_damaged_config_json_is_one_line_naming_the_key(proj, config, words):
    with pytest.raises(GeoSpottrError, match=words):
        TrainConfig.from_dict(parse_json(json.dumps(config), "config.json"), "config.json")
    folder = _run(proj)
    (folder / runs.CONFIG).write_text(json.dumps(config))
    (folder / runs.LAST).write_bytes(b"placeholder")
    error = one_line_error(cli("--project", proj.root, "train", "--resume", folder.name, timeout=180))
    assert words in error and "config.json" in error


def test_a_damaged_setting_and_bbox_are_one_line(tmp_path, proj):
    with proj.transaction() as c:
        c.execute("INSERT INTO settings(key, value) VALUES('download/streetview/unfinished_job', '{\"image_requests\": ')")
        c.execute("UPDATE cities SET bbox = '[1, 2' WHERE slug = 'zagreb'")
    error = one_line_error(cli("--project", proj.root, "download", "--provider", "streetview", "--all",
                               "--per-city", "1", "--key", "k", "--yes"))
    assert "download/streetview/unfinished_job" in error and "not valid JSON" in error
    listed = cli("--project", proj.root, "cities", "--list")  # the city still opens
    assert listed.returncode == 0 and "zagreb" in listed.stdout
    with pytest.raises(GeoSpottrError, match="damaged bbox"):
        Area.of(proj.city("zagreb"))
    assert cli("--project", proj.root, "cities", "zagreb", "--radius-km", "3").returncode == 0
    assert Area.of(proj.city("zagreb")).radius_km == 3
    with proj.transaction() as c:
        c.execute("UPDATE settings SET value = '[1, 2]'")
    assert "expected a JSON object" in one_line_error(cli("--project", proj.root, "download", "--provider",
                                                          "streetview", "--all", "--per-city", "1", "--key", "k"))


def test_fields_turn_every_kind_of_damage_into_one_line():
    fields = Fields({"pid": 2**70, "t": "yesterday", "f": float("inf"), "s": {"a": 1}, "b": "yes"}, "x.json")
    for call in (lambda: fields.int("pid", hi=2**31), lambda: fields.time("t"), lambda: fields.float("f"),
                 lambda: fields.str("s"), lambda: fields.bool("b"), lambda: Fields("text", "x.json")):
        with pytest.raises(GeoSpottrError, match="x.json"):
            call()


# ---------------------------------------------------------------------------------------------- printing
ESC_NAME = "evil\x1b]0;pwned\x07\x1b[31mred"


def test_names_with_ansi_escapes_and_invalid_utf8_are_printed_escaped(proj):
    _run(proj, ESC_NAME, status_json=json.dumps({"status": "stopped"}))
    bad = os.fsdecode(b"run-\xff\xfe")
    _run(proj, bad, status_json=json.dumps({"status": "stopped"}))
    listed = subprocess.run([sys.executable, "-m", "core", "--project", str(proj.root), "runs"],
                            capture_output=True, env=env(), timeout=60)
    out = listed.stdout + listed.stderr
    assert listed.returncode == 0, out[-2000:]
    assert b"\x1b" not in out and b"\x07" not in out and b"\xff" not in out
    assert b"evil\\x1b]0;pwned\\x07\\x1b[31mred" in listed.stdout and b"run-\\xff\\xfe" in listed.stdout
    error = subprocess.run([sys.executable, "-m", "core", "--project", str(proj.root / ESC_NAME), "stats"],
                           capture_output=True, env=env(), timeout=60)
    assert error.returncode == 1 and b"\x1b" not in error.stderr and b"\\x1b" in error.stderr
    assert error.stderr.count(b"\n") == 1


@pytest.mark.parametrize("variables", [{"LC_ALL": "C", "LANG": "C"}, {"LC_ALL": "C", "PYTHONUTF8": "0",
                                                                       "PYTHONIOENCODING": "ascii"}])
def test_lc_all_c_works_with_odd_names(proj, variables):
    _run(proj, os.fsdecode(b"z\xe9\xff") + "-\u00e9t\u00e9", status_json=json.dumps({"status": "stopped"}))
    base = {k: v for k, v in env().items() if not k.startswith("LC_") and k != "LANG"}
    result = subprocess.run([sys.executable, "-m", "core", "--project", str(proj.root), "runs"],
                            capture_output=True, env={**base, **variables}, timeout=60)
    text = (result.stdout + result.stderr).decode("ascii", "replace")
    assert result.returncode == 0, text[-2000:]
    _clean(text)
    assert "stopped" in text


def test_an_unwritable_home_works_with_a_project_and_says_so_without(tmp_path, proj):
    home = tmp_path / "home-is-a-file"
    home.write_text("not a folder")  # unwritable even for root (the CI user): every mkdir under it fails
    base = {k: v for k, v in env().items() if not k.startswith("XDG_")}
    base.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
                XDG_CACHE_HOME=str(home / "cache"))
    for args in (["stats"], ["runs"], ["doctor"], ["cities", "--list"]):
        result = subprocess.run([sys.executable, "-m", "core", "--project", str(proj.root), *args],
                                capture_output=True, text=True, env=base, timeout=120)
        assert result.returncode == 0, (args, result.stderr[-2000:])
    result = subprocess.run([sys.executable, "-m", "core", "stats"], capture_output=True, text=True, env=base,
                            timeout=120)
    assert result.returncode == 1 and "cannot create the default project" in result.stderr
    _clean(result.stderr)
    assert result.stderr.count("\n") == 1


# ---------------------------------------------------------------------------------------------- keyring
KEYRING_PROBE = """
import sys
from core.cli.main import main
rc = main(sys.argv[1:])
print("KEYRING-LOADED" if "keyring" in sys.modules else "KEYRING-NOT-LOADED", rc)
"""


def test_a_download_with_key_never_loads_the_keyring(tmp_path):
    from tests.core.acquisition.conftest import make_project, make_world
    from tests.core.acquisition.fake_apis import FakeApis

    with FakeApis(make_world()) as apis:
        root = tmp_path / "p"
        make_project(root).close()
        variables = {k: v for k, v in env(GEOSPOTTR_STREETVIEW_URL=apis.streetview_url).items()
                     if k not in ("GOOGLE_MAPS_API_KEY", "GOOGLE_MAPS_SIGNING_SECRET")}
        result = subprocess.run([sys.executable, "-c", KEYRING_PROBE, "--project", str(root), "download",
                                 "--provider", "streetview", "--all", "--per-city", "2", "--yes", "--key",
                                 apis.world.key, "--size", "64", "--radius-m", "300", "--qps", "0", "--timeout", "2"],
                                capture_output=True, text=True, env=variables, timeout=180)
    assert "KEYRING-NOT-LOADED 0" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
