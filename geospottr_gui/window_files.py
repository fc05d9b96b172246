"""The main window's File menu work on files: new / open project, import folders and CSVs (from the menu or
dropped on the window) in one job, and export, each with the status bar's own progress bar and Cancel.
Its own module so the window module keeps to navigation and the status bar; `MainWindow` mixes it in."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QInputDialog, QProgressBar, QPushButton

from core.data.exporting import FORMATS, export
from core.data.importing import import_source
from core.data.project import Project
from core.events import PROGRESS, Control, Event, EventCallback

from .context import AppContext
from .plaintext import warn
from .qt_mixins import MainWindowMixin
from .workers import JobHandle, start_job


def open_project_job(path: str, create: bool, *, on_event: EventCallback, control: Control) -> Project:
    """Job: open (or create) a project; opening sweeps temp files and may migrate, so not on the UI thread."""
    return Project.init(path) if create else Project.open(path)


def importable_paths(paths: list[Path]) -> list[Path]:
    """What a drop may import: folders and CSV files."""
    return [p for p in paths if p.is_dir() or (p.is_file() and p.suffix.lower() == ".csv")]


class WindowFiles(MainWindowMixin):
    """Projects, import and export of `MainWindow` (mixed into that QMainWindow, which provides the status
    bar's `progress` and `progress_cancel` for the import or export under way)."""

    context: AppContext
    file_job: JobHandle | None
    progress: QProgressBar
    progress_cancel: QPushButton

    # ------------------------------------------------------------------ projects
    def new_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "New project: choose an empty folder")
        if path:
            self.open_project(path, create=True)

    def open_project_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a GeoSpottr project folder")
        if path:
            self.open_project(path)

    def open_project(self, path: str, create: bool = False) -> JobHandle:
        self.statusBar().showMessage(f"opening {path}…")
        return start_job(self, open_project_job, path, create, on_finished=self.context.set_project,
                         on_failed=lambda message: warn(self, "Open project", message))

    # ------------------------------------------------------------------ import / export
    def import_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a folder (one sub-folder per city)")
        if path:
            self.import_paths([Path(path)])

    def import_csv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a CSV", "", "CSV files (*.csv)")
        if path:
            self.import_paths([Path(path)])

    def import_paths(self, paths: list[Path]) -> JobHandle | None:
        """Import folders / CSVs one after the other in one job (new city names are added from the catalog)."""
        if self._file_job_running():
            return None
        project = self.context.project

        def run(*, on_event: EventCallback, control: Control) -> list[str]:
            return [import_source(project, p, add_cities=True, on_event=on_event, control=control).summary()
                    for p in paths]

        self._show_progress()
        self.file_job = start_job(self, run, on_event=self._file_event, on_finished=self._imported,
                                  on_failed=self._import_failed, on_cancelled=lambda: self._import_ended("import cancelled"),
                                  keeps_work=True)
        return self.file_job

    def _file_job_running(self) -> bool:
        """Whether an import or export is under way (one at a time: they share the status bar's bar)."""
        if self.file_job is not None and self.file_job.running:
            self.statusBar().showMessage("an import or export is already running", 4000)
            return True
        return False

    def _show_progress(self) -> None:
        self.progress.setRange(0, 0)
        self.progress.show()
        self.progress_cancel.show()

    def _file_event(self, event: Event) -> None:
        if event.kind == PROGRESS and event.total:
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done or 0)

    def _imported(self, summaries: list[str]) -> None:
        self._import_ended("import: " + "; ".join(summaries))

    def _import_failed(self, message: str) -> None:
        self._import_ended("import failed")
        warn(self, "Import", message)

    def _import_ended(self, message: str) -> None:
        self._file_job_ended(message)
        self.context.images_changed.emit()

    def _file_job_ended(self, message: str) -> None:
        self.progress.hide()
        self.progress_cancel.hide()
        self.statusBar().showMessage(message, 10000)

    def export_dialog(self) -> None:
        fmt, ok = QInputDialog.getItem(self, "Export", "Format", list(FORMATS), 0, False)
        if not ok:
            return
        if fmt == "imagefolder":
            out = QFileDialog.getExistingDirectory(self, "Export into an empty folder")
        else:
            out, _ = QFileDialog.getSaveFileName(self, "Export to", f"geospottr.{fmt}", f"{fmt} (*.{fmt})")
        if out:
            self.export_to(fmt, out)

    def export_to(self, fmt: str, out: str) -> JobHandle | None:
        """Export the project in a job with the status bar's progress and Cancel (an image-folder export
        copies every photo: minutes on a big project; cancelled, it leaves nothing behind)."""
        if self._file_job_running():
            return None

        def failed(message: str) -> None:
            self._file_job_ended("export failed")
            warn(self, "Export", message)

        self._show_progress()
        self.file_job = start_job(self, export, self.context.project, fmt, out, on_event=self._file_event,
                                  on_finished=lambda n: self._file_job_ended(f"exported {n:,} images to {out}"),
                                  on_failed=failed, on_cancelled=lambda: self._file_job_ended("export cancelled"))
        return self.file_job

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if importable_paths(paths):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = importable_paths([Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()])
        if paths:
            event.acceptProposedAction()
            self.import_paths(paths)
