"""Does the model cheat? Share of its evidence in the places where Street View puts non-scene artefacts.

A model trained on Street View frames can learn the capture car at the bottom of the frame, the
"(c) Google" watermark in the bottom corners, or a frame border, instead of the city. Over a split we
take each photo's Grad-CAM map of its top guess (`core.inference.explain.explain_batch`, normalised to total 1),
and for each artefact region compare the mean share of the evidence that falls inside it with the
region's share of the image area the model sees. A region holding at least `WARN_LIFT` times its area
share and at least `WARN_MIN_SHARE` of all evidence gets a plain-words warning, e.g. "38% of the
evidence comes from the bottom 12% of the frame: the car or the watermark; consider cropping: train
--crop-bottom 0.12". The thresholds are deliberately loose: a scene model spreads its evidence over the
street, so a region four times over-weighted is rare without a shortcut (see README figures).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import GeoSpottrError
from ..events import DONE, PROGRESS, Control, Event, EventCallback, ignore_events
from ..fsutil import atomic_write_text
from ..imaging import ImageError

if TYPE_CHECKING:
    from ..data.project import Project
    from ..inference.prediction import Predictor

#: Height fraction of the bottom strip (car, watermark), and the crop suggested when it is leaned on.
BOTTOM_STRIP = 0.12
#: Each bottom corner box: a quarter of the width, the strip's height ("(c) Google" text lives there).
CORNER_WIDTH = 0.25
#: Width of the frame checked for borders, as a fraction of each side.
BORDER = 0.04
WARN_LIFT = 2.0
WARN_MIN_SHARE = 0.2
SHORTCUTS_FILE = "shortcuts.json"
CROP_HINT = f"consider cropping: train --crop-bottom {BOTTOM_STRIP:g}"


def _bottom(h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    mask[h - max(1, round(h * BOTTOM_STRIP)):, :] = True
    return mask


def _corners(h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    rows, cols = max(1, round(h * BOTTOM_STRIP)), max(1, round(w * CORNER_WIDTH))
    mask[h - rows:, :cols] = True
    mask[h - rows:, w - cols:] = True
    return mask


def _border(h: int, w: int) -> np.ndarray:
    """The frame's top, left and right bands above the bottom strip (which has its own region)."""
    mask = np.zeros((h, w), dtype=bool)
    dy, dx = max(1, round(h * BORDER)), max(1, round(w * BORDER))
    above = h - max(1, round(h * BOTTOM_STRIP))
    mask[:dy, :] = True
    mask[:above, :dx] = True
    mask[:above, w - dx:] = True
    return mask


@dataclass(frozen=True)
class Region:
    """An artefact region: its mask over a frame, how a warning names it, what shows there, what to do."""

    key: str
    where: str
    what: str
    advice: str
    mask: Callable[[int, int], np.ndarray]


REGIONS = (
    Region("bottom", f"the bottom {BOTTOM_STRIP:.0%} of the frame", "the car or the watermark", CROP_HINT, _bottom),
    Region("corners", "the bottom corners", 'where Street View prints "(c) Google"', CROP_HINT, _corners),
    Region("border", f"the {BORDER:.0%} border above it", "a frame or uniform border around the photos",
           "consider cropping the border off the photos before importing them", _border),
)


@dataclass(frozen=True)
class RegionShare:
    """One region over a split: its share of the seen area, of the evidence (mean over photos), the
    share of photos whose strongest spot lies in it, and whether that is a warning."""

    key: str
    where: str
    area_share: float
    evidence_share: float
    peak_share: float
    warn: bool

    @property
    def lift(self) -> float:
        return self.evidence_share / self.area_share if self.area_share else 0.0


@dataclass
class ShortcutReport:
    model: str
    split: str
    images: int                      # photos with a usable map
    regions: list[RegionShare]
    warnings: list[str]
    no_evidence: int = 0             # photos whose map was empty (nothing to share out)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "split": self.split, "images": self.images, "no_evidence": self.no_evidence,
                "regions": [{**asdict(r), "lift": round(r.lift, 3)} for r in self.regions],
                "warnings": self.warnings, "failures": [{"path": p, "reason": r} for p, r in self.failures]}

    def format(self) -> str:
        """The table and the warnings as terminal text."""
        lines = [f"shortcut check over {self.images} {self.split} photos (heat maps of each photo's top guess)",
                 f"  {'region':<34}{'area':>7}{'evidence':>10}{'x area':>8}{'peaks':>7}"]
        for r in self.regions:
            lines.append(f"  {r.where:<34}{r.area_share:>7.0%}{r.evidence_share:>10.0%}{r.lift:>8.1f}"
                         f"{r.peak_share:>7.0%}" + ("  !" if r.warn else ""))
        quiet = "no sign of a shortcut: the evidence is not concentrated in the artefact regions"
        lines += [f"warning: {w}" for w in self.warnings] or [quiet]
        return "\n".join(lines)


