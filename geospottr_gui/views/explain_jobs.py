"""Worker jobs for heat maps (Predict's Explain toggle, Evaluate's heat maps and shortcut check), the one
way a heat map becomes a QImage, and the opacity slider both use. Torch is reached only inside the jobs,
through `core`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QSlider

from core.errors import GeoSpottrError
from core.events import Control, Event, EventCallback, Kind
from core.heatmaps import Explanation, overlay

from .photo import rgb_qimage

if TYPE_CHECKING:
    from core.prediction import Predictor
    from core.project import Project
    from core.shortcuts import ShortcutReport

#: Heat maps travel to the UI thread at most this size: redrawing one at another opacity stays quick.
DISPLAY_SIDE = 900


def explain_job(predictor: Predictor, requests: Sequence[tuple[Any, str | None]], *, on_event: EventCallback,
                control: Control, max_side: int = DISPLAY_SIDE) -> int:
    """Explain each ``(source, city)`` (city None: the top guess) and announce each with a `Kind.RESULT`
    event: ``{"index", "explanation"}`` or ``{"index", "error"}`` for a photo that cannot be explained."""
    for index, (source, city) in enumerate(requests):
        control.checkpoint()
        try:
            data: dict[str, Any] = {"index": index,
                                    "explanation": predictor.explain(source, city=city).shrunk(max_side)}
        except GeoSpottrError as exc:  # ImageError included: an unreadable photo, named in one line
            data = {"index": index, "error": str(exc)}
        on_event(Event(Kind.RESULT, done=index + 1, total=len(requests), scope="explain", data=data))
    return len(requests)


def load_model_job(path: str, *, on_event: EventCallback, control: Control) -> Predictor:
    """Load a bundle for heat maps (CPU or the one GPU, `core.devices`)."""
    from core.prediction import Predictor

    return Predictor.load(path, device="auto")


def shortcuts_job(predictor: Predictor, project: Project, split: str, *, on_event: EventCallback,
                  control: Control) -> ShortcutReport:
    """`core.shortcuts.check_shortcuts` over the split's photos."""
    from core.shortcuts import check_shortcuts, split_sources

    return check_shortcuts(predictor, split_sources(project, split), split=split, on_event=on_event, control=control)


def overlay_qimage(explanation: Explanation, opacity: float) -> QImage:
    """The photo with its heat map at `opacity` (0..1), as a QImage that owns its pixels."""
    drawn = overlay(explanation.image, explanation.heatmap, opacity)
    return rgb_qimage(drawn.tobytes("raw", "RGB"), drawn.width, drawn.height)


def opacity_slider(on_change: Callable[[], None]) -> QSlider:
    """0-100 % heat map opacity (60 to start); moving it redraws from the kept map, never recomputes."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setValue(60)
    slider.setMaximumWidth(150)
    slider.setToolTip("Heat map opacity")
    slider.valueChanged.connect(on_change)
    return slider
