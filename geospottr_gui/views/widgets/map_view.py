"""The embedded map: a QWebEngineView that shows the pages `core.maps` writes, and hears their clicks.

Pages are loaded from a file URL (``setHtml`` fails above 2 MB) out of one temporary folder per app
session, which also holds the Leaflet files (`core.maps.write_assets`). A page talks back by logging
``BRIDGE_PREFIX + JSON`` to the console; `MapView.message` re-emits those objects as dicts. Script errors
in a page are logged, and a page that fails to load is reported through `load_failed` and replaced by a
one-line notice, never a blank box. Until a page has loaded (Chromium takes seconds to start the first
time) a busy placeholder covers the view; `show_notice` puts a message there instead of a page.

Every page's network requests pass `_TileGuard`: local files and OpenStreetMap tiles only (the tiles
carry GeoSpottr's own User-Agent, as the OSM tile policy asks); anything else is blocked, so a map can
never quietly depend on a CDN.
"""

from __future__ import annotations

import html
import logging
import tempfile
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QEventLoop, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWebEngineCore import (
    QWebEngineLoadingInfo,
    QWebEnginePage,
    QWebEngineUrlRequestInfo,
    QWebEngineUrlRequestInterceptor,
)
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QFrame, QLabel, QProgressBar, QVBoxLayout, QWidget

from core import __version__
from core.maps import BRIDGE_PREFIX, OSM_TILES, write_assets
from core.typed import DamagedFile, parse_json

from ...native_libs import preload_before_chromium
from ...settings import online_tiles  # noqa: F401 - re-exported for the map views

log = logging.getLogger(__name__)

_TILE_HOST = QUrl(OSM_TILES.replace("{z}/{x}/{y}", "0/0/0")).host()
_session_dir: tempfile.TemporaryDirectory | None = None


def pages_dir() -> Path:
    """This session's folder for map pages (removed when the app exits)."""
    global _session_dir
    if _session_dir is None:
        _session_dir = tempfile.TemporaryDirectory(prefix="geospottr-maps-")
    return Path(_session_dir.name)


def remove_pages_dir() -> None:
    """Delete this session's map pages now (the app's fast exit skips the interpreter's own clean-up)."""
    global _session_dir
    if _session_dir is not None:
        _session_dir.cleanup()
        _session_dir = None


def assets_dir() -> Path:
    """The Leaflet/basemap folder next to the pages, written on first use (safe from any thread)."""
    return write_assets(pages_dir())


class _TileGuard(QWebEngineUrlRequestInterceptor):
    """Allow local pages and OSM tiles; block every other remote request."""

    def interceptRequest(self, info: QWebEngineUrlRequestInfo) -> None:  # noqa: N802 - Qt override
        url = info.requestUrl()
        if url.scheme() in ("file", "data", "blob", "qrc"):
            return
        if url.scheme() == "https" and url.host() == _TILE_HOST:
            info.setHttpHeader(b"User-Agent", f"GeoSpottr/{__version__} (desktop app)".encode())
            return
        log.warning("map page tried to load %s; blocked", url.toString())
        info.block(True)


class _BridgePage(QWebEnginePage):
    message = Signal(dict)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.script_errors: list[str] = []
        self._guard = _TileGuard(self)
        self.setUrlRequestInterceptor(self._guard)

    def javaScriptConsoleMessage(self, level, text: str, line: int, source: str) -> None:  # noqa: N802
        if text.startswith(BRIDGE_PREFIX):
            try:
                payload = parse_json(text[len(BRIDGE_PREFIX):], "map message")
            except DamagedFile:
                log.warning("bad map message %r", text[:200])
                return
            if isinstance(payload, dict):
                self.message.emit(payload)
        elif level == QWebEnginePage.JavaScriptConsoleMessageLevel.ErrorMessageLevel:
            self.script_errors.append(f"{text} ({Path(source).name}:{line})")
            log.warning("map page script error: %s (%s:%d)", text, source, line)

    def acceptNavigationRequest(self, url: QUrl, kind, is_main_frame: bool) -> bool:  # noqa: N802
        """Links in a map (the attribution) open in the user's browser, never inside the map."""
        if kind == QWebEnginePage.NavigationType.NavigationTypeLinkClicked and url.scheme() in ("http", "https"):
            QDesktopServices.openUrl(url)
            return False
        return super().acceptNavigationRequest(url, kind, is_main_frame)


