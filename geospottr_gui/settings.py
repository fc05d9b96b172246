"""Every QSettings key the app reads or writes, with its type and default, in one place.

Views never spell a key: they call ``KEY.get(settings)`` / ``KEY.set(settings, value)`` on a `Key` below,
so a key is named once, read with one type and one default everywhere, and a reader of this module sees
everything the app remembers between runs. Keys that hold one value per thing (a provider's secret, a
project's model) are `KeyFamily` entries: ``FAMILY.key(part)`` gives the `Key`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QByteArray, QSettings

T = TypeVar("T")


@dataclass(frozen=True)
class Key(Generic[T]):
    """One QSettings entry: its name, the Python type it reads as and the value when it is absent."""

    name: str
    type: type
    default: T
    doc: str = ""

    def get(self, settings: QSettings) -> T:
        """The stored value as `type` (the default when absent or unreadable as that type)."""
        if self.type is list:
            value = settings.value(self.name, self.default)
            items = [value] if isinstance(value, str) else list(value or [])
            return [str(v) for v in items if v]  # type: ignore[return-value]
        if self.type is QByteArray:
            value = settings.value(self.name)
            return value if isinstance(value, QByteArray) and not value.isEmpty() else self.default
        try:
            return settings.value(self.name, self.default, type=self.type)
        except (TypeError, ValueError):  # a hand-edited settings file: fall back rather than fail to start
            return self.default

    def set(self, settings: QSettings, value: T) -> None:
        settings.setValue(self.name, value)

    def remove(self, settings: QSettings) -> None:
        settings.remove(self.name)


@dataclass(frozen=True)
class KeyFamily(Generic[T]):
    """Keys ``prefix/<part>`` sharing a type and default (one per provider, one per project …)."""

    prefix: str
    type: type
    default: T
    doc: str = ""

    def key(self, part: str) -> Key[T]:
        return Key(f"{self.prefix}/{part}", self.type, self.default, self.doc)


def project_part(root: Any) -> str:
    """A settings-safe name for a project folder (QSettings treats "/" in a key as a group separator)."""
    return hashlib.sha1(str(root).encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- projects
RECENT_PROJECTS: Key[list] = Key("recentProjects", list, [], "File > Open recent, newest first")
LAST_PROJECT: Key[str] = Key("lastProject", str, "", "the project opened at the next start")
PROJECT_MODEL: KeyFamily[str] = KeyFamily(
    "projectModel", str, "", "the model bundle chosen in a project (by project folder); empty: its best run")

# ---------------------------------------------------------------------------------------------- window
WINDOW_GEOMETRY: Key[QByteArray] = Key("window/geometry", QByteArray, QByteArray(), "main window geometry")
WINDOW_STATE: Key[QByteArray] = Key("window/state", QByteArray, QByteArray(), "main window dock/toolbar state")
WINDOW_WORKSPACE: Key[int] = Key("window/workspace", int, 0, "the workspace shown last (row in the side bar)")
GET_STARTED_DISMISSED: Key[bool] = Key("ui/getStartedDismissed", bool, False, "the Dataset's first-run guide closed")

# ---------------------------------------------------------------------------------------------- maps
ONLINE_TILES: Key[bool] = Key("maps/online_tiles", bool, True,
                              "lay OpenStreetMap tiles over the offline basemap (View > Online map tiles)")

# ---------------------------------------------------------------------------------------------- workspaces
PREDICT_TOP_K: Key[int] = Key("predict/top_k", int, 5, "how many cities the Predict ranking lists")
CHALLENGE_ROUNDS: Key[int] = Key("challenge/rounds", int, 5, "rounds of a new Challenge game")
CHALLENGE_PLAYER: Key[str] = Key("challenge/player", str, "", "the Challenge player's name")
DOWNLOAD_PROVIDER: Key[str] = Key("download/provider", str, "streetview", "the Download panel's image source")
DOWNLOAD_PER_CITY: Key[int] = Key("download/perCity", int, 0, "images per city to download (0: each city's target)")
PLOTS_X_AXIS: Key[str] = Key("plots/xAxis", str, "iteration",
                             "the training plots' x axis: iteration, epoch or time (wall time since the start)")
DOWNLOAD_SECRET: KeyFamily[str] = KeyFamily(
    "download/secret", str, "", "a provider's API key, only when the user asks to keep it here (plain text)")

#: Every key and family, for the test that checks no module spells a key of its own.
ALL: tuple[Key | KeyFamily, ...] = (
    RECENT_PROJECTS, LAST_PROJECT, PROJECT_MODEL, WINDOW_GEOMETRY, WINDOW_STATE, WINDOW_WORKSPACE,
    GET_STARTED_DISMISSED, ONLINE_TILES, PREDICT_TOP_K, CHALLENGE_ROUNDS, CHALLENGE_PLAYER, DOWNLOAD_PROVIDER,
    DOWNLOAD_PER_CITY, DOWNLOAD_SECRET, PLOTS_X_AXIS,
)


def online_tiles(settings: QSettings) -> bool:
    """Whether maps built now lay online tiles over the offline basemap (read at each page build)."""
    return ONLINE_TILES.get(settings)
