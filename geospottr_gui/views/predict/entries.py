"""Predict's queue entries and the worker jobs that fill them (torch is imported inside the jobs only)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from PySide6.QtGui import QImage

from core.events import Control, Event, EventCallback, Kind
from core.inference.results import PredictFailure, Prediction, expand_inputs

from ..widgets.map_view import assets_dir

if TYPE_CHECKING:  # the predictor lives in workers; the UI thread only holds it
    from core.inference.base import PredictorBase as Predictor

    from ...model_service import ModelService

#: Entries handed to one prediction job (results still show one by one).
JOB_ENTRIES = 256
_keys = itertools.count(1)


@dataclass(eq=False)
class Entry:
    """One queued prediction: a photo (path or pasted bytes) or a group of photos of one place."""

    name: str
    sources: list[Path | bytes]
    group: bool = False
    result: Prediction | PredictFailure | None = None
    view_count: int = 0
    failures: list[str] = field(default_factory=list)
    preview: QImage | None = None          # for pasted images, which have no file
    key: int = field(default_factory=lambda: next(_keys))

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def short_name(self) -> str:
        """The file name (a pasted image or a group: its own name)."""
        return Path(self.name).name if not isinstance(self.sources[0], bytes) and not self.group else self.name

    @property
    def failure(self) -> str:
        """Why this entry could not be predicted, without the file's path (its row already names it)."""
        reason = self.result.reason if isinstance(self.result, PredictFailure) else ""
        for prefix in (self.name, str(self.sources[0])):
            if reason.startswith(f"{prefix}: "):
                return reason[len(prefix) + 2:]
        return reason

    def label(self) -> str:
        """The entry's line in the queue: waiting, its top city, or why it failed."""
        if self.result is None:
            return f"… {self.short_name}"
        if isinstance(self.result, Prediction):
            top = self.result.top
            return f"{self.short_name}  →  {top.label} {top.probability:.0%}"
        return f"✗ {self.short_name}: {self.failure}"


def predict_entries(predictor: Predictor, entries: Sequence[Entry], top_k: int, *, on_event: EventCallback,
                    control: Control) -> int:
    """Worker job: predict each entry in order and announce each outcome with a `Kind.RESULT` event.

    The outcome travels in the event; the UI thread stores it on the entry, so the view never sees an
    entry whose result is set before its row and caption are updated.
    """
    singles = [e for e in entries if not e.group]
    total = len(entries)
    done = 0

    def announce(entry: Entry, result: Prediction | PredictFailure, view_count: int,
                 failures: list[str] | None = None) -> None:
        nonlocal done
        done += 1
        on_event(Event(Kind.RESULT, done=done, total=total, scope="predict",
                       data={"entry": entry.key, "result": result, "view_count": view_count,
                             "failures": failures}))

    results = predictor.predict_many([e.sources[0] for e in singles], top_k=top_k, control=control, total=total)
    for entry, result in zip(singles, results):
        announce(entry, result, 1)
    for entry in (e for e in entries if e.group):
        control.checkpoint()
        group = predictor.predict_group(entry.sources, top_k=top_k)
        announce(entry, group.combined or PredictFailure(entry.name, "none of the photos could be read"),
                 len(group.views), [f.reason for f in group.failures])
    return done


def expand_job(paths: Sequence[Path | str], *, on_event: EventCallback, control: Control) -> list[Path]:
    """Worker job: the files to queue (a big folder takes a while to walk, so not on the UI thread)."""
    return expand_inputs(paths)


def load_predictor(models: ModelService, path: str, *, on_event: EventCallback, control: Control) -> Predictor:
    """Worker job: the app's shared model for `path` (loaded once, `ModelService`), and warm the map code
    so the first map is as quick as the rest."""
    predictor = models.get(path)
    control.checkpoint()
    assets_dir()
    import folium  # noqa: F401  (first import takes a few hundred ms)
    return predictor
