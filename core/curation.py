"""Undoable curation of a project's images: accept, reject, relabel, one image or thousands at once.

Every edit is saved to the database at once (a crash loses nothing the user saw), and is kept as an
`Edit` holding the labels of the touched images before and after it. Undo writes back ``before``, redo
writes ``after``: each edit is its own inverse with the two sides swapped, and both directions are one
transaction. The history lives here, not in the GUI, so the CLI or a quality review can share it; the
GUI's Undo / Redo actions only call `undo` / `redo` and listen for changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .project import Project

#: (city_id, status, reason) of one image, as `Project.label_snapshot` gives it.
Labels = Mapping[str, tuple[int | None, str, str | None]]
#: Edits kept for undo; older ones drop off (each holds a few bytes per touched image).
DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class Edit:
    """One user action: what it was called and the labels before and after it."""

    text: str
    before: Labels
    after: Labels

    @property
    def image_ids(self) -> list[str]:
        return list(self.after)

    def inverse(self) -> "Edit":
        return Edit(f"Undo {self.text[0].lower()}{self.text[1:]}", self.after, self.before)


def _plural(n: int) -> str:
    return f"{n} image" + ("" if n == 1 else "s")


class CurationHistory:
    """The undo / redo stacks of curation edits made on one project.

    `on_change(edit)` listeners hear about every do, undo and redo (the edit as applied), so a view can
    refresh the rows it shows and a window can update its Undo / Redo labels.
    """

    def __init__(self, project: Project, limit: int = DEFAULT_LIMIT) -> None:
        self.project = project
        self.limit = limit
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []
        self._listeners: list[Callable[[Edit], None]] = []

    # ------------------------------------------------------------------ actions
    def accept(self, image_ids: Sequence[str]) -> Edit | None:
        ids = _unique(image_ids)
        return self.record(f"Accept {_plural(len(ids))}", ids,
                           lambda: self.project.set_status(ids, "accepted"))

    def reject(self, image_ids: Sequence[str], reason: str | None = None) -> Edit | None:
        ids = _unique(image_ids)
        return self.record(f"Reject {_plural(len(ids))}", ids,
                           lambda: self.project.set_status(ids, "rejected", reason))

    def reset(self, image_ids: Sequence[str]) -> Edit | None:
        """Back to pending (neither accepted nor rejected)."""
        ids = _unique(image_ids)
        return self.record(f"Mark {_plural(len(ids))} pending", ids,
                           lambda: self.project.set_status(ids, "pending"))

    def relabel(self, image_ids: Sequence[str], city: str | None) -> Edit | None:
        """Give the images another city (a slug or name; None = unlabelled)."""
        ids = _unique(image_ids)
        slug = self.project.city(city).slug if city else None  # a bad name fails before anything changes
        return self.record(f"Relabel {_plural(len(ids))} as {slug or 'unlabelled'}", ids,
                           lambda: self.project.set_city(ids, slug))

    def record(self, text: str, image_ids: Sequence[str], change: Callable[[], None]) -> Edit | None:
        """Run `change` (which edits labels of `image_ids` only) and keep it undoable.

        Other modules (a quality review) use this to make their own edits part of the same history.
        Returns None, keeping nothing, when the change altered no label.
        """
        ids = _unique(image_ids)
        if not ids:
            return None
        before = self.project.label_snapshot(ids)
        change()
        after = self.project.label_snapshot(ids)
        changed = [i for i in after if after[i] != before.get(i)]
        if not changed:
            return None
        edit = Edit(text, {i: before[i] for i in changed}, {i: after[i] for i in changed})
        self._undo.append(edit)
        del self._undo[:-self.limit]
        self._redo.clear()
        self._notify(edit)
        return edit

    # ------------------------------------------------------------------ undo / redo
    def undo(self) -> Edit | None:
        """Revert the latest edit; returns it (None when there is nothing to undo)."""
        if not self._undo:
            return None
        edit = self._undo[-1]
        self.project.restore_labels(edit.before)  # raises before the stacks move if it cannot
        self._redo.append(self._undo.pop())
        self._notify(edit.inverse())
        return edit

    def redo(self) -> Edit | None:
        if not self._redo:
            return None
        edit = self._redo[-1]
        self.project.restore_labels(edit.after)
        self._undo.append(self._redo.pop())
        self._notify(edit)
        return edit

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    # ------------------------------------------------------------------ listeners
    def add_listener(self, callback: Callable[[Edit], None]) -> None:
        self._listeners.append(callback)

    def _notify(self, edit: Edit) -> None:
        for callback in list(self._listeners):
            callback(edit)


def _unique(image_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(image_ids))
