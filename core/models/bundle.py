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

import inspect
import io
import json
import math
import pickle
import zipfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .. import __version__
from ..catalog import validate_slug
from ..errors import GeoSpottrError
from ..fsutil import atomic_write_bytes
from . import registry

BUNDLE_FORMAT = "geospottr-bundle"
BUNDLE_VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Bounds a bundle's metadata must respect (far outside them no real model lives; inside, memory is sane).
IMAGE_SIZE_RANGE = (16, 1024)
MAX_CLASSES = 100_000
MAX_PARAMETERS = 1_000_000_000
MAX_BUNDLE_BYTES = 8 * 1024**3


class BundleError(GeoSpottrError):
    """A file that is not a usable GeoSpottr model bundle, with the reason."""


class UnknownModel(BundleError):
    """A bundle of an architecture this version does not have (not damage: likely a newer GeoSpottr)."""


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
        validate_meta(data)
        data["classes"] = [ClassInfo(**c) for c in data["classes"]]
        data["mean"] = tuple(data["mean"])
        data["std"] = tuple(data["std"])
        return cls(**data)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _meta_problem(data: Any) -> str | None:
    """What is wrong with bundle metadata `data` (parsed JSON), or None when it is usable."""
    if not isinstance(data, dict):
        return "metadata is not a JSON object"
    known = {f.name for f in fields(BundleMeta)}
    unknown = sorted(set(data) - known)
    if unknown:
        return f"unknown metadata field {unknown[0]!r}"
    missing = [k for k in ("arch", "classes") if k not in data]
    if missing:
        return f"metadata field {missing[0]!r} is missing"
    arch = data["arch"]
    if not isinstance(arch, str) or arch not in registry.names():
        raise UnknownModel(f"unknown model {str(arch)[:60]!r}: made by a newer GeoSpottr? (this one knows "
                           f"{', '.join(registry.names())})")
    classes = data["classes"]
    if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
        return f"'classes' must list 2 to {MAX_CLASSES:,} cities"
    class_keys = {f.name for f in fields(ClassInfo)}
    for c in classes:
        if not isinstance(c, dict) or set(c) != class_keys:
            return f"each class needs exactly {', '.join(sorted(class_keys))}"
        try:
            validate_slug(c["slug"])
        except GeoSpottrError as exc:
            return f"class slug: {exc}"
        if not isinstance(c["name"], str) or not isinstance(c["country"], str):
            return f"class {c['slug']}: name and country must be text"
        if not (_finite(c["lat"]) and _finite(c["lon"]) and -90 <= c["lat"] <= 90 and -180 <= c["lon"] <= 180):
            return f"class {c['slug']}: coordinates {str(c['lat'])[:20]}, {str(c['lon'])[:20]} are not a place on Earth"
    if len({c["slug"] for c in classes}) != len(classes):
        return "a class slug appears twice"
    size = data.get("image_size", 224)
    low, high = IMAGE_SIZE_RANGE
    if isinstance(size, bool) or not isinstance(size, int) or not low <= size <= high:
        return f"image_size must be a whole number from {low} to {high} (got {str(size)[:20]})"
    for name in ("mean", "std"):
        value = data.get(name, IMAGENET_MEAN)
        if not (isinstance(value, list) and len(value) == 3 and all(_finite(v) for v in value)):
            return f"{name} must be three finite numbers"
        if name == "std" and not all(v > 0 for v in value):
            return "std values must be above 0"
    kwargs = data.get("arch_kwargs", {})
    if not isinstance(kwargs, dict):
        return "arch_kwargs must be an object"
    params = inspect.signature(registry.spec(arch).build_function()).parameters
    allowed = {n for n, p in params.items() if p.kind is not p.VAR_KEYWORD} - {"num_classes", "weights"}
    open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key, value in kwargs.items():
        if key not in allowed and not open_ended:
            return f"{arch} takes no setting {str(key)[:40]!r} (it takes: {', '.join(sorted(allowed)) or 'none'})"
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, bool) or isinstance(v, str) and len(v) <= 64 or _finite(v) and abs(v) <= 1_000_000
                   for v in values) or len(values) > 64:  # switches (a probe's flip) are plain values too
            return f"arch_kwargs {key!r} has an unusable value {str(value)[:40]}"
    for name, kind in (("metrics", dict), ("versions", dict)):
        if not isinstance(data.get(name, {}), kind):
            return f"{name} must be an object"
    for name in ("run_id", "created_at"):
        if data.get(name) is not None and not isinstance(data.get(name), str):
            return f"{name} must be text"
    return None


def validate_meta(data: Any) -> None:
    """Raise `BundleError` (without the file name; the caller adds it) when metadata is unusable."""
    problem = _meta_problem(data)
    if problem:
        raise BundleError(problem)


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
    if path.stat().st_size > MAX_BUNDLE_BYTES:
        raise BundleError(f"{path}: {path.stat().st_size / 2**30:.1f} GiB is too large for a model bundle")
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
    return RawBundle(meta=meta, state_dict=state, extra=extra)


def check_weights(raw: RawBundle, path: Path | str = "model") -> None:
    """Compare the architecture's declared tensors with the state dict and look for NaN/Inf weights,
    before a real model is built: the model is built on the "meta" device (no memory), so metadata that
    asks for a 19 GB layer is refused in milliseconds. Raises `BundleError`."""
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
        if have.is_floating_point() and not bool(torch.isfinite(have).all()):
            raise BundleError(f"{path}: weight {name!r} holds NaN or infinite values (a diverged training run?); "
                              "use an earlier checkpoint")


def build_model(meta: BundleMeta) -> nn.Module:
    """An untrained model of the bundle's architecture (weights come from the state dict)."""
    return registry.build(meta.arch, len(meta.classes), weights="none", **meta.arch_kwargs)


def load_bundle(path: Path | str, device: str | torch.device = "cpu") -> tuple[nn.Module, BundleMeta]:
    """The bundle's model in eval mode on `device`, and its metadata."""
    raw = read_bundle(path)
    check_weights(raw, path)
    model = build_model(raw.meta)
    try:
        model.load_state_dict(raw.state_dict)
    except RuntimeError as exc:
        raise BundleError(f"{path}: weights do not fit architecture {raw.meta.arch!r} ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval(), raw.meta
