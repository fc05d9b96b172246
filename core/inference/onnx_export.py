"""Export a model bundle to ONNX (``geospottr export-model RUN --onnx OUT``) for `core.inference.onnx_engine`.

The whole model is traced at the bundle's input size with a free batch size: backbones, the probes'
shared view (its antialiased resize becomes two MatMuls, `backbones.resize_antialiased`), the colour
statistics and the fusion, so the engine only preprocesses (`core.models.preprocessing.eval_array`) and
applies the softmax. The bundle's metadata goes into the file's metadata properties. `export_onnx`
checks the export against PyTorch on a probe batch before writing it: a graph that disagrees is an
error, not a file.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import GeoSpottrError
from ..fsutil import atomic_write_bytes
from ..models.bundle import load_bundle
from .onnx_engine import (
    FORMAT_KEY,
    INPUT_NAME,
    INSTALL_HINT,
    META_KEY,
    ONNX_FORMAT,
    ONNX_VERSION,
    OUTPUT_NAME,
    VERSION_KEY,
)

#: ONNX opset written (onnxruntime 1.14 and later run it).
OPSET = 18
#: The exported graph must give PyTorch's logits to within this on the check batch.
TOLERANCE = 1e-3


def export_onnx(bundle: Path | str, out: Path | str) -> Path:
    """Write `bundle`'s model as ONNX to `out` (atomically) with its metadata; returns `out`."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise GeoSpottrError(f"exporting to ONNX needs the onnx and onnxruntime packages; {INSTALL_HINT}") from None
    model, meta = load_bundle(bundle, "cpu")
    size = meta.image_size
    example = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes fixed at this input size
        torch.onnx.export(model, (example,), buffer, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in ((FORMAT_KEY, ONNX_FORMAT), (VERSION_KEY, str(ONNX_VERSION)), (META_KEY, meta.to_json())):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = proto.SerializeToString()
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model(example).float().numpy()
    got = session.run([OUTPUT_NAME], {INPUT_NAME: example.numpy()})[0]
    gap = float(np.abs(got - expected).max())
    if not gap <= TOLERANCE:
        raise GeoSpottrError(f"{bundle}: the ONNX export disagrees with the PyTorch model (logits differ by {gap:.2g}); "
                             "not written")
    out = Path(out)
    atomic_write_bytes(out, data)
    return out
