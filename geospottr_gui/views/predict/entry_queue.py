"""Predict's queue: one row per entry, labelled with its state (waiting, top city, or why it failed)."""

from __future__ import annotations

from PySide6.QtWidgets import QListWidget, QListWidgetItem

from ...plaintext import plain_tooltip
from ..widgets.empty_state import EmptyState
from .entries import Entry

#: What the queue says while it is empty.
EMPTY_QUEUE = "Photos you drop, paste (Ctrl+V) or browse queue here, each with its top city."


class EntryQueue(QListWidget):
    """The entries in the order they were queued; `entries` and the rows stay in step."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)  # a failure's reason reads whole (and in the tooltip)
        self.entries: list[Entry] = []
        self._rows: dict[int, int] = {}   # Entry.key -> row
        self.empty = EmptyState(self)
        self.empty.show_message(EMPTY_QUEUE)

    def append(self, entries: list[Entry]) -> int:
        """Add rows for `entries`; returns the first new row."""
        self.empty.hide()
        first_row = len(self.entries)
        for row, entry in enumerate(entries, start=first_row):
            self._rows[entry.key] = row
        self.entries.extend(entries)
        for entry in entries:
            item = QListWidgetItem()
            self.addItem(item)
            self._label(entry, item)
        return first_row

    def find(self, key: int) -> Entry | None:
        row = self._rows.get(key)
        return None if row is None else self.entries[row]

    def relabel(self, entry: Entry) -> None:
        self._label(entry, self.item(self._rows[entry.key]))

    def relabel_all(self) -> None:
        for row, entry in enumerate(self.entries):
            self._label(entry, self.item(row))

    @staticmethod
    def _label(entry: Entry, item: QListWidgetItem) -> None:
        item.setText(entry.label())
        item.setToolTip(plain_tooltip(f"{entry.name}\n{entry.failure}" if entry.failure else entry.name))
