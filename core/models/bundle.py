"""The model bundle: one file that carries a trained model and everything needed to use it.

Layout (a dict saved with ``torch.save``; only tensors and plain values, so it loads with
``torch.load(weights_only=True)`` and loading never executes pickled code)::

    {"format": "geospottr-bundle", "version": 1,
     "meta": "<JSON of BundleMeta>", "state_dict": {...}, "extra": {...}}

``extra`` holds what a training run needs to resume (optimizer, scheduler, epoch, RNG) and is ignored
for prediction. Files are written atomically.

A bundle is a file from anywhere, so nothing in it is trusted before it is checked (`validate_meta`,
`check_weights`): every metadata field for type, range and name, the architecture's declared tensor
shapes against the state dict (built on PyTorch's "meta" device, which allocates nothing) and its size,
and every weight for NaN/Inf, all before a real model is built.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..errors import GeoSpottrError
from ..fsutil import atomic_write_bytes
from . import registry
from .meta import (  # noqa: F401 - re-exported: the bundle's metadata types live torch-free in .meta
    IMAGE_SIZE_RANGE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MAX_CLASSES,
    BundleError,
    BundleMeta,
    ClassInfo,
    UnknownModel,
    validate_meta,
)

BUNDLE_FORMAT = "geospottr-bundle"
BUNDLE_VERSION = 1
MAX_PARAMETERS = 1_000_000_000
MAX_BUNDLE_BYTES = 8 * 1024**3
#: The pickled part of a bundle (metadata, key names, resume state's plain values) is unpickled in memory;
#: a real one is a few hundred KB, so anything near this is no bundle of ours.
MAX_PICKLE_BYTES = 64 * 1024**2
#: Entries in a bundle's archive: one per tensor plus a few (a real one has a few thousand).
MAX_ENTRIES = 200_000


@dataclass
class RawBundle:
    meta: BundleMeta
    state_dict: dict[str, torch.Tensor]
    extra: dict[str, Any]


def save_bundle(path: Path | str, model: nn.Module, meta: BundleMeta, extra: Mapping[str, Any] | None = None) -> Path:
    """Write `model`'s weights and `meta` (and optional resume state) to `path` atomically."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in _unwrap(model).state_dict().items()}
    payload = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "meta": meta.to_json(),
               "state_dict": state, "extra": dict(extra or {})}
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DDP / torch.compile wrappers, so keys have no prefixes."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


#: Said after every "not a bundle" error, so a user knows which file to give instead.
WHAT_A_BUNDLE_IS = "a model bundle is the best.pt or last.pt that `geospottr train` writes into runs/<run id>/"

