"""A saliency heat map as a value, and how it is drawn over its photo (torch-free: Pillow and numpy).

`core.inference.explain` computes an `Explanation` (it needs torch); this module holds the result and draws it, so
the CLI writes overlay PNGs and the desktop app redraws an overlay at another opacity on the UI thread
without loading torch. The colour ramp is dark blue -> cyan -> yellow -> red; weak evidence is left
see-through so the photo stays readable under the map.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .results import CityScore


@dataclass(frozen=True, eq=False)
class Explanation:
    """A heat map of the evidence for `city` (against `versus` when given) in one photo.

    `heatmap` is ``(height, width)`` float32 at the photo's size, >= 0, its maximum 1 (all zero when the
    model found no evidence for the city); `box` is the photo rectangle the model saw.
    """

    source: str
    image: Image.Image
    heatmap: np.ndarray
    city: CityScore
    versus: CityScore | None
    method: str
    box: tuple[int, int, int, int]

    @property
    def title(self) -> str:
        """One line for captions: the city, its probability, and what the map shows."""
        what = f"why {self.city.label} rather than {self.versus.label}" if self.versus else f"evidence for {self.city.label}"
        return f"{self.city.label} {self.city.probability:.0%} - {what} ({self.method})"

    def shrunk(self, max_side: int) -> Explanation:
        """The same explanation with photo and map at most `max_side` pixels (for display; the box scales)."""
        scale = max_side / max(self.image.size)
        if scale >= 1:
            return self
        size = (max(1, round(self.image.width * scale)), max(1, round(self.image.height * scale)))
        return replace(self, image=self.image.resize(size, Image.Resampling.BILINEAR),
                       heatmap=_resize_map(self.heatmap, size),
                       box=tuple(round(v * scale) for v in self.box))  # type: ignore[arg-type]


def _resize_map(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(np.asarray(heatmap, dtype=np.float32)).resize(size, Image.Resampling.BILINEAR))


def _colormap() -> np.ndarray:
    """A 256-entry RGB ramp, dark blue -> cyan -> yellow -> red (like "turbo"): readable on photos."""
    stops = np.array([[48, 18, 59], [40, 150, 240], [60, 230, 140], [250, 220, 40], [240, 90, 20], [122, 4, 3]], float)
    x = np.linspace(0, len(stops) - 1, 256)
    lo = np.floor(x).astype(int).clip(0, len(stops) - 2)
    frac = (x - lo)[:, None]
    return (stops[lo] * (1 - frac) + stops[lo + 1] * frac).astype(np.uint8)


_COLORS = _colormap()


def overlay(image: Image.Image, heatmap: np.ndarray, opacity: float = 0.5) -> Image.Image:
    """`image` with the heat map laid over it: colour by strength, and weak evidence left see-through so
    the photo stays readable. `opacity` (0..1) scales the strongest spots' cover."""
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.shape != (image.height, image.width):
        heat = _resize_map(heat, image.size)
    heat = np.clip(heat, 0, 1)
    colours = _COLORS[(heat * 255).astype(np.uint8)].astype(np.float32)
    alpha = (np.clip(opacity, 0, 1) * np.sqrt(heat))[..., None]
    photo = np.asarray(image.convert("RGB"), dtype=np.float32)
    return Image.fromarray((photo * (1 - alpha) + colours * alpha).round().astype(np.uint8), "RGB")


def explanation_png(explanation: Explanation, opacity: float = 0.5, max_side: int = 1024) -> bytes:
    """PNG bytes: the photo (at most `max_side` px) with its heat map and a caption bar below it."""
    small = explanation.shrunk(max_side)
    drawn = overlay(small.image, small.heatmap, opacity)
    font = ImageFont.load_default(size=max(12, drawn.width // 40))
    lines = _wrap(explanation.title, font, drawn.width - 16)
    line_h = int(font.size * 1.35)
    canvas = Image.new("RGB", (drawn.width, drawn.height + line_h * len(lines) + 12), (255, 255, 255))
    canvas.paste(drawn, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, line in enumerate(lines):
        draw.text((8, drawn.height + 6 + k * line_h), line, fill=(20, 20, 20), font=font)
    buf = io.BytesIO()
    canvas.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _wrap(text: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]
