"""The model bundle: one file that carries a trained model and everything needed to use it.

Layout (a dict saved with ``torch.save``; only tensors and plain values, so it loads with
``torch.load(weights_only=True)`` and loading never executes pickled code)::

    {"format": "geospottr-bundle", "version": 1,
     "meta": "<JSON of BundleMeta>", "state_dict": {...}, "extra": {...}}

``extra`` holds what a training run needs to resume (optimizer, scheduler, epoch, RNG) and is ignored
for prediction. Files are written atomically.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .. import __version__
from ..errors import GeoSpottrError
from ..fsutil import atomic_write_bytes
from . import registry

BUNDLE_FORMAT = "geospottr-bundle"
BUNDLE_VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BundleError(GeoSpottrError):
    """A file that is not a usable GeoSpottr model bundle, with the reason."""


@dataclass(frozen=True)
class ClassInfo:
    """One output class: a city with its coordinates (for maps and distance errors)."""

    slug: str
    name: str
    country: str
    lat: float
    lon: float


@dataclass
class BundleMeta:
    arch: str
    classes: list[ClassInfo]
    image_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    #: Fraction of the photo's height cut off at the bottom before resizing (`train --crop-bottom`).
    crop_bottom: float = 0.0
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    versions: dict[str, str] = field(default_factory=lambda: {
        "geospottr": __version__, "torch": torch.__version__})

    @property
    def class_slugs(self) -> list[str]:
        return [c.slug for c in self.classes]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "BundleMeta":
        data = json.loads(text)
        data["classes"] = [ClassInfo(**c) for c in data["classes"]]
        data["mean"] = tuple(data["mean"])
        data["std"] = tuple(data["std"])
        return cls(**data)


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


def read_bundle(path: Path | str, map_location: str | torch.device = "cpu") -> RawBundle:
    """Read and check a bundle file without building the model."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no such model file")
    with path.open("rb") as f:
        head = f.read(512)
    kind = _foreign_kind(path, head)
    if kind is not None:
        raise _not_a_bundle(path, f"it is {kind}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
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
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: bundle metadata is damaged ({exc})") from None
    return RawBundle(meta=meta, state_dict=payload["state_dict"], extra=payload.get("extra") or {})


def build_model(meta: BundleMeta) -> nn.Module:
    """An untrained model of the bundle's architecture (weights come from the state dict)."""
    return registry.build(meta.arch, len(meta.classes), weights="none", **meta.arch_kwargs)


def load_bundle(path: Path | str, device: str | torch.device = "cpu") -> tuple[nn.Module, BundleMeta]:
    """The bundle's model in eval mode on `device`, and its metadata."""
    raw = read_bundle(path)
    model = build_model(raw.meta)
    try:
        model.load_state_dict(raw.state_dict)
    except RuntimeError as exc:
        raise BundleError(f"{path}: weights do not fit architecture {raw.meta.arch!r} ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval(), raw.meta
