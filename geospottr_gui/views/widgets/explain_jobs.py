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
from core.events import PROGRESS, Control, Event, EventCallback, Kind
from core.inference.heatmaps import Explanation, overlay

from .photo import rgb_qimage

if TYPE_CHECKING:
    from core.data.project import Project
    from core.evaluation.shortcuts import ShortcutReport
    from core.inference.prediction import Predictor

    from ...model_service import ModelService

#: Heat maps travel to the UI thread at most this size: redrawing one at another opacity stays quick.
DISPLAY_SIDE = 900


def explain_job(predictor: Predictor, requests: Sequence[tuple[Any, str | None]], *, on_event: EventCallback,
                control: Control, max_side: int = DISPLAY_SIDE) -> int:
    """Explain each ``(source, city)`` (city None: the top guess) and announce each with a `Kind.RESULT`
    event: ``{"index", "explanation"}`` or ``{"index", "error"}`` for a photo that cannot be explained.
    A slow occlusion map's progress comes as `PROGRESS` events whose message says the time left."""
    for index, (source, city) in enumerate(requests):
        control.checkpoint()

        def slow(event: Event, index: int = index) -> None:
            on_event(Event(PROGRESS, event.message, done=index, total=len(requests), scope="explain"))
            control.checkpoint()

        try:
            data: dict[str, Any] = {"index": index,
                                    "explanation": predictor.explain(source, city=city, on_event=slow).shrunk(max_side)}
        except GeoSpottrError as exc:  # ImageError included: an unreadable photo, named in one line
            data = {"index": index, "error": str(exc)}
        on_event(Event(Kind.RESULT, done=index + 1, total=len(requests), scope="explain", data=data))
    return len(requests)


def load_model_job(models: ModelService, path: str, *, on_event: EventCallback, control: Control) -> Predictor:
    """The app's shared model for heat maps (`ModelService`: loaded once, CPU or the one GPU)."""
    return models.get(path)


def shortcuts_job(predictor: Predictor, project: Project, split: str, *, on_event: EventCallback,
                  control: Control) -> ShortcutReport:
    """`core.evaluation.shortcuts.check_shortcuts` over the split's photos."""
    from core.evaluation.shortcuts import check_shortcuts, split_sources

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
