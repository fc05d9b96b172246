"""State the workspaces share: the open project, its curation history, and the signals that keep views in step."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from core.data.curation import CurationHistory, Edit
from core.data.project import Project
from core.events import Control, EventCallback
from core.inference.project_model import ModelName, name_model, project_model

from . import settings as keys
from .curator import Curator
from .model_service import ModelService
from .workers import start_job

#: How many recently opened projects File > Recent lists.
MAX_RECENT = 8


def project_model_job(project: Project, *, on_event: EventCallback, control: Control) -> ModelName | None:
    """Job: the project's best validated run (reads every run's metrics, so off the UI thread)."""
    return project_model(project)


class AppContext(QObject):
    """Owned by the main window, handed to every workspace.

    ``project_changed(Project)`` fires when another project is opened; ``images_changed()`` when images
    were added, relabelled, rejected or split (counts and grids refresh); ``status(str)`` shows a message
    in the status bar; ``model_changed(str)`` announces the project's model bundle ("" for none) whenever it
    changes (Train, Predict, Challenge and Find problems choose one with `set_model`; Evaluate / Predict /
    Challenge / About follow); ``curated(Edit)`` carries each curation edit, undo or redo
    (as applied) so a grid can repaint just those images.

    The model belongs to the project: `model_path` is the bundle chosen by hand in this project
    (remembered per project folder, `settings.PROJECT_MODEL`) or else the project's best validated run
    (`core.inference.project_model`, the rule the CLI follows too, applied by a job when the project opens and
    again when a run finishes: a worse new run does not replace a better one), never another project's.
    `model` names it (run and val accuracy) for labels.

    `models` (`model_service.ModelService`) owns the loaded models every workspace shares (one per model
    file and device), let go when another project opens, after a while unused, or when the window closes.

    `history` is the project's undoable curation history (`core.data.curation`); every view that accepts,
    rejects or relabels goes through it so Edit > Undo covers all of them. `curator` runs those edits,
    undos and redos: small ones at once, big ones in a worker (`geospottr_gui.curator`).
    """

    project_changed = Signal(object)
    images_changed = Signal()
    status = Signal(str)
    model_changed = Signal(str)
    curated = Signal(object)
    #: An image id to show in the Dataset grid, selected and focused (e.g. an Evaluate mistake to relabel).
    image_requested = Signal(str)
    #: (city slug, guessed city slug): the Dataset grid on the images of the city the model took for the
    #: other (a confusion cell's mistakes, to relabel or reject there).
    guesses_requested = Signal(str, str)

    def __init__(self, project: Project, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings("GeoSpottr", "GeoSpottr")
        self.project = project
        self.history = self._new_history(project)
        self.curator = Curator(self)
        self.models = ModelService(self)
        #: The project's model bundle (None: it has none yet), for workspaces built after the
        #: announcement (the main window builds each workspace when it is first shown).
        self.model_path: str | None = None
        self.model: ModelName | None = None
        self.remember_project(project.root)
        self._pick_model()

    # ------------------------------------------------------------------ the project's model
    def set_model(self, path: str | None) -> None:
        """Choose `path` as this project's model (remembered for the project) and announce it."""
        path = str(path) if path else None
        keys.PROJECT_MODEL.key(keys.project_part(self.project.root)).set(self.settings, path or "")
        self._announce_model(name_model(path) if path else None)

    def model_label(self, path: str | None = None) -> str:
        """A model as the user knows it, "run <id> (val 45.0%)" or a file's name: `path`'s, by default
        the project's model's (then known already, no file is read)."""
        if path is None or (self.model is not None and str(self.model.path) == str(path)):
            return self.model.label if self.model is not None else "no model yet"
        return name_model(path).label

    def refresh_model(self) -> None:
        """Apply the project's model rule again (a run finished): a better run becomes the model unless
        one was chosen by hand."""
        self._pick_model(keep_current=True)

    def _announce_model(self, model: ModelName | None) -> None:
        self.model = model
        self.model_path = str(model.path) if model is not None else None
        self.model_changed.emit(self.model_path or "")

    def _chosen(self) -> str | None:
        """The model chosen by hand for this project, while its file is still there."""
        saved = keys.PROJECT_MODEL.key(keys.project_part(self.project.root)).get(self.settings)
        return saved if saved and Path(saved).is_file() else None

    def _pick_model(self, keep_current: bool = False) -> None:
        """The project's model: its own choice if the file is still there, else its best run (a job)."""
        chosen = self._chosen()
        if chosen:
            self._announce_model(name_model(chosen))
            return
        if self.model_path is not None and not keep_current:
            self._announce_model(None)  # the previous project's model is not this one's
        project = self.project
        start_job(self, project_model_job, project, on_finished=lambda found: self._best_found(project, found))

    def _best_found(self, project: Project, found: ModelName | None) -> None:
        if project is not self.project or self._chosen() or found is None:
            return  # another project opened, or a model was chosen by hand, while the job ran
        if found != self.model:
            self._announce_model(found)

    def set_project(self, project: Project) -> None:
        if project is not self.project:
            self.curator.stop()  # a big edit still writing to the old project: roll it back before it closes
        old, self.project = self.project, project
        if old is not project:
            old.close()
            self.models.release()
            self.history = self._new_history(project)
        self.remember_project(project.root)
        self.project_changed.emit(project)
        if old is not project:
            self._pick_model()

    def _new_history(self, project: Project) -> CurationHistory:
        history = CurationHistory(project)
        history.add_listener(self._on_edit)
        return history

    def _on_edit(self, edit: Edit) -> None:
        self.curated.emit(edit)
        self.images_changed.emit()

    # ------------------------------------------------------------------ recent projects
    def recent_projects(self) -> list[str]:
        return keys.RECENT_PROJECTS.get(self.settings)

    def remember_project(self, root: Path) -> None:
        path = str(root)
        recent = [path] + [p for p in self.recent_projects() if p != path]
        keys.RECENT_PROJECTS.set(self.settings, recent[:MAX_RECENT])
        keys.LAST_PROJECT.set(self.settings, path)
