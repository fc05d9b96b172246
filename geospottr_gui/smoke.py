"""``geospottr-gui --smoke-test``: prove an installed app or a PyInstaller bundle really starts.

Used by packaging/check_wheel.py and tests/test_packaging.py. Besides the main window it loads a page in
a QWebEngineView, because a bundle that forgot QtWebEngine's helper process or resources still opens its
window and only fails on the first map. Exit 0 only when the page loaded.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

#: Longest wait for the web view (cold start of the Chromium helper on a busy machine).
TIMEOUT_MS = 60_000
PAGE = "<html><head><title>geospottr-smoke</title></head><body>ok</body></html>"


def run_smoke_test(app: QApplication, window: QMainWindow) -> int:
    """Run the event loop until a web page has loaded (or TIMEOUT_MS passed), close `window`; exit code."""
    from PySide6.QtWebEngineWidgets import QWebEngineView

    from .native_libs import preload_before_chromium

    preload_before_chromium()  # as every web view must (see native_libs); harmless if done already
    view = QWebEngineView()
    view.resize(200, 100)
    outcome: dict[str, bool] = {}

    def finish(ok: bool) -> None:
        if "ok" in outcome:
            return
        outcome["ok"] = ok
        # A moment more of event processing with the window shown, then leave (the page goes first).
        view.deleteLater()
        QTimer.singleShot(300, window.close)
        QTimer.singleShot(400, app.quit)

    view.loadFinished.connect(finish)
    QTimer.singleShot(TIMEOUT_MS, lambda: finish(False))
    view.setHtml(PAGE)
    view.show()
    app.exec()
    if not outcome.get("ok"):
        print("geospottr-gui: smoke test failed: QtWebEngine did not load a page", file=sys.stderr)
        return 1
    print("geospottr-gui: smoke test passed (main window and QtWebEngine)")
    return 0
