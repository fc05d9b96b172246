"""Undoable curation over a real project: every edit persists at once and undo / redo restore it exactly."""

from __future__ import annotations

import pytest

from core.data.curation import CurationHistory
from core.data.thumbnails import ThumbnailQueue, ThumbnailRequest, cache_path, serve_thumbnails
from core.errors import GeoSpottrError
from core.events import Control


def _labels(project, ids):
    return {r.id: (r.city_slug, r.status, r.reason) for r in project.images_by_id(ids).values()}


def test_accept_reject_relabel_undo_redo(tiny_project):
    project = tiny_project
    ids = project.image_ids(city="zagreb")[:3]
    start = _labels(project, ids)
    history = CurationHistory(project)
    seen = []
    history.add_listener(seen.append)

    history.accept(ids[:1])
    history.reject(ids, reason="blurry")
    history.relabel(ids[1:], "split")
    assert _labels(project, ids)[ids[2]] == ("split", "rejected", "blurry")
    assert history.undo_text == "Relabel 2 images as split"

    assert history.undo().text.startswith("Relabel")
    assert {v[0] for v in _labels(project, ids).values()} == {"zagreb"}
    history.undo()
    assert _labels(project, ids)[ids[0]] == ("zagreb", "accepted", None)
    history.undo()
    assert _labels(project, ids) == start
    assert not history.can_undo and history.undo() is None

    history.redo()
    history.redo()
    assert _labels(project, ids)[ids[1]] == ("zagreb", "rejected", "blurry")
    history.accept(ids[1:2])  # a new edit drops what could still be redone
    assert not history.can_redo
    assert len(seen) == 9  # 3 edits, 3 undos, 2 redos, 1 edit


def test_noop_edit_is_not_kept_and_bad_city_changes_nothing(tiny_project):
    history = CurationHistory(tiny_project)
    ids = tiny_project.image_ids(city="osijek")[:2]
    assert history.relabel(ids, "osijek") is None
    assert history.accept([]) is None
    with pytest.raises(GeoSpottrError):
        history.relabel(ids, "atlantis")
    assert not history.can_undo


def test_bulk_edit_is_one_step(tiny_project):
    history = CurationHistory(tiny_project)
    ids = tiny_project.image_ids()
    history.reject(ids)
    assert tiny_project.image_ids(status="rejected") == ids
    history.undo()
    assert tiny_project.image_ids(status="rejected") == []


def test_image_ids_filters_and_orders(tiny_project):
    project = tiny_project
    assert len(project.image_ids()) == 48
    by_city = project.image_ids(order="city")
    assert [project.image(i).city_slug for i in by_city[:1]] == ["osijek"]
    assert len(project.image_ids(split="test", source="import")) == len(project.images(split="test"))
    assert project.source_counts() == {"import": 48}
    with pytest.raises(GeoSpottrError):
        project.image_ids(order="images.id; DROP TABLE images")


def test_thumbnail_service_caches_and_reports_bad_files(tiny_project, tmp_path):
    project = tiny_project
    record = project.images()[0]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    queue = ThumbnailQueue(max_pending=3)
    queue.put(ThumbnailRequest("bad", bad, 32, None))
    target = cache_path(project, record.id, 32)
    queue.put(ThumbnailRequest(record.id, project.image_path(record), 32, target))
    control = Control()
    events = []

    def listen(event):
        events.append(event)
        if len(events) == 2:
            control.cancel()

    with pytest.raises(GeoSpottrError):
        serve_thumbnails(queue, on_event=listen, control=control)
    assert events[0].scope == record.id and events[0].data["width"] <= 32  # newest first
    assert len(events[0].data["rgb"]) == events[0].data["width"] * events[0].data["height"] * 3
    assert events[1].data["rgb"] is None and "not an image" in events[1].message
    assert target.exists()


def test_thumbnail_queue_drops_oldest():
    queue = ThumbnailQueue(max_pending=2)
    for key in "abc":
        queue.put(ThumbnailRequest(key, None, 8, None))
    queue.put(ThumbnailRequest("b", None, 8, None))
    assert [queue.get(0).key, queue.get(0).key, queue.get(0)] == ["b", "c", None]


def test_change_applies_in_chunks_off_the_history_and_cancel_rolls_back(tiny_project, monkeypatch):
    """The worker half (`apply_change`, `write_labels`) reports progress per chunk, touches no stack, and
    a cancel mid-way leaves the database as it was; `push` / `undone` / `redone` do the bookkeeping."""
    from core.data import curation
    from core.data.curation import apply_change, write_labels
    from core.errors import Cancelled

    monkeypatch.setattr(curation, "CHUNK", 10)
    project = tiny_project
    ids = project.image_ids()
    history = CurationHistory(project)
    change = history.reject_change(ids, reason="bulk")
    assert change.text == "Reject 48 images" and len(change) == 48

    control = Control()
    seen = []

    def cancel_after_first_chunk(event):
        seen.append(event)
        control.cancel()

    with pytest.raises(Cancelled):
        apply_change(project, change, on_event=cancel_after_first_chunk, control=control)
    assert len(seen) == 1 and seen[0].done == 10 and seen[0].total == 48
    assert project.image_ids(status="rejected") == [] and not history.can_undo

    events = []
    edit = apply_change(project, change, on_event=events.append, control=Control())
    assert [e.done for e in events] == [10, 20, 30, 40, 48] and {e.scope for e in events} == {"curation"}
    assert len(project.image_ids(status="rejected")) == 48 and not history.can_undo  # applied, not recorded
    assert history.push(edit) is edit and history.undo_text == "Reject 48 images"
    assert apply_change(project, change) is None  # nothing left to change

    write_labels(project, history.next_undo.before)
    history.undone(edit)
    assert project.image_ids(status="rejected") == [] and history.redo_text == "Reject 48 images"
    write_labels(project, history.next_redo.after)
    history.redone(edit)
    assert len(project.image_ids(status="rejected")) == 48 and history.can_undo and not history.can_redo


def test_a_change_goes_through_the_project_api_and_its_status_check(tiny_project):
    from core.data.curation import Change, apply_change

    project = tiny_project
    ids = project.image_ids(city="zagreb")[:3]
    start = _labels(project, ids)
    bogus = Change("Mark as maybe", ids, lambda label: (label[0], "maybe", None))
    with pytest.raises(GeoSpottrError, match="'maybe'"):
        apply_change(project, bogus)
    assert _labels(project, ids) == start  # nothing written: all images or none
