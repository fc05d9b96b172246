"""Undoable curation of a project's images: accept, reject, relabel, one image or thousands at once.

Every edit is saved to the database at once (a crash loses nothing the user saw), and is kept as an
`Edit` holding the labels of the touched images before and after it. Undo writes back ``before``, redo
writes ``after``: each edit is its own inverse with the two sides swapped, and both directions are one
transaction. The history lives here, not in the GUI, so the CLI or a quality review can share it; the
GUI's Undo / Redo actions only call `undo` / `redo` and listen for changes.

A big edit (30,000 images) takes a second or more, too long for a UI thread, so each step also comes
in two halves: the database half is a job (`apply_change`, `write_labels`: chunked, reporting progress,
cancellable, all or nothing) that may run in a worker thread and touches only the project, and the
bookkeeping half (`CurationHistory.push`, `undone`, `redone`) records the step once it has been applied,
on the thread that owns the history. `accept` / `undo` / ... run both halves at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from ..errors import GeoSpottrError
from ..events import PROGRESS, Control, Event, EventCallback, ignore_events
from .project import STATUSES, Project

#: (city_id, status, reason) of one image, as `Project.label_snapshot` gives it.
Label = tuple[int | None, str, str | None]
Labels = Mapping[str, Label]
#: Edits kept for undo; older ones drop off (each holds a few bytes per touched image).
DEFAULT_LIMIT = 500
#: Rows written between two checkpoints (a cancel or pause) and progress events of `write_labels`.
CHUNK = 1000
#: The `Event.scope` of curation progress.
SCOPE = "curation"


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


@dataclass(frozen=True)
class Change:
    """An edit worked out but not applied yet: its name, the images, and the new labels of one image
    given its current ones (`labels`). `apply_change` applies it; `CurationHistory.push` records the result."""

    text: str
    image_ids: list[str]
    labels: Callable[[Label], Label]

    def __len__(self) -> int:
        return len(self.image_ids)


def apply_change(project: Project, change: Change, *, on_event: EventCallback = ignore_events,
                 control: Control | None = None) -> Edit | None:
    """Job: apply `change` to the database and return the `Edit` it made (None when it altered no label).

    One transaction: the labels are read inside it (nobody changes them in between), then only the rows
    that change are written, `CHUNK` at a time with a checkpoint between chunks. A cancel or any error
    rolls everything back, so the project is left exactly as it was. Touches the project only (never a
    history), so it may run in any thread; the caller then records the edit with `CurationHistory.push`.
    """
    if not change.image_ids:
        return None
    if control is not None:
        control.checkpoint()
    changed = project.edit_labels(change.image_ids, change.labels, chunk=CHUNK,
                                  progress=_progress(change.text, on_event, control))
    if not changed:
        return None
    return Edit(change.text, {i: old for i, (old, _) in changed.items()}, {i: new for i, (_, new) in changed.items()})


def write_labels(project: Project, labels: Labels, *, text: str = "", on_event: EventCallback = ignore_events,
                 control: Control | None = None) -> None:
    """Job: write back `labels` (one side of an `Edit`): one transaction, chunked and cancellable like
    `apply_change`; all images or none."""
    if control is not None:
        control.checkpoint()
    project.write_labels(labels, chunk=CHUNK, progress=_progress(text, on_event, control))


def _progress(text: str, on_event: EventCallback, control: Control | None) -> Callable[[int, int], None]:
    """After each chunk, inside the project's transaction: report, then honour a cancel (which rolls the
    whole edit back, the last chunk included)."""
    def progress(done: int, total: int) -> None:
        on_event(Event(PROGRESS, text, done=done, total=total, scope=SCOPE))
        if control is not None:
            control.checkpoint()

    return progress


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
        return self.apply(self.accept_change(image_ids))

    def reject(self, image_ids: Sequence[str], reason: str | None = None) -> Edit | None:
        return self.apply(self.reject_change(image_ids, reason))

    def reset(self, image_ids: Sequence[str]) -> Edit | None:
        """Back to pending (neither accepted nor rejected)."""
        return self.apply(self.reset_change(image_ids))

    def relabel(self, image_ids: Sequence[str], city: str | None) -> Edit | None:
        """Give the images another city (a slug or name; None = unlabelled)."""
        return self.apply(self.relabel_change(image_ids, city))

    def apply(self, change: Change, *, on_event: EventCallback = ignore_events,
              control: Control | None = None) -> Edit | None:
        """Apply `change` here and now and record it (None, keeping nothing, when it altered no label)."""
        return self.push(apply_change(self.project, change, on_event=on_event, control=control))

    # ------------------------------------------------------------------ changes (not applied yet)
    def accept_change(self, image_ids: Sequence[str]) -> Change:
        return _status_change("Accept", image_ids, "accepted", None)

    def reject_change(self, image_ids: Sequence[str], reason: str | None = None) -> Change:
        return _status_change("Reject", image_ids, "rejected", reason)

    def reset_change(self, image_ids: Sequence[str]) -> Change:
        return _status_change("Mark", image_ids, "pending", None, suffix=" pending")

    def relabel_change(self, image_ids: Sequence[str], city: str | None) -> Change:
        ids = _unique(image_ids)
        found = self.project.city(city) if city else None  # a bad name fails before anything changes
        city_id = found.id if found else None
        return Change(f"Relabel {_plural(len(ids))} as {found.slug if found else 'unlabelled'}", ids,
                      lambda label: (city_id, label[1], label[2]))

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
        return self.push(Edit(text, {i: before[i] for i in changed}, {i: after[i] for i in changed}))

    def push(self, edit: Edit | None) -> Edit | None:
        """Record `edit`, already applied to the database (by `apply_change`, perhaps in a worker), as
        the latest undoable step and tell the listeners. None (an edit that changed nothing) is ignored."""
        if edit is None:
            return None
        self._undo.append(edit)
        del self._undo[:-self.limit]
        self._redo.clear()
        self._notify(edit)
        return edit

    # ------------------------------------------------------------------ undo / redo
    def undo(self, *, on_event: EventCallback = ignore_events, control: Control | None = None) -> Edit | None:
        """Revert the latest edit; returns it (None when there is nothing to undo)."""
        edit = self.next_undo
        if edit is None:
            return None
        # Raises (changing nothing, moving no stack) if it cannot.
        write_labels(self.project, edit.before, text=edit.inverse().text, on_event=on_event, control=control)
        return self.undone(edit)

    def redo(self, *, on_event: EventCallback = ignore_events, control: Control | None = None) -> Edit | None:
        edit = self.next_redo
        if edit is None:
            return None
        write_labels(self.project, edit.after, text=f"Redo {edit.text[0].lower()}{edit.text[1:]}",
                     on_event=on_event, control=control)
        return self.redone(edit)

    @property
    def next_undo(self) -> Edit | None:
        """The edit `undo` would revert: a caller that writes its ``before`` labels itself (in a worker,
        with `write_labels`) then calls `undone` with it."""
        return self._undo[-1] if self._undo else None

    @property
    def next_redo(self) -> Edit | None:
        return self._redo[-1] if self._redo else None

    def undone(self, edit: Edit) -> Edit:
        """`edit`'s ``before`` labels have been written: move it to the redo stack and tell the listeners.

        If the history changed meanwhile (cleared because a city was removed), the stacks stay as they
        are; the listeners still hear of the change, which did reach the database."""
        if self._undo and self._undo[-1] is edit:
            self._redo.append(self._undo.pop())
        self._notify(edit.inverse())
        return edit

    def redone(self, edit: Edit) -> Edit:
        """`edit`'s ``after`` labels have been written again: back onto the undo stack; see `undone`."""
        if self._redo and self._redo[-1] is edit:
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


def _status_change(verb: str, image_ids: Sequence[str], status: str, reason: str | None,
                   suffix: str = "") -> Change:
    if status not in STATUSES:
        raise GeoSpottrError(f"status must be one of {', '.join(STATUSES)}")
    ids = _unique(image_ids)
    return Change(f"{verb} {_plural(len(ids))}{suffix}", ids, lambda label: (label[0], status, reason))


def _unique(image_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(image_ids))
