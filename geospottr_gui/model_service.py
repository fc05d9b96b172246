"""The one owner of loaded models in the app, and the one "Choose model…" file dialog.

Why: Predict, Evaluate (and its heat maps), Challenge, Explain and Find problems' label check each loaded
the same bundle on their own, with two device choices, so one project could hold three copies of a
four-backbone model and wait for each load. `ModelService` (``context.models``) keeps one `PredictorBase`
per (model file, its modification time, device) and hands the same one to every job; the device is
always ``auto`` (`core.devices.pick_device`: CUDA, else Apple MPS, else the CPU). It lets go of them
when the project changes, when none was used for `IDLE_SECONDS`, and when the window closes; views
that keep a predictor drop it on `released` and ask again when they need one.

`get` loads in the calling thread (a worker job: loading imports torch); concurrent jobs asking for
the same model wait for the first load instead of loading it twice; the UI thread never waits for a
load. Nothing here imports torch.

The idle check is driven from outside (the main window calls `release_idle` every `IDLE_CHECK_MS`): this
object holds no timer. A context and its service are plain Python-owned QObjects that a garbage
collection may destroy from any thread; a running QTimer destroyed off the thread it lives in stays
registered there and crashes the event loop when it next fires.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from core.events import Control, EventCallback
from core.inference.engines import MODEL_SUFFIXES, load_predictor

if TYPE_CHECKING:
    from core.inference.base import PredictorBase

#: Every file dialog that picks a model offers these (a PyTorch bundle or its ONNX export).
MODEL_FILTER = ("Models (" + " ".join(f"*{s}" for s in MODEL_SUFFIXES) + ");;PyTorch bundles (*.pt);;"
                "ONNX exports (*.onnx);;All files (*)")
#: The device every view's model runs on (one rule: `core.devices`).
DEVICE = "auto"
#: A model no job asked for in this long is let go (it is loaded again, in a second or so, when needed).
IDLE_SECONDS = 10 * 60
#: How often the window asks the service to let idle models go.
IDLE_CHECK_MS = 60_000

ModelKey = tuple[str, int, str]


def choose_model_file(parent: QWidget, start: str | Path = "", title: str = "Choose a model") -> str:
    """Ask for a model file (``.pt`` bundle or ``.onnx`` export); "" when the user cancels."""
    path, _ = QFileDialog.getOpenFileName(parent, title, str(start), MODEL_FILTER)
    return path


class ModelService(QObject):
    """See the module docstring. Owned by `AppContext` as ``context.models``."""

    #: Every cached model was let go: views drop theirs and ask `get` again when they need one.
    released = Signal()

    def __init__(self, parent: QObject | None = None, idle_seconds: float = IDLE_SECONDS) -> None:
        super().__init__(parent)
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()      # guards the two dicts, briefly (the UI thread takes it too)
        self._loading = threading.Lock()   # one load at a time
        self._cache: dict[ModelKey, PredictorBase] = {}
        self._used: dict[ModelKey, float] = {}

    @staticmethod
    def key(path: str | Path, device: str = DEVICE) -> ModelKey:
        """The cache key: the resolved file and its modification time (a rewritten best.pt is a new model)."""
        resolved = Path(path).expanduser().resolve()
        try:
            mtime = resolved.stat().st_mtime_ns
        except OSError:
            mtime = -1  # loading says what is wrong with it
        return str(resolved), mtime, device

    def get(self, path: str | Path, device: str = DEVICE) -> PredictorBase:
        """The model at `path`, loaded once (call from a worker job). Raises `BundleError` in one line."""
        key = self.key(path, device)
        with self._loading:  # a second job for the same model waits for the first load and shares it
            with self._lock:
                predictor = self._cache.get(key)
            if predictor is None:
                predictor = load_predictor(path, device=device)
            with self._lock:
                for old in [k for k in self._cache if k[0] == key[0] and k != key]:  # an older version of the file
                    del self._cache[old]
                    self._used.pop(old, None)
                self._cache[key] = predictor
                self._used[key] = time.monotonic()
            return predictor

    def load_job(self, path: str, *, on_event: EventCallback, control: Control) -> PredictorBase:
        """`get` as a worker job (``start_job(view, context.models.load_job, path, needs_torch=True)``)."""
        return self.get(path)

    def release(self) -> None:
        """Let go of every model (project changed, window closing); views hear `released`."""
        with self._lock:
            had = bool(self._cache)
            self._cache.clear()
            self._used.clear()
        if had:
            self.released.emit()

    def release_idle(self) -> None:
        """Let go of the models when none was used for `idle_seconds` (the main window's timer calls this)."""
        with self._lock:
            last = max(self._used.values(), default=None)
        if last is not None and time.monotonic() - last >= self.idle_seconds:
            self.release()
