"""Load torch's native libraries in a safe order: before Chromium starts, and one thread at a time.

On Linux with a CUDA build of torch, ``import torchvision`` pulls in triton, whose ``libtriton`` (with its
own LLVM) segfaults the process when loaded after a QWebEngineView has started Chromium: e.g. opening a
map and then the Train tab. Loading it first avoids that. `preload_before_chromium` does it (~0.2-0.6 s);
`MapView` calls it right before the first web view is created, where QtWebEngine's own start-up dwarfs it.
Reproduce: tests/test_packaging.py::test_torch_import_after_chromium_started_does_not_crash.

Two more rules keep the app alive once several workspaces exist side by side:

* torch is never imported on the UI thread once a map exists (a view that needs a torch-importing core
  module does it in a job), and
* jobs import torch through `import_torch`, which runs the whole first import in one thread at a time.
  Two threads importing torch/torchvision at once (the version probe, the Train probe, a model load)
  meet torchvision's circular imports, and one of them gets a half-initialised module
  ("cannot import name ... from partially initialized module 'torchvision...'") or a native library
  loaded while the other thread is still starting Chromium.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading

log = logging.getLogger(__name__)

#: Extension modules that must be in memory before Chromium starts (only those installed are loaded).
EARLY_NATIVE_MODULES = ("triton._C.libtriton",)
#: What `import_torch` brings in, in this order (torchvision is what imports triton).
TORCH_MODULES = ("torch", "torchvision")

_preload_lock = threading.Lock()
_preloaded: list[str] | None = None
_torch_lock = threading.Lock()
_torch_ready = False


def preload_before_chromium() -> list[str]:
    """Import each installed module of EARLY_NATIVE_MODULES once; the names loaded (never raises).

    Thread-safe: a second caller waits for the first to finish, so a web view created while a job is
    importing torch still starts Chromium only after the native libraries are in memory.
    """
    global _preloaded
    with _preload_lock:
        if _preloaded is None:
            loaded = []
            for name in EARLY_NATIVE_MODULES:
                try:
                    if importlib.util.find_spec(name.split(".")[0]) is None:
                        continue
                    importlib.import_module(name)
                except Exception as exc:  # noqa: BLE001 - a broken optional package must not stop the app
                    log.warning("could not preload %s (%s); torch runs without it", name, exc)
                    continue
                loaded.append(name)
            _preloaded = loaded
        return list(_preloaded)


def import_torch() -> None:
    """Import torch and torchvision (native libraries first) unless done; call it first in every job that
    needs them. Serialised, so concurrent jobs never see a half-imported torchvision. Raises ImportError
    when torch is not installed, as ``import torch`` would."""
    global _torch_ready
    if _torch_ready:
        return
    with _torch_lock:
        if _torch_ready:
            return
        preload_before_chromium()
        for name in TORCH_MODULES:
            importlib.import_module(name)
        _torch_ready = True