#: First bytes of files people pick by mistake, and what to call them.
_MAGIC = ((b"SQLite format 3\x00", "an SQLite database"), (b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG", "a PNG image"),
          (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip file"))


def _foreign_kind(path: Path, head: bytes) -> str | None:
    """What a file is, from its first bytes, when it cannot be a PyTorch checkpoint; None when it may be one
    (torch's ZIP format, or a pickle: its legacy format). Why: torch.load's own error for a text file is a
    meaningless number (a "magic number" it read from the text)."""
    if not head:
        return "an empty file"
    if head[:1] == b"\x80":
        return None
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return None  # damaged: torch.load says so
        return None if any(n.endswith("/data.pkl") for n in names) else "a ZIP archive, not a PyTorch file"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "a text file"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:  # a character cut at the end of the sample
                return "a text file"
    return "not a PyTorch file"


def _not_a_bundle(path: Path, kind: str) -> BundleError:
    return BundleError(f"{path}: not a GeoSpottr model bundle: {kind}; {WHAT_A_BUNDLE_IS}")


def _check_archive(path: Path, size: int) -> None:
    """Refuse, from the ZIP's directory alone and before anything is decompressed or unpickled, an archive
    whose entries could take more memory than the file is big: PyTorch stores every entry uncompressed, so
    a compressed entry (a 3 GiB tensor deflated into a few MB, say) or entries whose declared sizes
    exceed the file are no bundle of ours. Raises `BundleError`."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # damaged: torch.load says so, in one line
    if len(entries) > MAX_ENTRIES:
        raise BundleError(f"{path}: {len(entries):,} entries is too many for a model bundle; refused")
    total = 0
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED:
            raise BundleError(f"{path}: entry {entry.filename[:80]!r} is compressed, which PyTorch never writes "
                              f"(a crafted file?); refused; {WHAT_A_BUNDLE_IS}")
        if entry.file_size != entry.compress_size or entry.header_offset + entry.file_size > size:
            raise BundleError(f"{path}: entry {entry.filename[:80]!r} claims more bytes than the file holds; refused")
        if entry.filename.endswith("/data.pkl") and entry.file_size > MAX_PICKLE_BYTES:
            raise BundleError(f"{path}: its pickled part is {entry.file_size / 2**20:.0f} MiB "
                              f"(limit {MAX_PICKLE_BYTES // 2**20} MiB); refused")
        total += entry.file_size
    if total > size:
        raise BundleError(f"{path}: its entries claim {total / 2**30:.1f} GiB, more than the file; refused")


def _materialise(value: Any) -> Any:
    """`value` with every tensor copied out of the file mapping (nested dicts, lists and tuples too), so the
    file may be replaced or deleted afterwards: Windows refuses while a mapping is open. Elsewhere a
    mapping survives the file's replacement (training replaces best.pt atomically, never in place), so the
    tensors stay mapped and only the pages used are ever read."""
    if os.name != "nt":
        return value
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_materialise(v) for v in value)
    return value


def read_bundle(path: Path | str, map_location: str | torch.device = "cpu", with_extra: bool = True) -> RawBundle:
    """Read and check a bundle file without building the model.

    The archive is checked entry by entry first (`_check_archive`), then memory-mapped: only the tensors
    used are ever read, so `with_extra=False` (prediction) never touches the resume state (optimizer
    moments: as large again as the weights) and returns an empty `extra`."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no such model file")
    with path.open("rb") as f:
        head = f.read(512)
    kind = _foreign_kind(path, head)
    if kind is not None:
        raise _not_a_bundle(path, f"it is {kind}")
    size = path.stat().st_size
    if size > MAX_BUNDLE_BYTES:
        raise BundleError(f"{path}: {size / 2**30:.1f} GiB is too large for a model bundle")
    mapped = head.startswith(b"PK\x03\x04")  # the ZIP format; the legacy pickle format cannot be mapped
    if mapped:
        _check_archive(path, size)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True, mmap=mapped)
    except Exception as exc:  # noqa: BLE001 - a damaged file makes torch.load raise almost any type (KeyError, ...)
        text = str(exc)
        if "weights_only" in text or isinstance(exc, pickle.UnpicklingError):
            raise _not_a_bundle(path, "it holds Python objects other than tensors (a whole pickled model?), "
                                      "which are unsafe to load") from None
        raise BundleError(f"{path}: a damaged or truncated model file (PyTorch cannot read it); "
                          f"{WHAT_A_BUNDLE_IS}") from None
    if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
        raise _not_a_bundle(path, "it is a PyTorch file of another program (a plain checkpoint or state dict?)")
    version = payload.get("version")
    if not isinstance(version, int) or version > BUNDLE_VERSION:
        raise BundleError(f"{path}: made by a newer GeoSpottr (bundle version {version}); upgrade GeoSpottr to use it")
    try:
        meta = BundleMeta.from_json(payload["meta"])
    except UnknownModel as exc:
        raise BundleError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, GeoSpottrError) as exc:
        raise BundleError(f"{path}: bundle metadata is damaged ({exc})") from None
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise BundleError(f"{path}: bundle weights are damaged (the state dict is not a mapping of tensors)")
    extra = payload.get("extra") or {}
    if not isinstance(extra, dict):
        raise BundleError(f"{path}: bundle resume state is damaged")
    return RawBundle(meta=meta, state_dict=_materialise(state), extra=_materialise(extra) if with_extra else {})


