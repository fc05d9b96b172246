"""Every quality check, described once: its name, what the user sees, the finding kinds it owns and where
its code lives.

Like `core.models.registry`, `CHECKS` is plain data: listing checks (``geospottr clean --help``, the Find
problems dialog) imports neither torch nor a network. `load_checks` imports a check's module (``loader``
is ``"module:function"`` under `core.quality`) only when a scan runs it and returns the `Check`; a check
whose file the user did not give (`needs`) is skipped with one logged line. Adding a check is one row here
plus its module with a loader.
"""

from __future__ import annotations

import importlib
import os
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..data.project import Project
from ..errors import GeoSpottrError
from ..events import LOG, Event, EventCallback
from .frames import FrameThresholds
from .types import Check

#: Where the outlier check keeps image embeddings between scans (under the project's cache folder).
EMBEDDING_CACHE = "quality/lite0-embeddings.npz"


@dataclass
class ScanOptions:
    """Thresholds and inputs of a scan (the CLI's ``--threshold``, ``--weights``, ``--model``)."""

    frames: FrameThresholds = field(default_factory=FrameThresholds)
    hamming: int | None = None              # duplicates: max differing bits (None = the module default)
    scene_weights: Path | None = None       # Places365 ResNet checkpoint (CSAIL release)
    indoor: float | None = None             # scene: flag when P(indoor) is at least this
    street: float | None = None             # scene: flag when P(street-like scene) is below this
    outlier_z: float | None = None          # outliers: robust z-score above which an image is flagged
    model: Path | None = None               # a trained GeoSpottr bundle (or its ONNX export) for label errors
    #: How the label check gets that model: None loads it (`core.inference.engines.load_predictor`); the desktop
    #: app passes its shared `ModelService.get`, so a model it already holds is not loaded again.
    load_model: Callable[[Path], Any] | None = None
    label_confidence: float | None = None   # labels: flag when the model's other city has at least this
    statuses: tuple[str, ...] = ("pending", "accepted")
    batch_size: int = 32
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class ScanContext:
    """What a check's loader may use: the project, the options, the scan's thread pool, its listener."""

    project: Project
    options: ScanOptions
    pool: Executor
    on_event: EventCallback


@dataclass(frozen=True)
class CheckSpec:
    name: str
    #: One line for the Find problems dialog.
    title: str
    #: The finding kinds this check owns, with the heading a user sees, in display order.
    kinds: dict[str, str]
    #: ``"module:function"`` under `core.quality`: ``(ScanContext) -> Check``.
    loader: str
    #: The `ScanOptions` field naming a file the user must supply ("" when none), and the line logged
    #: when the scan skips the check for want of it.
    needs: str = ""
    skipped: str = ""
    #: Loads a network (the GUI then runs the scan in a torch worker).
    needs_torch: bool = False
    #: Its findings are a network's opinion (a scene classifier, an embedding, a trained model that may be
    #: 45% accurate), not a measurement: they are offered for review, never pre-chosen for rejection.
    judged: bool = False

    @property
    def offline(self) -> bool:
        """Runs without a file the user supplies."""
        return not self.needs

    def load(self, context: ScanContext) -> Check | None:
        """The check ready to observe samples, or None (after logging `skipped`) without its file."""
        if self.needs and getattr(context.options, self.needs) is None:
            context.on_event(Event(LOG, self.skipped))
            return None
        module, _, attr = self.loader.partition(":")
        function: Callable[[ScanContext], Check] = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
        return function(context)


#: Unreadable files are found by decoding, whichever checks run.
CORRUPT = {"corrupt": "Unreadable or truncated files"}

#: Every check, in the order they run and are listed.
CHECKS_TABLE: tuple[CheckSpec, ...] = (
    CheckSpec("frames", "Broken, blank and blurred frames",
              {"placeholder": "Placeholder frames (no imagery)", "dark": "Near-black frames",
               "bright": "Near-white frames", "blurry": "Blurred frames"}, "frames:load_check"),
    CheckSpec("duplicates", "Near-duplicates",
              {"duplicate": "Near-duplicates (best copy kept)",
               "label_conflict": "Duplicates labelled with different cities"}, "duplicates:load_check"),
    CheckSpec("scene", "Indoor / non-street (Places365 weights)", {"scene": "Indoor / non-street scenes"},
              "scene:load_check", needs="scene_weights", needs_torch=True, judged=True,
              skipped="scene check skipped: it needs Places365 ResNet weights from MIT CSAIL "
                      "(resnet18_places365.pth.tar or resnet50_places365.pth.tar; CLI: --weights PATH)"),
    CheckSpec("outliers", "Unusual for their city (slow on CPU)", {"outlier": "Unusual for their city"},
              "embedding:load_check", needs_torch=True, judged=True),
    CheckSpec("labels", "Label errors (trained model)", {"label_error": "Label contradicted by the model"},
              "label_errors:load_check", needs="model", needs_torch=True, judged=True,
              skipped="label check skipped: it needs a trained model bundle from `geospottr train` (CLI: --model FILE)"),
)
SPECS: dict[str, CheckSpec] = {s.name: s for s in CHECKS_TABLE}

#: Check names in run order; those that need no user file; every finding kind with its heading.
CHECKS = tuple(SPECS)
OFFLINE_CHECKS = tuple(s.name for s in CHECKS_TABLE if s.offline)
KINDS: dict[str, str] = {**CORRUPT, **{k: v for s in CHECKS_TABLE for k, v in s.kinds.items()}}
#: Kinds whose findings are chosen for rejection unless the user unticks them (measurements: unreadable,
#: placeholder, dark, blurred, duplicate frames); a judged check's kinds wait for the user to pick them.
PRESELECTED: frozenset[str] = frozenset({*CORRUPT, *(k for s in CHECKS_TABLE if not s.judged for k in s.kinds)})
CHECK_KINDS: dict[str, tuple[str, ...]] = {
    s.name: (*(CORRUPT if s.name == "frames" else {}), *s.kinds) for s in CHECKS_TABLE}


def parse_checks(checks: str | Iterable[str] | None) -> tuple[str, ...]:
    """A validated tuple of check names from ``"frames,duplicates"`` or a list (None = `OFFLINE_CHECKS`)."""
    if checks is None:
        return OFFLINE_CHECKS
    names = [c.strip().lower() for c in (checks.split(",") if isinstance(checks, str) else checks) if c.strip()]
    unknown = [c for c in names if c not in CHECKS]
    if unknown:
        raise GeoSpottrError(f"unknown check {unknown[0]!r}; choose from {', '.join(CHECKS)}")
    if not names:
        raise GeoSpottrError(f"no check chosen; choose from {', '.join(CHECKS)}")
    return tuple(c for c in CHECKS if c in names)


def load_checks(names: Sequence[str], context: ScanContext) -> dict[str, Check]:
    """The checks of `names` that can run, loaded once, in run order (the others logged why not)."""
    loaded = {}
    for name in names:
        check = SPECS[name].load(context)
        if check is not None:
            loaded[name] = check
    return loaded
