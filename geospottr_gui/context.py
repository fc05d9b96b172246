"""State the workspaces share: the open project and the signals that keep views in step."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from core.project import Project


class AppContext(QObject):
    """Owned by the main window, handed to every workspace.

    ``project_changed(Project)`` fires when another project is opened; ``images_changed()`` when images
    were added, relabelled, rejected or split (counts and grids refresh); ``status(str)`` shows a message
    in the status bar; ``model_selected(str)`` announces a model bundle path chosen in one view (Train ->
    Evaluate / Predict / Challenge pick it up).
    """

    project_changed = Signal(object)
    images_changed = Signal()
    status = Signal(str)
    model_selected = Signal(str)

    def __init__(self, project: Project, settings: QSettings | None = None) -> None:
        super().__init__()
        self.project = project
        self.settings = settings or QSettings("GeoSpottr", "GeoSpottr")

    def set_project(self, project: Project) -> None:
        old, self.project = self.project, project
        if old is not project:
            old.close()
        self.project_changed.emit(project)
