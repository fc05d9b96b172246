"""Typed bases for the mixins that split a large widget class by concern (the main window's menus, files
and open/close; the Dataset grid's curation actions). A type checker sees the widget a mixin is mixed into,
so `self.statusBar()` or `self` as a dialog's parent type-check; at run time the base is `object`, so the
mixin adds no second Qt base and the widget's own class stays the only QObject in the hierarchy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMainWindow, QWidget

if TYPE_CHECKING:
    MainWindowMixin = QMainWindow
    WidgetMixin = QWidget
else:
    MainWindowMixin = object
    WidgetMixin = object
