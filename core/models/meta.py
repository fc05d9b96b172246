"""A model bundle's metadata (`BundleMeta`): what a model is, which cities it knows, how its input is made.

Torch-free, so the ONNX Runtime engine (`core.inference.onnx_engine`) reads the same metadata, with the same checks,
as the PyTorch bundle (`core.models.bundle`, which re-exports everything here). Nothing in a file is
trusted before `validate_meta` has checked every field for type, range and name.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from .. import __version__
from ..data.catalog import validate_slug
from ..errors import GeoSpottrError
from ..names import city_label
from ..typed import parse_json
from . import registry


def _torch_version() -> str:
    """The installed torch's version without importing it (the ONNX engine runs without torch)."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Bounds a bundle's metadata must respect (far outside them no real model lives; inside, memory is sane).
IMAGE_SIZE_RANGE = (16, 1024)
MAX_CLASSES = 100_000


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

    @property
    def label(self) -> str:
        """"Zagreb, HR" (`core.names.city_label`)."""
        return city_label(self.name, self.country)


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
        "geospottr": __version__, "torch": _torch_version()})

    @property
    def class_slugs(self) -> list[str]:
        return [c.slug for c in self.classes]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str, check_settings: bool = True) -> "BundleMeta":
        """Parse and check metadata; `check_settings` False skips `arch_kwargs` against the architecture's
        builder (which imports torch: an ONNX file carries its graph instead)."""
        data = parse_json(text, "bundle metadata")
        validate_meta(data, check_settings)
        data["classes"] = [ClassInfo(**c) for c in data["classes"]]
        data["mean"] = tuple(data["mean"])
        data["std"] = tuple(data["std"])
        return cls(**data)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _meta_problem(data: Any, check_settings: bool = True) -> str | None:
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
    allowed: set[str] = set()
    open_ended = not check_settings
    if check_settings:
        params = inspect.signature(registry.spec(arch).build_function()).parameters
        allowed = {n for n, p in params.items() if p.kind is not p.VAR_KEYWORD} - {"num_classes", "weights"}
        open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key, value in kwargs.items():
        if key not in allowed and not open_ended:
            return f"{arch} takes no setting {str(key)[:40]!r} (it takes: {', '.join(sorted(allowed)) or 'none'})"
        # A dict of plain values is one too (a CLIP tower's config: `clip_probe`), keyed by short names.
        if isinstance(value, dict) and all(isinstance(k, str) and len(k) <= 64 for k in value):
            value = list(value.values())
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


def validate_meta(data: Any, check_settings: bool = True) -> None:
    """Raise `BundleError` (without the file name; the caller adds it) when metadata is unusable."""
    problem = _meta_problem(data, check_settings)
    if problem:
        raise BundleError(problem)
