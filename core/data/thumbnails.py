"""Thumbnails of project images: cached on disk, made by one background job fed from a request queue.

Why a queue served newest-first: a grid scrolled fast asks for hundreds of thumbnails it no longer
shows; serving the latest requests first (and dropping the oldest past a cap) keeps what is on screen
fast. The job never knows who listens: it reports each thumbnail as a ``"thumbnail"`` event carrying
raw RGB bytes, which any toolkit turns into its own image type.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ..events import Control, Event, EventCallback
from ..fsutil import safe_child
from ..imaging import ImageError, thumbnail
from .project import Project

THUMBNAIL = "thumbnail"
#: Queued requests beyond this are dropped, oldest first (they scrolled out of view long ago).
MAX_PENDING = 512


def cache_path(project: Project, image_id: str, size: int) -> Path:
    """Where the `size`-pixel thumbnail of an image lives (``cache/thumbs/<size>/<ab>/<id>.jpg``)."""
    return safe_child(project.cache_dir, "thumbs", str(size), image_id[:2], f"{image_id}.jpg")


@dataclass(frozen=True)
class ThumbnailRequest:
    key: str                 # echoed back in the event (an image id)
    path: Path               # the source image
    size: int
    cache: Path | None       # None: make it but do not keep it (large previews)


class ThumbnailQueue:
    """Thread-safe newest-first queue of requests; asking again for a queued key moves it to the front."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self.max_pending = max_pending
        self._items: OrderedDict[tuple[str, int], ThumbnailRequest] = OrderedDict()
        self._ready = threading.Condition()

    def put(self, request: ThumbnailRequest) -> None:
        with self._ready:
            key = (request.key, request.size)
            self._items.pop(key, None)
            self._items[key] = request
            while len(self._items) > self.max_pending:
                self._items.popitem(last=False)
            self._ready.notify()

    def get(self, timeout: float) -> ThumbnailRequest | None:
        with self._ready:
            if not self._items and not self._ready.wait(timeout):
                return None
            return self._items.popitem(last=True)[1] if self._items else None

    def clear(self) -> None:
        with self._ready:
            self._items.clear()

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)


def serve_thumbnails(queue: ThumbnailQueue, *, on_event: EventCallback, control: Control) -> None:
    """Make thumbnails for queued requests until cancelled (a long-lived job; see `core.events`).

    Each result is an event of kind ``"thumbnail"`` with ``data = {key, size, width, height, rgb}``
    (``rgb`` is None and ``message`` the reason when the image cannot be read).
    """
    while True:
        control.checkpoint()
        request = queue.get(timeout=0.1)
        if request is None:
            continue
        data = {"key": request.key, "size": request.size}
        try:
            img = thumbnail(request.path, request.size, request.cache)
        except ImageError as exc:
            on_event(Event(THUMBNAIL, str(exc), scope=request.key, data={**data, "rgb": None}))
            continue
        on_event(Event(THUMBNAIL, scope=request.key,
                       data={**data, "width": img.width, "height": img.height, "rgb": img.tobytes()}))
