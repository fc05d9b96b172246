"""Issue 15 item 2: any number of readers and writers on one project. An import runs while another
process opens the project again and again (each open used to sweep the importer's in-flight files); two
imports of the same files run at once; two downloads race against the loopback fake APIs."""

from __future__ import annotations

import subprocess
import sys
import time

from core.data.project import Project
from core.quality.doctor import check
from tests.core.acquisition.conftest import make_project, make_world
from tests.core.acquisition.fake_apis import FakeApis

from .conftest import REPO, cli, env
from .hostile import jpeg

N_FILES = 240

READER = """
import sys, time
from pathlib import Path
from core.data.project import Project
root, stop = Path(sys.argv[1]), Path(sys.argv[2])
opens = 0
while not stop.exists():
    with Project.open(root) as project:   # each open runs the temp-file sweep
        project.stats()
    opens += 1
print(opens)
"""


def _photos(folder, n=N_FILES):
    for i in range(n):
        city = ("zagreb", "split")[i % 2]
        (folder / city).mkdir(parents=True, exist_ok=True)
        (folder / city / f"{i:04d}.jpg").write_bytes(jpeg((24, 18), seed=i, quality=60))
    return folder


def _assert_each_file_once(project, n=N_FILES):
    records = project.images()
    assert len(records) == n and len({r.sha256 for r in records}) == n
    assert all(project.image_path(r).is_file() for r in records)
    assert not list(project.images_dir.rglob("*.part"))
    assert check(project).ok


def test_import_while_another_process_opens_the_project_again_and_again(tmp_path, proj):
    src = _photos(tmp_path / "src")
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(proj.root), str(stop)], cwd=REPO, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        result = cli("--project", proj.root, "import", src, timeout=300)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert reader.returncode == 0 and int(out) > 0, err[-2000:]
    print(f"the reader opened the project {int(out)} times during the import")
    _assert_each_file_once(proj)


def test_two_imports_of_the_same_files_at_once(tmp_path, proj):
    src = _photos(tmp_path / "src")
    command = [sys.executable, "-m", "core", "--project", str(proj.root), "import", str(src)]
    runs = [subprocess.Popen(command, cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in runs]
    for p, (_, err) in zip(runs, outputs):
        assert p.returncode == 0, err[-2000:]
    added = sum(int(out.strip().splitlines()[-1].split(" added")[0]) for out, _ in outputs)
    assert added == N_FILES
    _assert_each_file_once(proj)


DOWNLOAD = ["--provider", "streetview", "--all", "--per-city", "20", "--workers", "3", "--seed", "5", "--yes",
            "--size", "64", "--radius-m", "300", "--timeout", "2", "--backoff", "0.01", "--qps", "0"]


def test_two_downloads_at_once_end_with_exactly_the_target(tmp_path):
    with FakeApis(make_world()) as apis:
        apis.world.image_delay_s = 0.02
        root = tmp_path / "dl"
        make_project(root).close()
        extra = env(GEOSPOTTR_STREETVIEW_URL=apis.streetview_url, GOOGLE_MAPS_API_KEY=apis.world.key)
        command = [sys.executable, "-m", "core", "download", "--project", str(root), *DOWNLOAD]
        first = subprocess.Popen(command, cwd=REPO, env=extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.05)
        second = subprocess.Popen(command, cwd=REPO, env=extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        results = [(p, *p.communicate(timeout=300)) for p in (first, second)]
        later = subprocess.run(command, cwd=REPO, env=extra, capture_output=True, text=True, timeout=300)
    for p, _, err in results:
        assert p.returncode == 0 or "another download is running" in err, err[-2000:]
    assert later.returncode == 0, later.stderr[-2000:]
    with Project.open(root) as project:
        assert project.city_counts() == {"rijeka": 20, "split": 20, "zagreb": 20}
        assert len({r.source_id for r in project.images()}) == 60
