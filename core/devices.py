"""The one device rule: ``auto`` means CUDA, else Apple MPS, else the CPU.

Training, prediction and the quality scan's embeddings all resolve ``--device`` here, so a Mac gets
its GPU everywhere or nowhere. This module imports torch; callers that only list the choices use
`CHOICES`.
"""

from __future__ import annotations

import os

import torch

from .errors import GeoSpottrError

#: What ``--device`` and the Train form accept.
CHOICES = ("auto", "cuda", "mps", "cpu")


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def available() -> dict[str, bool]:
    """Each of `CHOICES` and whether this machine has it (``auto`` and ``cpu`` always)."""
    return {"auto": True, "cuda": torch.cuda.is_available(), "mps": mps_available(), "cpu": True}


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``auto``: CUDA, else Apple MPS, else CPU; an explicit choice that is unavailable is an error.

    ``cuda:1`` style names pick that GPU."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu")
    kind = name.split(":", 1)[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise GeoSpottrError(f"--device {name}: no CUDA GPU is available (use --device auto or cpu)")
    if kind == "mps" and not mps_available():
        raise GeoSpottrError(f"--device {name}: Apple Metal is not available (use --device auto or cpu)")
    if kind not in ("cpu", "cuda", "mps"):
        raise GeoSpottrError("--device must be auto, cpu, cuda or mps")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise GeoSpottrError(f"--device {name}: {exc}") from None


def cuda_name() -> str:
    """The first CUDA GPU's name, or "" without one (for the Train form's device list)."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""


_threads_configured = False


def configure_threads() -> int:
    """Cap torch's CPU thread count, once per process (later calls change nothing), and return it.

    At most the CPUs this process may run on (its affinity, which a container or ``taskset`` narrows):
    torch's default counts the machine's cores and oversubscribes a restricted process, and threads
    waiting for each other cost more than they give. A lower count chosen before (a benchmark's
    ``torch.set_num_threads(1)``) is kept."""
    global _threads_configured
    if not _threads_configured:
        allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if torch.get_num_threads() > allowed:
            torch.set_num_threads(max(1, allowed))
        _threads_configured = True
    return torch.get_num_threads()