def check_weights(raw: RawBundle, path: Path | str = "model") -> nn.Module:
    """Compare the architecture's declared tensors with the state dict and look for NaN/Inf weights,
    before a real model is built: the model is built on the "meta" device (no memory), so metadata that
    asks for a 19 GB layer is refused in milliseconds. Returns that skeleton (`load_bundle` fills it with
    the weights). Raises `BundleError`."""
    try:
        with torch.device("meta"):
            skeleton = build_model(raw.meta)
    except GeoSpottrError as exc:
        raise BundleError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a builder refusing values the metadata check let through
        raise BundleError(f"{path}: architecture {raw.meta.arch!r} cannot be built with these settings ({exc})") from None
    expected = skeleton.state_dict()
    total = sum(t.numel() for t in expected.values())
    if total > MAX_PARAMETERS:
        raise BundleError(f"{path}: declares a model of {total:,} parameters (limit {MAX_PARAMETERS:,}); refused")
    missing = sorted(set(expected) - set(raw.state_dict))
    unexpected = sorted(set(raw.state_dict) - set(expected))
    if missing or unexpected:
        name = (missing or unexpected)[0]
        raise BundleError(f"{path}: weights do not fit architecture {raw.meta.arch!r} "
                          f"({'missing' if missing else 'unexpected'} tensor {name!r})")
    for name, tensor in expected.items():
        have = raw.state_dict[name]
        if tuple(have.shape) != tuple(tensor.shape):
            raise BundleError(f"{path}: weights do not fit architecture {raw.meta.arch!r} ({name!r} is "
                              f"{tuple(have.shape)}, the architecture needs {tuple(tensor.shape)})")
    floats = {n: t for n, t in raw.state_dict.items() if t.is_floating_point() and t.numel()}
    # Every weight's norm in one fused call (NaN or Inf anywhere makes its tensor's norm so): a thousand
    # separate isfinite checks cost a fifth of a second of every load. The name is looked up only on failure.
    norms = torch._foreach_norm([t.float() for t in floats.values()]) if floats else []
    if norms and not bool(torch.stack(norms).isfinite().all()):
        name = next(n for n, t in floats.items() if not bool(torch.isfinite(t).all()))
        raise BundleError(f"{path}: weight {name!r} holds NaN or infinite values (a diverged training run?); "
                          "use an earlier checkpoint")
    return skeleton


def build_model(meta: BundleMeta) -> nn.Module:
    """An untrained model of the bundle's architecture (weights come from the state dict)."""
    return registry.build(meta.arch, len(meta.classes), weights="none", **meta.arch_kwargs)


def load_bundle(path: Path | str, device: str | torch.device = "cpu") -> tuple[nn.Module, BundleMeta]:
    """The bundle's model in eval mode on `device`, and its metadata.

    Fast: the model `check_weights` built on the meta device takes the file's tensors as they are
    (``load_state_dict(assign=True)``): no random initialisation that is thrown away, no second copy; then
    batch norms are folded into their convolutions (`_fuse_conv_bn`): the model is for inference only."""
    raw = read_bundle(path, with_extra=False)
    model = check_weights(raw, path)
    try:
        model.load_state_dict(raw.state_dict, assign=True)
    except RuntimeError as exc:
        raise BundleError(f"{path}: weights do not fit architecture {raw.meta.arch!r} ({str(exc).splitlines()[0]})") from None
    unset = [name for name, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if unset:  # a tensor the architecture needs but the state dict cannot carry (a non-persistent buffer)
        raise BundleError(f"{path}: architecture {raw.meta.arch!r} has no weights for {unset[0]!r}")
    _fuse_conv_bn(model.eval())
    for module in model.modules():  # assign=True took the file's layout; a module that runs in another gets it back
        if isinstance(getattr(module, "memory_format", None), torch.memory_format):
            module.to(memory_format=module.memory_format)
    return model.to(device).eval(), raw.meta


def _fuse_conv_bn(model: nn.Module) -> None:
    """Fold every batch norm that directly follows a convolution in a Sequential into that convolution
    (in place): the same function of the input (to float rounding, 1e-7), one pass over memory less per
    layer: about 30% of an EfficientNet-Lite forward on CPU. Only for inference: `load_bundle`'s model is
    never trained (resuming a run reads the raw bundle), and a folded batch norm has no statistics left."""
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    for sequential in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(sequential._modules)
        for conv_name, bn_name in zip(names, names[1:]):
            conv, bn = sequential._modules[conv_name], sequential._modules[bn_name]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                conv.weight, conv.bias = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var,
                                                              bn.eps, bn.weight, bn.bias)
                sequential._modules[bn_name] = nn.Identity()
