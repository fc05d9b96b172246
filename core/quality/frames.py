"""Per-frame checks: Street View "no imagery" placeholders, near-black, near-white and blurred frames.

All measures are taken on a greyscale copy no larger than `ANALYSIS_SIZE` square, so they do not depend
on the photo's resolution and a decoded draft (``load_image(path, draft=(256, 256))``) is enough.

Defaults were tuned on 400 real Street View frames (``../shared/data/gsv-croatia``: 640x640, sunny to
overcast, city and countryside), keeping a wide margin so that no real street photo is flagged:

- near-black: the 95th luminance percentile is below 40 (the darkest real frame had 148);
- near-white: the 5th luminance percentile is above 240 (the brightest real frame had 111; the light
  grey of a "no imagery" placeholder, about 227, must stay below it to be named a placeholder);
- placeholder: at least 85 % of the pixels lie within ±6 grey levels of the median (real frames:
  at most 33 %; the grey "Sorry, we have no imagery here" frame with its watermark and text: > 95 %);
- blurred: sharpness (the standard deviation of the Laplacian divided by the standard deviation of the
  image, so that contrast cancels out) below 0.2 (real frames: at least 0.32; a Gaussian blur of radius 3
  pixels at 640x640 gives 0.09-0.25, radius 2 gives 0.18-0.45).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
from PIL import Image

from .types import Finding, Sample

if TYPE_CHECKING:
    from .checks import ScanContext

#: Frames are measured at this size (longest side), whatever their resolution.
ANALYSIS_SIZE = 256


@dataclass(frozen=True)
class FrameThresholds:
    """Where a frame stops being a usable photo (see the module docstring for how they were chosen)."""

    dark: float = 40.0          # flag when the 95th luminance percentile is below this
    bright: float = 240.0       # flag when the 5th luminance percentile is above this
    uniform: float = 0.85       # flag as a placeholder when this fraction of pixels is near the median
    blur: float = 0.2           # flag when sharpness is below this
    uniform_tolerance: float = 6.0


@dataclass(frozen=True)
class FrameStats:
    """What the checks measure on one frame (kept in a finding's details so a user sees why)."""

    p5: float
    p95: float
    uniform_fraction: float
    sharpness: float

    def to_dict(self) -> dict[str, float]:
        return {"p5": round(self.p5, 1), "p95": round(self.p95, 1),
                "uniform_fraction": round(self.uniform_fraction, 3), "sharpness": round(self.sharpness, 3)}


def grey_array(img: Image.Image, size: int = ANALYSIS_SIZE) -> np.ndarray:
    """Luminance as float32, downscaled so the longest side is at most `size`."""
    if max(img.size) > size:
        img = img.copy()
        img.thumbnail((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img.convert("L"), dtype=np.float32)


def sharpness(grey: np.ndarray) -> float:
    """Standard deviation of the 4-neighbour Laplacian over the standard deviation of the image.

    Plain Laplacian variance also rises with contrast (a hazy but sharp frame scores like a blurred
    sunny one); dividing by the image's own spread leaves the share of fine detail.
    """
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(lap.std() / max(float(grey.std()), 1.0))


def measure(img: Image.Image) -> FrameStats:
    grey = grey_array(img)
    p5, p50, p95 = np.percentile(grey, [5, 50, 95])
    uniform = float((np.abs(grey - p50) <= FrameThresholds.uniform_tolerance).mean())
    return FrameStats(p5=float(p5), p95=float(p95), uniform_fraction=uniform, sharpness=sharpness(grey))


def looks_like_placeholder(img: Image.Image, thresholds: FrameThresholds = FrameThresholds()) -> bool:
    """True for near-uniform frames such as Google's grey "Sorry, we have no imagery here" image.

    THE placeholder rule: the download refuses such a frame (`core.acquisition.photos.accept_photo`) and
    the quality scan names one already in a project, with the same measure and the same threshold.
    Why a share and not just the standard deviation: the placeholder carries a line of text, which lifts
    its deviation above that of a truly flat frame, yet almost all of it is one grey.
    """
    return measure(img).uniform_fraction >= thresholds.uniform


def classify(stats: FrameStats, thresholds: FrameThresholds = FrameThresholds()) -> tuple[str, float, str] | None:
    """The first problem the frame has as ``(kind, score, message)``, or None for a usable frame.

    Order matters: a black frame is also uniform and blurred, and "near-black" is what a user wants to
    read. Scores grow with how far past the threshold the frame is (for sorting, 0..1).
    """
    if stats.p95 < thresholds.dark:
        return "dark", 1.0 - stats.p95 / thresholds.dark, f"near-black frame (95% of pixels darker than {stats.p95:.0f}/255)"
    if stats.p5 > thresholds.bright:
        return ("bright", (stats.p5 - thresholds.bright) / (255.0 - thresholds.bright + 1e-9),
                f"near-white frame (95% of pixels brighter than {stats.p5:.0f}/255)")
    if stats.uniform_fraction >= thresholds.uniform:
        return ("placeholder", stats.uniform_fraction,
                f"near-uniform frame ({stats.uniform_fraction:.0%} one grey level): a 'no imagery' placeholder?")
    if stats.sharpness < thresholds.blur:
        return "blurry", 1.0 - stats.sharpness / thresholds.blur, f"blurred frame (sharpness {stats.sharpness:.2f} < {thresholds.blur})"
    return None


class FramesCheck:
    """The "frames" check of a scan: names the first problem of every frame (`classify`)."""

    input_size = ANALYSIS_SIZE

    def __init__(self, thresholds: FrameThresholds) -> None:
        self.thresholds = thresholds

    def observe(self, samples: Sequence[Sample]) -> list[Finding]:
        out = []
        for s in samples:
            problem = classify(s.stats, self.thresholds)
            if problem:
                kind, score, message = problem
                out.append(Finding(s.record.id, kind, round(score, 4), message, details=s.stats.to_dict()))
        return out

    def finish(self) -> list[Finding]:
        return []


def load_check(context: ScanContext) -> FramesCheck:
    return FramesCheck(context.options.frames)
