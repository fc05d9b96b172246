"""The desktop app's command line, read before Qt starts (so ``--help`` and ``--version`` print and exit
without opening a window, and a broken Qt install cannot stop them).

``geospottr-gui [PROJECT_DIR | PHOTO ...] [--monitor RUN ...]``: see `USAGE`. Nothing here imports Qt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

USAGE = """\
usage: geospottr-gui [PROJECT_DIR | PHOTO ...] [--monitor RUN ...]

Open the GeoSpottr desktop app.

positional arguments:
  PROJECT_DIR      a project folder to open (one holding geospottr.db, an empty folder or a new one);
                   default: the project open last time, else $GEOSPOTTR_PROJECT, else the default project
  PHOTO            photos or folders of photos to predict (the Predict workspace queues them); while
                   GeoSpottr is open they go to its window

options:
  -h, --help       show this help and exit
  --version        show the version and exit
  --monitor RUN    open only a live monitor window on a training run (a run folder, or a run id of the
                   project the app would open); repeatable; what `geospottr monitor RUN` runs
"""


@dataclass
class GuiArguments:
    """What the command line asks for."""

    project: str | None = None
    photos: list[Path] = field(default_factory=list)
    monitor_refs: list[str] = field(default_factory=list)
    smoke_test: bool = False  # packaging/check_wheel.py: open the window and a map page, then exit
    options: list[str] = field(default_factory=list)  # everything but the program name, as given

    @property
    def plain(self) -> bool:
        """No options at all: a plain start may hand its photos to an already open window instead."""
        return not any(a.startswith("-") for a in self.options)


def early_exit(args: list[str]) -> str | None:
    """The text to print instead of starting the app (``--help``, ``--version``), else None."""
    if "-h" in args or "--help" in args:
        return USAGE
    if "--version" in args:
        from core import __version__

        return f"geospottr-gui {__version__}\n"
    return None


def parse(argv: list[str]) -> GuiArguments:
    """`argv` (program name first) as `GuiArguments`."""
    args = list(argv[1:])
    smoke_test = "--smoke-test" in args
    rest, refs = monitor_arguments([a for a in args if a != "--smoke-test"])
    project, photos = split_arguments([a for a in rest if not a.startswith("-")])
    return GuiArguments(project, photos, refs, smoke_test, args)


def monitor_arguments(args: list[str]) -> tuple[list[str], list[str]]:
    """(`args` without its ``--monitor RUN`` / ``--monitor=RUN`` options, the RUNs: ids or folders)."""
    rest: list[str] = []
    refs: list[str] = []
    it = iter(args)
    for arg in it:
        if arg == "--monitor":
            refs.append(next(it, ""))
        elif arg.startswith("--monitor="):
            refs.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    return rest, [r for r in refs if r]


def split_arguments(positional: list[str]) -> tuple[str | None, list[Path]]:
    """(project folder or None, photos to predict) from the command line's positional arguments.

    A folder is the project when it holds ``geospottr.db``, is empty, or does not exist yet (and has no
    image suffix); any other folder is one of photos. Everything else is a photo: a file that is not
    one is reported by the Predict workspace, which names it. The last project folder given wins.
    """
    from core.data.importing import IMAGE_SUFFIXES
    from core.data.project import DB_NAME

    project: str | None = None
    photos: list[Path] = []
    for arg in positional:
        path = Path(arg).expanduser()
        if path.is_dir():
            if (path / DB_NAME).exists() or not any(path.iterdir()):
                project = arg
            else:
                photos.append(path)
        elif not path.exists() and path.suffix.lower() not in IMAGE_SUFFIXES:
            project = arg  # a new project folder
        else:
            photos.append(path)
    return project, photos


def startup_project_dir(explicit: str | None, last: str | None) -> tuple[Path, bool]:
    """(folder, create?) to open at startup: the one asked for, the last one if it still exists, or the default."""
    from core.data.project import DB_NAME, default_project_dir

    if explicit:
        return Path(explicit).expanduser(), True
    if last and (Path(last) / DB_NAME).exists() and "GEOSPOTTR_PROJECT" not in os.environ:
        return Path(last), False
    return default_project_dir(), True