def warning_text(region: Region, evidence: float) -> str:
    return f"{evidence:.0%} of the evidence comes from {region.where}: {region.what}; {region.advice}"


class _Tally:
    """Running sums of per-photo region shares (maps are read once and dropped: a split can be large)."""

    def __init__(self) -> None:
        self.evidence = np.zeros(len(REGIONS))
        self.area = np.zeros(len(REGIONS))
        self.peaks = np.zeros(len(REGIONS))
        self.count = 0
        self.empty = 0

    def add(self, heat: np.ndarray, box: tuple[int, int, int, int]) -> None:
        total = float(heat.sum())
        if total <= 0:
            self.empty += 1
            return
        h, w = heat.shape
        seen = np.zeros((h, w), dtype=bool)
        seen[box[1]:box[3], box[0]:box[2]] = True
        peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
        for k, region in enumerate(REGIONS):
            mask = region.mask(h, w)
            self.evidence[k] += float(heat[mask].sum()) / total
            self.area[k] += float((mask & seen).sum()) / float(seen.sum())
            self.peaks[k] += bool(mask[peak])
        self.count += 1

    def regions(self) -> list[RegionShare]:
        n = max(1, self.count)
        out = []
        for k, region in enumerate(REGIONS):
            evidence, area = self.evidence[k] / n, self.area[k] / n
            warn = bool(self.count > 0 and evidence >= WARN_MIN_SHARE and evidence >= WARN_LIFT * area)
            out.append(RegionShare(region.key, region.where, float(area), float(evidence), float(self.peaks[k] / n), warn))
        return out


def check_shortcuts(predictor: Predictor, sources: Sequence[str | Path], split: str = "",
                    batch_size: int = 16, on_event: EventCallback = ignore_events,
                    control: Control | None = None) -> ShortcutReport:
    """Measure the evidence share of each artefact region over `sources` (photos; unreadable ones are
    listed in `failures`). Emits progress events (scope ``"shortcuts"``)."""
    from ..inference.explain import explain_batch
    from ..training.transforms import input_box

    control = control or Control()
    tally, failures = _Tally(), []
    pending: list = []

    def flush() -> None:
        maps, _ = explain_batch(predictor, pending)
        for img, heat in zip(pending, maps):
            tally.add(heat, input_box(img.width, img.height, predictor.meta.crop_bottom))
        pending.clear()

    for i, path in enumerate(sources):
        control.checkpoint()
        try:
            pending.append(predictor.open(path, i))
        except ImageError as exc:
            failures.append((str(path), str(exc)))
        if len(pending) >= batch_size:
            flush()
            on_event(Event(PROGRESS, done=i + 1, total=len(sources), scope="shortcuts"))
    if pending:
        flush()
    on_event(Event(DONE, scope="shortcuts"))
    if tally.count == 0 and tally.empty == 0:
        raise GeoSpottrError(f"none of the {len(sources)} photos could be read")
    regions = tally.regions()
    warnings = [warning_text(REGIONS[k], r.evidence_share) for k, r in enumerate(regions) if r.warn]
    return ShortcutReport(model=predictor.source, split=split, images=tally.count, regions=regions,
                          warnings=warnings, no_evidence=tally.empty, failures=failures)


def split_sources(project: Project, split: str) -> list[Path]:
    """The labelled, non-rejected photos of `split` (what `evaluate` scores)."""
    records = [r for r in project.images(split=split, status=("pending", "accepted")) if r.city_slug]
    if not records:
        raise GeoSpottrError(f"no {split} images; run `geospottr split` or import some")
    return [project.image_path(r) for r in records]


def write_shortcuts(report: ShortcutReport, folder: Path | str, prefix: str = "") -> Path:
    path = Path(folder) / f"{prefix}{SHORTCUTS_FILE}"
    atomic_write_text(path, json.dumps(report.to_dict(), indent=1))
    return path
