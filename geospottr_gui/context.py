"""State the workspaces share: the open project, its curation history, and the signals that keep views in step."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from core.curation import CurationHistory, Edit
from core.project import Project

from .curator import Curator

#: How many recently opened projects File > Recent lists.
MAX_RECENT = 8
#: QSettings key: lay OpenStreetMap tiles over the offline basemap when they load (default on). Read each
#: time a map page is built, so View > Online map tiles takes effect for the next page of every map.
ONLINE_TILES_KEY = "maps/online_tiles"


def online_tiles(settings: QSettings) -> bool:
    return bool(settings.value(ONLINE_TILES_KEY, True, type=bool))


class AppContext(QObject):
    """Owned by the main window, handed to every workspace.

    ``project_changed(Project)`` fires when another project is opened; ``images_changed()`` when images
    were added, relabelled, rejected or split (counts and grids refresh); ``status(str)`` shows a message
    in the status bar; ``model_selected(str)`` announces a model bundle path chosen in one view (Train ->
    Evaluate / Predict / Challenge pick it up); ``curated(Edit)`` carries each curation edit, undo or redo
    (as applied) so a grid can repaint just those images.

    `history` is the project's undoable curation history (`core.curation`); every view that accepts,
    rejects or relabels goes through it so Edit > Undo covers all of them. `curator` runs those edits,
    undos and redos: small ones at once, big ones in a worker (`geospottr_gui.curator`).
    """

    project_changed = Signal(object)
    images_changed = Signal()
    status = Signal(str)
    model_selected = Signal(str)
    curated = Signal(object)

    def __init__(self, project: Project, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings("GeoSpottr", "GeoSpottr")
        self.project = project
        self.history = self._new_history(project)
        self.curator = Curator(self)
        #: The last bundle announced by ``model_selected``, for workspaces built after the announcement
        #: (the main window builds each workspace when it is first shown).
        self.model_path: str | None = None
        self.model_selected.connect(self._remember_model)
        self.remember_project(project.root)

    def _remember_model(self, path: str) -> None:
        self.model_path = path

    def set_project(self, project: Project) -> None:
        if project is not self.project:
            self.curator.stop()  # a big edit still writing to the old project: roll it back before it closes
        old, self.project = self.project, project
        if old is not project:
            old.close()
            self.history = self._new_history(project)
        self.remember_project(project.root)
        self.project_changed.emit(project)

    def _new_history(self, project: Project) -> CurationHistory:
        history = CurationHistory(project)
        history.add_listener(self._on_edit)
        return history

    def _on_edit(self, edit: Edit) -> None:
        self.curated.emit(edit)
        self.images_changed.emit()

    # ------------------------------------------------------------------ recent projects
    def recent_projects(self) -> list[str]:
        value = self.settings.value("recentProjects", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [p for p in items if p]

    def remember_project(self, root: Path) -> None:
        path = str(root)
        recent = [path] + [p for p in self.recent_projects() if p != path]
        self.settings.setValue("recentProjects", recent[:MAX_RECENT])
        self.settings.setValue("lastProject", path)
