"""The one way to load a model file: `load_predictor` picks the engine from the file's suffix.

A ``.onnx`` export runs on `core.inference.onnx_engine.OnnxPredictor` (onnxruntime and numpy: torch is never
imported), anything else is a PyTorch bundle for `core.inference.prediction.Predictor`. Each engine is imported
only when a file needs it, so importing this module costs nothing; the CLI's ``--model``, the desktop
app's `ModelService` and the label check all load through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import PredictorBase

#: Model files a user may choose: a PyTorch bundle or its ONNX export (file dialogs, `--model`).
MODEL_SUFFIXES = (".pt", ".onnx")
ONNX_SUFFIX = ".onnx"


def is_onnx(path: Path | str) -> bool:
    """Whether `path` names an ONNX export (by its suffix: the two formats are told apart before reading)."""
    return Path(path).suffix.lower() == ONNX_SUFFIX


def load_predictor(path: Path | str, device: str = "auto", tta: bool = False) -> PredictorBase:
    """The engine for a model file: ONNX Runtime for ``.onnx`` (no torch import), else PyTorch.

    `device`: ``auto``, ``cpu``, ``cuda``, ``mps`` (`core.devices.pick_device`; the ONNX engine runs on the
    CPU). Raises `BundleError` with a one-line reason for anything that is not a usable model."""
    if is_onnx(path):
        from .onnx_engine import OnnxPredictor

        return OnnxPredictor.load(path, tta=tta)
    from .prediction import Predictor

    return Predictor.load(path, device=device, tta=tta)
