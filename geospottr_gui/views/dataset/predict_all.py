"""The grid's "Predict all" job: the project's model guesses every kept image so the Model filter, the
confidence sort and the thumbnails' badges have something to show. Its own module because it is the one
part of the curation panel that runs a model (in a worker) and owns a job's button, bar and Cancel."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QPushButton, QWidget

from core.events import Event

from ...context import AppContext
from ...workers import JobHandle, start_job
from ..widgets.layouts import follow_progress, job_progress


def predict_dataset_job(models: Any, project: Any, model_path: str, *, on_event: Any, control: Any) -> str:
    """Worker job: the project's model guesses every kept image (`core.inference.dataset_predictions`)."""
    from core.inference.dataset_predictions import predict_dataset
    from core.inference.project_model import name_model

    name = name_model(model_path).label
    done = predict_dataset(project, models.get(model_path), name, ("pending", "accepted"),
                           on_event=on_event, control=control)
    return done.summary(name)


class PredictAll(QObject):
    """The Predict all button, its progress bar and Cancel, and the one job they drive.

    A child of the panel that shows its widgets, so the panel's `stop_jobs` finds the job's handle."""

    predicted = Signal()  # the guesses are stored: the grid re-runs its query

    def __init__(self, context: AppContext, parent: QWidget) -> None:
        super().__init__(parent)
        self.context = context
        self.job: JobHandle | None = None
        self.button = QPushButton("Predict all")
        self.button.setToolTip("The project's model guesses every kept image: filter by Model, sort by "
                               "how sure it is, and see each guess on its thumbnail")
        self.button.clicked.connect(self.start)
        self.progress, self.cancel = job_progress(
            140, lambda: self.job is not None and self.job.cancel(), "Stop predicting (guesses so far are kept)")

    def widgets(self) -> tuple[QWidget, ...]:
        """The bar, Cancel and the button, in the order they sit in a row."""
        return self.progress, self.cancel, self.button

    def start(self) -> None:
        """The project's model guesses every kept image, in a job with progress and Cancel."""
        path = self.context.model_path
        if not path:
            self.context.status.emit("No model yet: train one (Train) or choose one (Predict) first.")
            return
        if self.job is not None:
            return
        self.button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel.show()
        self.job = start_job(self, predict_dataset_job, self.context.models, self.context.project, path,
                             on_event=self._progress, on_finished=self._finished,
                             on_failed=self.context.status.emit, title="Predicting the dataset",
                             workspace="Dataset")
        self.job.done.connect(self._done)

    def _progress(self, event: Event) -> None:
        follow_progress(self.progress, event)

    def _finished(self, summary: str) -> None:
        self.context.status.emit(summary)
        self.predicted.emit()

    def _done(self) -> None:
        self.job = None
        self.button.setEnabled(True)
        self.progress.hide()
        self.cancel.hide()
