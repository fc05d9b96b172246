"""Versions of GeoSpottr and what it runs on, for the About dialog and ``geospottr versions``.

Bug reports are only useful with these figures, and both skins must show the same ones, so they are
gathered here. Qt is never imported by this module: PySide6's version comes from the installed package
metadata, and the running Qt library is asked only when the GUI has already loaded it.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .typed import DamagedFile, parse_json

if TYPE_CHECKING:
    from .models.bundle import BundleMeta

NOT_INSTALLED = "not installed"


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def _torch_version() -> str:
    """``torch.__version__`` keeps the build tag (``+cpu``, ``+cu130``) that package metadata may not show."""
    try:
        import torch
    except ImportError:
        return NOT_INSTALLED
    return str(torch.__version__)


def _torchvision_version() -> str:
    """The version, flagged when its C++ ops did not load (a broken install or bundle; models then fail)."""
    try:
        import torchvision
        from torchvision.extension import _has_ops
    except (ImportError, RuntimeError) as exc:
        return f"{_dist_version('torchvision')} (import failed: {str(exc).splitlines()[0][:80]})"
    return str(torchvision.__version__) + ("" if _has_ops() else " (C++ ops missing)")


def _device_description() -> str:
    """The accelerator torch would use: CUDA (with the GPU's name), Apple MPS, or the CPU."""
    try:
        import torch
    except ImportError:
        return NOT_INSTALLED
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        more = f" (+{count - 1} more)" if count > 1 else ""
        return f"cuda: {torch.cuda.get_device_name(0)}{more}, CUDA {torch.version.cuda}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def _bundle_description(meta: "BundleMeta") -> str:
    made = ", ".join(f"{k} {v}" for k, v in sorted(meta.versions.items()))
    run = f" from run {meta.run_id}" if meta.run_id else ""
    return f"{meta.arch}, {len(meta.classes)} cities{run}, made {meta.created_at} with {made}"


def runtime_versions(bundle: "BundleMeta | None" = None) -> dict[str, str]:
    """Label -> version text, in display order: GeoSpottr, Python, torch, torchvision, PySide6,
    Qt (the running library when the GUI has loaded it, else the bundled one), platform, compute device,
    and the model bundle if given.

    Imports torch (about a second the first time), so call it when the versions are shown, not at startup.
    """
    versions = {
        "GeoSpottr": __version__,
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "torch": _torch_version(),
        "torchvision": _torchvision_version(),
        "PySide6": _dist_version("PySide6"),
    }
    versions["Qt"] = _bundled_qt(versions["PySide6"])
    _add_running_qt(versions)
    versions["Platform"] = f"{platform.system()} {platform.release()} ({platform.machine()})"
    versions["Device"] = _device_description()
    if bundle is not None:
        versions["Model bundle"] = _bundle_description(bundle)
    return versions


def _bundled_qt(pyside: str) -> str:
    """The Qt library the PySide6 wheels bundle, known without importing Qt (the CLI never does): Qt for
    Python releases carry the version of the Qt they ship."""
    return NOT_INSTALLED if pyside == NOT_INSTALLED else f"{pyside} (bundled with PySide6)"


def _add_running_qt(versions: dict[str, str]) -> dict[str, str]:
    """Name the Qt library this process runs, right after PySide6, when the GUI has loaded it: it replaces
    what a child process reported (the bundled version), since a system Qt may be the one in use."""
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is None:
        return versions
    items = [(label, value) for label, value in versions.items() if label != "Qt"]
    at = next((i + 1 for i, (label, _) in enumerate(items) if label == "PySide6"), len(items))
    items.insert(at, ("Qt", qtcore.qVersion()))
    versions.clear()
    versions.update(items)
    return versions


def cli_command() -> list[str]:
    """How to start this installation's ``geospottr`` command: the executable beside a frozen app
    (PyInstaller bundles both), else this Python running ``-m core``."""
    if getattr(sys, "frozen", False):
        exe = Path(sys.executable).with_name("geospottr" + (".exe" if sys.platform == "win32" else ""))
        return [str(exe)]
    return [sys.executable, "-m", "core"]


def probe_in_child(model: str | Path | None = None, timeout: float = 180.0) -> dict[str, str]:
    """`runtime_versions` measured by a short-lived ``geospottr versions --json`` process.

    The desktop app shows the device at startup; importing torch for that would keep about 1 GB in its
    process for nothing (torch is only needed once a job runs), so a child pays and exits. Raises
    `GeoSpottrError` with the child's last line when it fails."""
    import subprocess

    from .errors import GeoSpottrError

    command = [*cli_command(), "versions", "--json"] + (["--model", str(model)] if model else [])
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GeoSpottrError(f"device probe failed: {exc}") from None
    try:
        versions = parse_json(proc.stdout, "device probe") if proc.returncode == 0 else None
    except DamagedFile:
        versions = None
    if not isinstance(versions, dict):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise GeoSpottrError(f"device probe failed: {last}")
    return _add_running_qt({str(k): str(v) for k, v in versions.items()})


def format_versions(versions: dict[str, str]) -> str:
    """Aligned ``label: value`` lines (what ``geospottr versions`` prints and the About dialog can copy)."""
    width = max(len(label) for label in versions)
    return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in versions.items())
