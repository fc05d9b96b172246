"""Start the desktop app: QApplication, then the main window on the last (or default) project.

``geospottr-gui [PROJECT_DIR | PHOTO ...]``: while GeoSpottr is already open, the arguments go to its
window (`single_instance`) and this start exits at once. Otherwise a folder that holds a project (or is empty or new) is opened
as the project; photos (what "Open with GeoSpottr" passes: the .desktop file runs ``geospottr-gui %F``),
and folders of photos, open the project of last time (or the default one) with the Predict workspace
showing them queued. Without arguments: the project open last time, else the default project
(``$GEOSPOTTR_PROJECT`` or the platform data folder), created on first run. ``--monitor RUN_DIR|RUN_ID``
(repeatable; what ``geospottr monitor`` runs) opens only live monitor windows on those training runs,
whichever process trains them (a run id is looked up in the project the app would open). Nothing here imports
torch: the first window must appear in well under 1.5 s (see ``benchmarks/bench_startup.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .arguments import GuiArguments, early_exit, parse, startup_project_dir

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QWidget

    from .main_window import MainWindow

#: The reverse-DNS id used by the .desktop file, the AppStream metainfo and the macOS bundle.
DESKTOP_ID = "io.github.geospottr.GeoSpottr"


def main(argv: list[str] | None = None) -> int:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # QtWebEngine's Chromium refuses to run its sandbox as root.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    args = list(sys.argv if argv is None else argv)
    text = early_exit(args[1:])
    if text is not None:
        sys.stdout.write(text)
        return 0
    parsed = parse(args)
    from .qt_libs import startup_problem

    problem = startup_problem()  # Qt would abort with a message that names no package
    if problem is not None:
        print(f"geospottr-gui: {problem}", file=sys.stderr)
        return 1
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from core.resources import resource_path

    from .single_instance import InstanceServer, forward
    from .workers import stop_all_jobs

    # The Map tabs (QtWebEngine) are created lazily; sharing GL contexts must be set before the app exists.
    QApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(args)
    app.setOrganizationName("GeoSpottr")
    app.setApplicationName("GeoSpottr")
    # Matches packaging/linux/<id>.desktop so Wayland/X11 docks group the window under the app's icon.
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(QIcon(str(resource_path("icons", "geospottr-256.png"))))
    if parsed.monitor_refs:
        # Only the monitors: watching a run needs no main window (it opens if a run is resumed).
        if not open_monitor_windows(parsed, QSettings("GeoSpottr", "GeoSpottr")):
            return 1
        code = app.exec()
        stop_all_jobs()
        return code
    # The packaging smoke test starts a window of its own.
    plain = parsed.plain
    if plain and forward([a for a in parsed.options if not a.startswith("-")]):
        return 0  # the open window has the photos (single instance)
    window = open_window(parsed, QSettings("GeoSpottr", "GeoSpottr"))
    window.exits_process = True
    # Straight from the close: waiting for the event loop to wind down QtWebEngine took seconds.
    window.closed.connect(lambda: exit_now(0, window))
    server = InstanceServer(parent=window)
    server.received.connect(window.open_arguments)
    if plain:
        server.listen()
    if parsed.smoke_test:
        # Packaging check (packaging/check_wheel.py): the real window plus a QtWebEngine page, then exit.
        from .smoke import run_smoke_test

        code = run_smoke_test(app, window)
    else:
        code = app.exec()
    exit_now(code, window)
    return code  # not reached


def exit_now(code: int, window: "MainWindow") -> None:
    """End the process at once, having saved what matters: settings, the project, no temp pages.

    The window has already stopped (and waited for) every job that holds the user's work. What may still
    run is a job nobody waits for (a device probe inside a torch import, which cannot be interrupted),
    and a QThread still running at interpreter exit aborts the process; the interpreter's own teardown
    of torch and QtWebEngine also took 6 s. So: tidy up here, then `os._exit` (quit < 1 s when idle).
    """
    import logging

    from .workers import stop_all_jobs

    stop_all_jobs(wait_ms=200)  # whatever ends quickly ends cleanly
    window.context.settings.sync()
    window.context.project.close()
    map_view = sys.modules.get("geospottr_gui.views.widgets.map_view")
    if map_view is not None:
        map_view.remove_pages_dir()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def open_monitor_windows(parsed: GuiArguments, settings: "QSettings") -> list["QWidget"]:
    """One monitor window per run in ``parsed.monitor_refs`` (a run folder, or a run id of the project the app would open);
    a run that cannot be found is reported in a message box. Needs the QApplication."""
    from core.data.project import DB_NAME, Project
    from core.errors import GeoSpottrError
    from core.training.runs import resolve_run

    from .plaintext import warn
    from .settings import LAST_PROJECT
    from .views.train.monitor_window import open_monitor

    root, _ = startup_project_dir(parsed.project, LAST_PROJECT.get(settings) or None)
    windows = []
    for ref in parsed.monitor_refs:
        try:
            run_dir = resolve_run(root / "runs", ref)
        except GeoSpottrError as exc:
            warn(None, "GeoSpottr", str(exc))
            continue
        project_root = run_dir.resolve().parent.parent
        main: list[MainWindow] = []

        def resume(run_id: str, project_root: Path = project_root, main: list = main) -> None:
            # A stopped run is resumed by the Train workspace of a main window on the run's project.
            if not main:
                from .context import AppContext
                from .main_window import MainWindow

                main.append(MainWindow(AppContext(Project.open(project_root), settings)))
                main[0].show()
            main[0].workspace("Train").resume_from_monitor(run_id)

        windows.append(open_monitor(run_dir, resume if (project_root / DB_NAME).exists() else None))
    return windows


def open_window(parsed: GuiArguments, settings: "QSettings") -> "MainWindow":
    """The shown main window for the command line (see the module docstring), with any photos given
    queued in the Predict workspace. Needs the QApplication."""
    from core.data.project import Project, default_project_dir
    from core.errors import GeoSpottrError

    from .context import AppContext
    from .main_window import MainWindow
    from .plaintext import warn
    from .settings import LAST_PROJECT

    root, create = startup_project_dir(parsed.project, LAST_PROJECT.get(settings) or None)
    try:
        project = Project.open(root, create=create)
    except GeoSpottrError as exc:
        warn(None, "GeoSpottr", f"{exc}\nOpening the default project instead.")
        project = Project.open(default_project_dir(), create=True)
    window = MainWindow(AppContext(project, settings))
    window.show()
    if parsed.photos:
        window.predict_paths(parsed.photos)
    return window


if __name__ == "__main__":
    sys.exit(main())