class _Placeholder(QFrame):
    """What covers the map until its page shows: a busy bar with "Loading map…", or a notice."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self.setStyleSheet("_Placeholder { background: #f3f3f0; } QLabel { color: #555; }")
        self.label = QLabel("Loading map…")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # an indeterminate, animated bar
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(160)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.label)
        layout.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)

    def show_text(self, text: str, busy: bool) -> None:
        self.label.setText(text)
        self.busy.setVisible(busy)
        self.show()
        self.raise_()


class MapView(QWebEngineView):
    """Shows one map page at a time. `show_page(path)` loads it; `loaded(ok)` follows the load of the
    latest page only (a load cut short by a newer `show_page` is ignored), and `generation` counts pages.

    Signals: ``message(dict)`` (a page's bridge message), ``loaded(bool)``, ``load_failed(str)``.
    Until its first page, the view shows `idle` (what will appear here, and how), never a blank white area.
    """

    message = Signal(dict)
    loaded = Signal(bool)
    load_failed = Signal(str)

    def __init__(self, parent: Any = None, idle: str = "The map appears here.") -> None:
        preload_before_chromium()  # before Chromium starts, or a later torch import can crash (native_libs)
        super().__init__(parent)
        self._page = _BridgePage(self)
        self.setPage(self._page)
        self._page.message.connect(self.message)
        self._page.loadingChanged.connect(self._on_loading)
        self.current: Path | None = None
        self.is_loaded = False
        self.generation = 0
        self._requested = QUrl()
        self.setMinimumSize(240, 180)
        self.placeholder = _Placeholder(self)
        self.show_notice(idle)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.placeholder.setGeometry(self.rect())

    def show_notice(self, text: str) -> None:
        """No page: `text` where the map is (nothing to show yet, or the photo could not be read)."""
        if self.current is not None:
            self.generation += 1
            self.setHtml("")  # the old page's markers must not linger under the notice
        self.current = None
        self.is_loaded = False
        self._requested = QUrl()
        self.placeholder.show_text(text, busy=False)

    @property
    def script_errors(self) -> list[str]:
        return self._page.script_errors

    def show_page(self, path: Path) -> None:
        """Load a page written by `core.maps` (a query string forces a reload of a rewritten file)."""
        self.current = Path(path)
        self.is_loaded = False
        self.generation += 1
        url = QUrl.fromLocalFile(str(self.current))
        url.setQuery(f"v={self.generation}")
        self._requested = url
        if self.generation == 1 or self.placeholder.isVisible():
            self.placeholder.show_text("Loading map…", busy=True)
        self.load(url)

    def run_js(self, script: str, callback: Callable[[Any], None] | None = None) -> None:
        if callback is None:
            self._page.runJavaScript(script, 0)
        else:
            self._page.runJavaScript(script, 0, callback)

    def _on_loading(self, info: QWebEngineLoadingInfo) -> None:
        if info.url() != self._requested:
            return  # an older page, or the notice below
        status = info.status()
        if status == QWebEngineLoadingInfo.LoadStatus.LoadSucceededStatus:
            self.placeholder.hide()
            self.is_loaded = True
            self.loaded.emit(True)
        elif status == QWebEngineLoadingInfo.LoadStatus.LoadFailedStatus:
            reason = f"the map page {self.current.name if self.current else ''} could not be loaded"
            if info.errorString():
                reason += f" ({info.errorString()})"
            log.warning(reason)
            self.load_failed.emit(reason)
            self.setHtml(f"<p style='font-family:sans-serif;color:#666'>{html.escape(reason)}</p>")
            self.placeholder.hide()
            self.loaded.emit(False)


def evaluate_js(view: MapView, script: str, timeout_ms: int = 10000) -> Any:
    """Run `script` in the view's page and wait for its value (JSON-decoded), for tests and checks.

    The value travels as a JSON string because PySide converts nested JS arrays unreliably.
    """
    loop = QEventLoop()
    box: dict[str, Any] = {}

    def done(value: Any) -> None:
        box["value"] = value
        loop.quit()

    view.run_js(f"JSON.stringify((function () {{ return ({script}); }})())", done)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    if "value" not in box:
        raise TimeoutError(f"no answer from the map page within {timeout_ms} ms: {script[:80]}")
    return None if box["value"] in (None, "") else parse_json(box["value"], "map page answer")

