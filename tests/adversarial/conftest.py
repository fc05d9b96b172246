"""Helpers of the adversarial suite: the CLI in a subprocess (with a timeout, so a hang fails instead of
blocking CI), code run under an address-space limit, and a small project to attack."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

#: Memory a bounded case may use above what the interpreter (and torch, when imported) already maps.
HEADROOM_MB = 1536


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    out.update(PYTHONPATH=str(REPO), **extra)
    return out


def cli(*args: str | Path, timeout: float = 120, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m core ARGS` as a user runs it; a hang past `timeout` fails the test (TimeoutExpired)."""
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=REPO, env=env(**(extra_env or {})),
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single error line of a failed command (no traceback), asserted."""
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[-1]


def run_bounded(code: str, preload: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter whose address space is capped at HEADROOM_MB above what it maps
    after `preload` (imports): an allocation past that raises MemoryError instead of eating the machine."""
    script = textwrap.dedent(preload) + textwrap.dedent(f"""
        import resource
        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) for line in fh if line.startswith("VmSize:")) * 1024
        cap = vm + {HEADROOM_MB} * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    """) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env(), capture_output=True, text=True,
                          timeout=timeout)


needs_linux = pytest.mark.skipif(not Path("/proc/self/status").exists() or sys.platform != "linux",
                                 reason="address-space limits and /proc are Linux features")


@pytest.fixture
def proj(tmp_path):
    """A project with Zagreb and Split (targets 10), closed after the test."""
    from core.data import catalog
    from core.data.project import Project

    project = Project.init(tmp_path / "project", [catalog.resolve("Zagreb,HR"), catalog.resolve("Split,HR")],
                           target_count=10)
    yield project
    project.close()


@pytest.fixture
def bundle_path(tmp_path):
    """A small, valid (untrained) baseline model bundle for Zagreb and Split."""
    import torch

    from core.models import registry
    from core.models.bundle import BundleMeta, ClassInfo, save_bundle

    torch.manual_seed(0)
    classes = [ClassInfo("split", "Split", "HR", 43.51, 16.44), ClassInfo("zagreb", "Zagreb", "HR", 45.81, 15.98)]
    path = tmp_path / "model.pt"
    save_bundle(path, registry.build("baseline", 2), BundleMeta(arch="baseline", classes=classes, image_size=64))
    return path


def download_config(apis, provider: str):
    """A fast download configuration (tiny images, millisecond backoff) against the loopback `apis`."""
    from core.acquisition.jobs import DownloadConfig
    from core.acquisition.streetview import StreetViewParams
    from tests.core.acquisition.conftest import FAST_RETRY

    if provider == "streetview":
        return DownloadConfig(provider="streetview", per_city=4, workers=2, seed=1, key=apis.world.key,
                              base_url=apis.streetview_url, streetview=StreetViewParams(size=64, radius_m=300),
                              retry=FAST_RETRY, qps=None)
    return DownloadConfig(provider="mapillary", per_city=4, workers=2, seed=2, key=apis.world.token,
                          base_url=apis.mapillary_url, retry=FAST_RETRY, qps=None)
