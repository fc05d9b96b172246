"""The ONNX Runtime engine: predict from an ONNX export of a bundle with onnxruntime and numpy, no torch.

Why: importing torch is most of a one-photo `geospottr predict` and most of a desktop bundle's size.
``geospottr export-model`` (`core.inference.onnx_export`) writes the bundle's model as an ONNX graph (the
whole network, including the ensemble's fusion and the colour statistics) and stores the bundle's
metadata (`BundleMeta`: cities, input size, normalisation, bottom crop) in the file's metadata
properties, so the file alone is enough to predict. Preprocessing is `core.models.preprocessing.eval_array`,
the same function the PyTorch engine uses; decoding, batching and ranking are `PredictorBase`'s.

Install with ``pip install "geospottr[onnx]"``. This module never imports torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..errors import GeoSpottrError
from ..models.meta import BundleError, BundleMeta
from ..models.preprocessing import eval_array
from .base import PredictorBase, normalised

#: Metadata property keys of an exported file, and the format it declares.
FORMAT_KEY, VERSION_KEY, META_KEY = "geospottr.format", "geospottr.version", "geospottr.meta"
ONNX_FORMAT = "geospottr-onnx"
ONNX_VERSION = 1
#: The graph's input and output names.
INPUT_NAME, OUTPUT_NAME = "image", "logits"
#: ONNX's protobuf cannot hold more in one file; anything larger is no export of ours.
MAX_ONNX_BYTES = 2 * 1024**3
INSTALL_HINT = 'install the ONNX engine with: pip install "geospottr[onnx]"'


def _runtime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise GeoSpottrError(f"ONNX models need onnxruntime, which is not installed; {INSTALL_HINT}") from None
    return onnxruntime


def _cpu_count() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class OnnxPredictor(PredictorBase):
    """A loaded ONNX export and its bundle metadata (see `PredictorBase` for the calls). CPU only."""

    def __init__(self, session: Any, meta: BundleMeta, tta: bool = False, source: str = "") -> None:
        super().__init__(meta, tta=tta, source=source)
        self.session = session

    @classmethod
    def load(cls, path: Path | str, tta: bool = False) -> "OnnxPredictor":
        """Open an export; raises `BundleError` in one line for a file that is not a usable one."""
        path = Path(path)
        if not path.is_file():
            raise BundleError(f"{path}: no such model file")
        if path.stat().st_size > MAX_ONNX_BYTES:
            raise BundleError(f"{path}: too large for an ONNX model")
        ort = _runtime()
        options = ort.SessionOptions()
        options.log_severity_level = 3  # its warnings are for developers; our errors are one line
        # Every graph optimisation (constant folding, conv + batch-norm/activation fusion, layout changes),
        # and as many threads as the CPUs this process may use (its affinity: a container or `taskset`
        # narrows it), not the machine's core count, which oversubscribes a restricted process.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = _cpu_count()
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for every kind of damage
            raise BundleError(f"{path}: not a readable ONNX model (damaged or truncated?): "
                              f"{str(exc).splitlines()[0][:160]}") from None
        props = session.get_modelmeta().custom_metadata_map
        if props.get(FORMAT_KEY) != ONNX_FORMAT or META_KEY not in props:
            raise BundleError(f"{path}: an ONNX model without GeoSpottr's metadata (cities, preprocessing); "
                              "export one with `geospottr export-model RUN --onnx FILE`")
        if props.get(VERSION_KEY) != str(ONNX_VERSION):
            raise BundleError(f"{path}: made by another GeoSpottr (ONNX export version {props.get(VERSION_KEY)!r}); "
                              "export it again with this one")
        try:
            meta = BundleMeta.from_json(props[META_KEY], check_settings=False)
        except (KeyError, TypeError, ValueError, GeoSpottrError) as exc:
            raise BundleError(f"{path}: its GeoSpottr metadata is damaged ({exc})") from None
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if [i.name for i in inputs] != [INPUT_NAME] or not outputs or outputs[0].shape[-1] != len(meta.classes):
            raise BundleError(f"{path}: its graph does not take one '{INPUT_NAME}' input and give "
                              f"{len(meta.classes)} city scores; export it again")
        return cls(session, meta, tta=tta, source=str(path))

    def batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        """The graph's input for decoded RGB images: float32 ``(N, 3, S, S)``."""
        m = self.meta
        return np.stack([eval_array(img, m.image_size, m.mean, m.std, m.crop_bottom) for img in images])

    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        """`(len(images), classes)` probabilities (one run of the graph, or two with TTA)."""
        if not images:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        batch = self.batch(images)
        probs = _softmax(self._run(batch))
        if self.tta:
            probs = (probs + _softmax(self._run(np.ascontiguousarray(batch[..., ::-1])))) / 2
        return normalised(probs)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """float64 logits, the graph run on `cpu_chunk` photos at a time (faster per photo on the CPU)."""
        step = self.cpu_chunk
        return np.concatenate([self.session.run([OUTPUT_NAME], {INPUT_NAME: batch[i:i + step]})[0]
                               for i in range(0, len(batch), step)]).astype(np.float64)
