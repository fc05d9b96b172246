"""Load native libraries that crash when they come in after QtWebEngine's Chromium has started.

On Linux with a CUDA build of torch, ``import torchvision`` pulls in triton, whose ``libtriton`` (with its
own LLVM) segfaults the process when loaded after a QWebEngineView has started Chromium: e.g. opening a
map and then the Train tab. Loading it first avoids that. It costs ~0.6 s, so call this right before the
first web view is created (not at startup), where QtWebEngine's own start-up dwarfs it.
Reproduce: tests/test_packaging.py::test_torch_import_after_chromium_started_does_not_crash.
"""

from __future__ import annotations

import importlib
import importlib.util

#: Extension modules that must be in memory before Chromium starts (only those installed are loaded).
EARLY_NATIVE_MODULES = ("triton._C.libtriton",)


def preload_before_chromium() -> list[str]:
    """Import each installed module of EARLY_NATIVE_MODULES; the names loaded (idempotent, never raises)."""
    loaded = []
    for name in EARLY_NATIVE_MODULES:
        try:
            if importlib.util.find_spec(name.split(".")[0]) is None:
                continue
            importlib.import_module(name)
        except (ImportError, OSError):
            continue  # a broken optional package must not stop the app; torch then runs without it
        loaded.append(name)
    return loaded
