"""What defines a training run: `TrainConfig` (saved as ``runs/<id>/config.json``) and its defaults.

Kept apart from the loop (`trainer`) so the settings can be read, checked and written back (the CLI, the
desktop form, `learning`, a resumed run's config.json) without reading the training code they configure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from ..errors import GeoSpottrError
from ..models import registry
from ..typed import Fields, short
from . import cache as feature_cache
from .balance import CLASS_BALANCES
from .probe import HEADS

DEFAULT_LR = {"sgd": 0.01, "adamw": 1e-3}
#: Settings a resumed run may change (the rest must stay as the run started).
RESUME_OVERRIDES = ("epochs", "num_workers", "device", "patience", "max_steps", "cache_cap_gb")


@dataclass
class TrainConfig:
    """Everything that defines a run (saved as ``runs/<id>/config.json``)."""

    arch: str = registry.DEFAULT_ARCH
    epochs: int = 10
    batch_size: int = 32
    image_size: int | None = None  # None: the model's default
    lr: float | None = None  # None: 0.01 for SGD, 1e-3 for AdamW
    optimizer: str = "sgd"  # sgd | adamw
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # cosine | step | constant (after warmup)
    warmup_epochs: float = 1.0
    step_epochs: int = 10  # step schedule: multiply the lr by step_gamma every step_epochs
    step_gamma: float = 0.1
    label_smoothing: float = 0.0
    geo_smoothing: bool = False
    geo_tau_km: float | None = None  # None: derived from the inter-city distances (see losses.py)
    class_balance: str = "weighted"  # none | weighted (loss) | sampler (balanced draws); see balance.py
    head: str = "auto"  # auto | probe | finetune: train the arch, or its linear probe (see probe.trained_arch)
    refit: bool = True  # a probe: refit on train + val once val is measured (fine-tuning keeps val for early stopping)
    weights: str = "imagenet"  # imagenet | none | path to a weights file
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: bool = True  # mixed precision (CUDA only)
    augment: bool = True  # street-scene augmentation of training images (flip-only with cached features)
    crop_bottom: float = 0.0  # cut this fraction off the bottom of every photo (car, watermark); kept in the bundle
    cache_features: bool = False
    cache_cap_gb: float = feature_cache.DEFAULT_CAP_GB
    num_workers: int = 2
    patience: int = 5  # epochs without a val-loss improvement before stopping early; 0 = never
    seed: int = 0
    max_steps: int | None = None  # cap on iterations per epoch (quick trials)
    time_budget: float | None = None  # seconds: train the most accurate recipe predicted to fit (training.budget)
    photo_share: float = 1.0  # of the train and val photos used (a budget nothing fits lowers it; data.subsample)
    arch_kwargs: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.optimizer not in DEFAULT_LR:
            raise GeoSpottrError(f"--optimizer must be one of {', '.join(DEFAULT_LR)}")
        if self.schedule not in ("cosine", "step", "constant"):
            raise GeoSpottrError("schedule must be cosine, step or constant")
        if self.time_budget is not None and self.time_budget <= 0:
            raise GeoSpottrError("--time-budget must be more than nothing (e.g. 30m)")
        if not 0 < self.photo_share <= 1:
            raise GeoSpottrError("photo_share must be above 0 and at most 1 (a share of the train and val photos)")
        if self.epochs < 1 or self.batch_size < 1:
            raise GeoSpottrError("epochs and batch size must be at least 1")
        if self.image_size is not None and self.image_size < 16:
            raise GeoSpottrError("--image-size must be at least 16")
        if not 0 <= self.label_smoothing < 1:
            raise GeoSpottrError("label smoothing must be in [0, 1)")
        if self.geo_tau_km is not None and self.geo_tau_km <= 0:
            raise GeoSpottrError("--geo-tau-km must be positive")
        if not 0 <= self.crop_bottom <= 0.5:
            raise GeoSpottrError("--crop-bottom must be between 0 and 0.5 (a fraction of the photo's height)")
        if self.class_balance not in CLASS_BALANCES:
            raise GeoSpottrError(f"--class-balance must be one of {', '.join(CLASS_BALANCES)}")
        if self.head not in HEADS:
            raise GeoSpottrError(f"--head must be one of {', '.join(HEADS)}")
        registry.spec(self.arch)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Fields, source: str = "config") -> "TrainConfig":
        """The config `data` (a run's config.json) describes, every value checked against its field's type:
        a damaged file is one `GeoSpottrError` naming `source` and the key, never a TypeError later."""
        typed = data if isinstance(data, Fields) else Fields(data, source)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in typed.data or typed.raw(f.name) is None:
                continue
            kind = str(f.type).replace(" ", "")
            if kind in ("int", "int|None"):
                values[f.name] = typed.int(f.name, lo=0, hi=2**31)
            elif kind in ("float", "float|None"):
                values[f.name] = typed.float(f.name)
            elif kind == "bool":
                values[f.name] = typed.bool(f.name)
            elif kind == "str":
                values[f.name] = typed.str(f.name)
            elif kind.startswith("dict"):
                obj = typed.raw(f.name)
                if not isinstance(obj, dict):
                    raise GeoSpottrError(f"{typed.source}: {f.name} must be an object, not {short(obj)}")
                values[f.name] = obj
        return cls(**values)
