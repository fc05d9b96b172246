"""Cached features: every photo decoded once, its features computed once, stored on disk memory-mapped.

Two users: the fine-tune path (`--cache-features`: the frozen trunk's output, so later epochs train the
head only) and the linear probes (`core.training.probe`: each member's view features). Both go through
`extract`, the one caching pipeline:

* **one decode per photo for every member**: the photo is decoded and preprocessed once (`DecodedPhotos`,
  in DataLoader worker processes while the model runs) and every member's features are computed from
  that one tensor (`extract` takes one `compute` function that returns the rows of the members whose cache
  is not finished yet);
* **one float16 array per cache on disk**, ``(N, *shape)`` ``.npy``, written in chunks of `CHUNK_ROWS`
  photos through a memory map (`RowsFile`); after each chunk the map is flushed and a small state file
  says how many rows are final, so a run killed (even ``kill -9``) resumes from its last chunk;
* **a photo that fails to decode is skipped**, never the job: its row stays zero, a warning names it and
  the count is logged at the end; the indices are kept beside the cache (``<key>.bad.json``) so every
  reader drops the same photos (`load_rows`);
* **batches sized to memory** (`batch_for_memory`) and **progress with images/s and ETA**;
* **sharded across ranks** under torchrun: chunks are dealt round-robin, each rank extracts its own and
  rank 0 gathers and writes them (`core.training.distributed`), so N processes cache N times faster.

The key hashes everything that changes a feature (weights, input size, normalisation, image list): any
change makes a new cache, never a stale one. Augmentation of cached trunk features is flip-only: the
cached map of a mirrored image is taken as the mirrored map (convolutions are close to flip-equivariant).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .. import fsutil
from ..errors import GeoSpottrError
from ..events import LOG, PROGRESS, WARNING, Control, Event, EventCallback, ignore_events
from ..fsutil import atomic_write_text, safe_child
from ..imaging import ImageError
from ..typed import read_json
from . import distributed
from .budget import duration_text
from .data import Sample
from .transforms import eval_transform, load_for_model

DEFAULT_CAP_GB = 8.0
#: Photos per chunk: what a kill can lose, and how often the state file is rewritten.
CHUNK_ROWS = 256
#: Share of the available memory one batch's inputs and activations may use (`batch_for_memory`).
MEMORY_SHARE = 0.25
#: Bytes of activations per input pixel and view, measured on the Lite backbones (peak RSS / batch).
ACTIVATION_BYTES_PER_PIXEL = 160


def cache_key(frozen: nn.Module, image_size: int, mean: Sequence[float], std: Sequence[float],
              samples: Sequence[Sample], crop_bottom: float = 0.0) -> str:
    h = hashlib.sha1()
    for name, tensor in sorted(frozen.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(json.dumps([image_size, list(mean), list(std), [s.path for s in samples]]).encode())
    if crop_bottom:  # only then, so caches made before the option existed stay valid
        h.update(f"crop_bottom={crop_bottom}".encode())
    return h.hexdigest()[:16]


@torch.no_grad()
def feature_shape(frozen: nn.Module, image_size: int) -> tuple[int, ...]:
    return tuple(frozen.eval()(torch.zeros(1, 3, image_size, image_size)).shape[1:])


def estimate_bytes(shape: Sequence[int], count: int) -> int:
    """Disk size of `count` fp16 feature maps of `shape`."""
    return int(np.prod(shape)) * 2 * count


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def check_size(shape: Sequence[int], count: int, cap_gb: float) -> int:
    """The estimated size, or a one-line error when it exceeds the cap."""
    need = estimate_bytes(shape, count)
    if need > cap_gb * 1024 ** 3:
        raise GeoSpottrError(f"the feature cache would take {human_bytes(need)} (> cap {cap_gb:g} GB); "
                             "raise --cache-cap-gb, use a smaller --image-size, or train without --cache-features")
    return need


def available_memory() -> int | None:
    """Bytes the system can still give (Linux ``MemAvailable``), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def batch_for_memory(requested: int, image_size: int, view_size: int | None = None, views: int = 1,
                     available: int | None = None) -> int:
    """`requested`, lowered so one batch (decoded inputs plus the activations of its views) fits in
    `MEMORY_SHARE` of the available memory: a 640-pixel frame on a small machine must not swap."""
    available = available_memory() if available is None else available
    if not available:
        return requested
    view = view_size or image_size
    per_image = 3 * image_size ** 2 * 4 + views * view ** 2 * ACTIVATION_BYTES_PER_PIXEL
    return max(1, min(requested, int(available * MEMORY_SHARE) // per_image))


class DecodedPhotos(Dataset):
    """(model input, index, why it failed or "") per photo: decoded once (`transforms.load_for_model`: JPEG
    draft at the model size, then THE eval rule of `core.models.preprocessing`). Runs in DataLoader workers. A photo
    that cannot be decoded gives a zero array and its reason, so one bad file never stops a long job."""

    def __init__(self, paths: Sequence[str], image_size: int, mean: Sequence[float], std: Sequence[float],
                 crop_bottom: float = 0.0) -> None:
        self.paths = list(paths)
        self.image_size = image_size
        self.transform = eval_transform(image_size, mean, std, crop_bottom)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        try:
            return load_for_model(self.paths[i], self.image_size, self.transform), i, ""
        except ImageError as exc:
            return torch.zeros(3, self.image_size, self.image_size), i, str(exc) or "cannot be decoded"


def _state_path(path: Path) -> Path:
    return path.with_name(path.stem + ".building.json")


def _bad_path(path: Path) -> Path:
    return path.with_name(path.stem + ".bad.json")


#: Cap of a cache's state and skipped-photo files: they list a reason per undecodable photo, so they grow
#: with the project (about 100 bytes a photo); the typed reader's small-file cap would refuse a big one.
STATE_MAX_BYTES = 256 * 1024 * 1024

class RowsFile:
    """One ``(count, *shape)`` float16 ``.npy`` under construction, resumable.

    The rows live in ``<stem>.building.npy`` (a memory map, its blocks reserved up front so a full disk
    is one line, not a SIGBUS) next to ``<stem>.building.json`` = ``{"done", "count", "shape", "bad"}``.
    `commit` flushes the map *before* rewriting the state, so the state never claims rows that are not on
    disk; `finish` renames the array to its final name. A new `RowsFile` on the same path continues from
    the committed rows when count and shape agree, else starts over.
    """

    def __init__(self, path: Path, count: int, shape: Sequence[int]) -> None:
        self.path, self.count, self.shape = path, count, tuple(int(s) for s in shape)
        self.part = path.with_name(path.stem + ".building.npy")
        self.state = _state_path(path)
        self.done, self.bad = 0, {}
        saved = self._saved_state()
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = _open_rows(self.part, count, self.shape, "r+") if saved is not None else None
        if rows is not None and saved is not None:
            self.rows = rows
            self.done, self.bad = saved["done"], saved["bad"]
        else:
            self.part.unlink(missing_ok=True)  # whatever was there (a FIFO would block the write below)
            self.rows = np.lib.format.open_memmap(self.part, mode="w+", dtype=np.float16, shape=(count, *self.shape))
            fsutil.reserve_space(self.part)
            self.commit(0)

    def _saved_state(self) -> dict | None:
        """The committed progress of a killed build (``done`` rows, ``bad`` photos by index), or None when
        there is none or it does not fit this build (damaged, another count or shape): then it starts over."""
        try:
            saved = read_json(self.state, "feature cache state", STATE_MAX_BYTES)
        except GeoSpottrError:  # damaged, or a killed writer's: the cache is rebuilt
            return None
        if not isinstance(saved, dict) or saved.get("count") != self.count or not isinstance(saved.get("shape"), list) \
                or tuple(saved["shape"]) != self.shape \
                or not isinstance(saved.get("done"), int) or not 0 <= saved["done"] <= self.count \
                or not isinstance(saved.get("bad"), dict):
            return None
        try:
            return {"done": saved["done"], "bad": {int(k): str(v) for k, v in saved["bad"].items()}}
        except ValueError:  # an index that is not a number
            return None

    def write(self, start: int, rows: np.ndarray, bad: dict[int, str]) -> None:
        self.rows[start:start + len(rows)] = rows
        self.bad.update(bad)

    def commit(self, done: int) -> None:
        """Rows below `done` are final: flush them, then say so in the state file."""
        self.rows.flush()
        self.done = done
        atomic_write_text(self.state, json.dumps({"done": done, "count": self.count, "shape": list(self.shape),
                                                  "bad": {str(k): v for k, v in sorted(self.bad.items())}}))

    def finish(self) -> None:
        self.rows.flush()
        del self.rows
        if self.bad:  # before the rename: a final .npy is never without its list of skipped photos
            atomic_write_text(_bad_path(self.path), json.dumps({str(k): v for k, v in sorted(self.bad.items())}))
        else:
            _bad_path(self.path).unlink(missing_ok=True)
        os.replace(self.part, self.path)
        self.state.unlink(missing_ok=True)


def _open_rows(path: Path, count: int, shape: Sequence[int], mode: Literal["r", "r+"] = "r") -> np.memmap | None:
    """`path` memory-mapped when it is a whole ``(count, *shape)`` float16 array, else None: a truncated,
    foreign or crafted file (a pickle, another shape) is not a cache this build wrote."""
    if not path.is_file():
        return None
    try:
        rows = np.load(path, mmap_mode=mode)
    except (OSError, ValueError):  # ValueError: a bad header, a pickle, a file shorter than its header says
        return None
    return rows if isinstance(rows, np.memmap) and rows.dtype == np.float16 and rows.shape == (count, *shape) else None


def _finished(target: "Target", count: int, on_event: EventCallback) -> bool:
    """Whether `target`'s cache is built and whole. A damaged one is removed, with a warning, so it is built
    again: a cache is derived from the photos, so rebuilding it loses nothing (reading it would crash)."""
    if not target.path.is_file():
        return False
    if _open_rows(target.path, count, target.shape) is not None:
        return True
    on_event(Event(WARNING, f"{target.path.name}: a damaged feature cache, rebuilt"))
    target.path.unlink(missing_ok=True)
    _bad_path(target.path).unlink(missing_ok=True)
    return False


def load_rows(path: Path) -> tuple[np.ndarray, dict[int, str]]:
    """A finished cache, memory-mapped read-only, and its skipped photos (index -> reason)."""
    try:
        bad = {int(k): str(v) for k, v in read_json(_bad_path(path), "list of skipped photos", STATE_MAX_BYTES, missing={}).items()}
    except (GeoSpottrError, ValueError, AttributeError) as exc:
        raise GeoSpottrError(f"{_bad_path(path)}: unreadable list of skipped photos ({exc}); delete the "
                             f"folder {path.parent} to rebuild the cache") from None
    return np.load(path, mmap_mode="r"), bad


@dataclass(frozen=True)
class Target:
    """One cache `extract` fills: its final path and the shape of one photo's row."""

    path: Path
    shape: tuple[int, ...]


#: Rows of a batch of model inputs for the targets at the given indices (in that order): a function that
#: computes only what is asked, so members whose cache is finished cost nothing.
Compute = Callable[[torch.Tensor, Sequence[int]], list[torch.Tensor]]


def _chunk_count(count: int) -> int:
    return -(-count // CHUNK_ROWS)


def _chunks(start_chunk: int, count: int, ctx: distributed.DistContext) -> list[range]:
    """Rows of every chunk this rank extracts, from `start_chunk` on: chunks dealt round-robin, so after
    each round of gathers the committed rows are one unbroken prefix."""
    return [range(c * CHUNK_ROWS, min(count, (c + 1) * CHUNK_ROWS))
            for c in range(start_chunk + ctx.rank, _chunk_count(count), ctx.world_size)]


def _batches(chunks: Sequence[range], batch_size: int) -> list[list[int]]:
    """Index batches that never straddle two chunks (a chunk is then complete after its last batch)."""
    return [list(rows[i:i + batch_size]) for rows in chunks for i in range(0, len(rows), batch_size)]


@torch.no_grad()
def extract(targets: Sequence[Target], compute: Compute, photos: DecodedPhotos, device: torch.device,
            batch_size: int, num_workers: int, split: str, names: str = "", on_event: EventCallback = ignore_events,
            control: Control | None = None, ctx: distributed.DistContext | None = None
            ) -> list[tuple[np.ndarray, dict[int, str]]]:
    """Fill every target's cache from one pass over `photos` (each decoded once), resuming a killed build;
    return each target's rows (memory-mapped fp16) and skipped photos (index -> reason). Progress has scope
    ``cache <split>``; `names` says whose features they are ("4 backbones").

    Finished targets are read, not rebuilt. Under torchrun (`ctx`) every rank calls this with the same
    arguments: rank 0 decides what is missing and where to resume, each rank extracts its share of the
    chunks, rank 0 gathers and writes them, and every rank returns the finished files (the ranks' machines
    must share the project folder, as they share the project for training).
    """
    ctx = ctx or distributed.DistContext()
    control = control or Control()
    lock, files, plan = None, [], None
    try:
        if ctx.is_main:
            if not all(_finished(t, len(photos), on_event) for t in targets):
                lock = _Lock(targets[0].path)  # then look again: another process may have built them
            todo = [i for i, t in enumerate(targets) if not _finished(t, len(photos), on_event)]
            files = [RowsFile(targets[i].path, len(photos), targets[i].shape) for i in todo]
            plan = todo, min((f.done for f in files), default=0) // CHUNK_ROWS
        todo, start_chunk = distributed.broadcast(ctx, plan)
        if todo:
            what = f"{split} features" + (f" ({names})" if names else "")
            _fill(todo, files, compute, photos, device, batch_size, num_workers, what, f"cache {split}", on_event,
                  control, ctx, start_chunk)
    finally:
        if lock is not None:
            lock.release(finished=all(t.path.is_file() for t in targets))
    distributed.barrier(ctx)
    return [load_rows(t.path) for t in targets]


def _fill(todo: list[int], files: list[RowsFile], compute: Compute, photos: DecodedPhotos, device: torch.device,
          batch_size: int, num_workers: int, what: str, scope: str, on_event: EventCallback, control: Control,
          ctx: distributed.DistContext, start_chunk: int) -> None:
    count = len(photos)
    chunks = _chunks(start_chunk, count, ctx)
    loader = DataLoader(photos, batch_sampler=_batches(chunks, batch_size), num_workers=num_workers)
    first = start_chunk * CHUNK_ROWS
    if first and ctx.is_main:
        on_event(Event(LOG, f"caching {what}: resuming at photo {first} of {count} (after the last complete chunk)"))
    started, seen = time.perf_counter(), 0

    def tick(n: int) -> None:  # a progress line per batch: photos/s and the time left, all ranks counted
        nonlocal seen
        seen += n * ctx.world_size
        rate = seen / max(time.perf_counter() - started, 1e-9)
        done = min(count, first + seen)
        eta = (count - done) / max(rate, 1e-9)
        on_event(Event(PROGRESS, f"caching {what}: {rate:.1f} img/s, ETA {duration_text(eta)}", done=done, total=count,
                       scope=scope, data={"images_per_s": rate, "eta_s": eta}))

    mine = _chunk_results(iter(loader), chunks, compute, todo, device, control, tick)
    rounds = -(-(_chunk_count(count) - start_chunk) // ctx.world_size)
    for r in range(rounds):
        gathered = distributed.gather(ctx, next(mine, None))
        if not ctx.is_main:
            continue
        for rows_start, rows, bad in filter(None, gathered):
            for f, part in zip(files, rows):
                f.write(rows_start, part, bad)
            for i, reason in sorted(bad.items()):
                on_event(Event(WARNING, f"skipped {photos.paths[i]}: {reason}", scope=scope))
        for f in files:
            f.commit(min(count, (start_chunk + (r + 1) * ctx.world_size) * CHUNK_ROWS))
        fsutil.kill_point("cache-chunk")  # crash tests: a chunk committed, the rest not yet
    for f in files:
        f.finish()
    skipped = len(files[0].bad) if files else 0
    if skipped:
        on_event(Event(LOG, f"caching {what}: {skipped} of {count} photos could not be decoded and were skipped "
                            "(each named above); the rest are cached", data={"skipped": skipped}))


def _chunk_results(batches: Iterator, chunks: Sequence[range], compute: Compute, todo: Sequence[int],
                   device: torch.device, control: Control, tick: Callable[[int], None]
                   ) -> Iterator[tuple[int, list[np.ndarray], dict[int, str]]]:
    """This rank's chunks as (first row, each pending target's fp16 rows, skipped photos)."""
    for rows in chunks:
        parts: list[list[np.ndarray]] = [[] for _ in todo]
        bad: dict[int, str] = {}
        got = 0
        while got < len(rows):
            control.checkpoint()
            images, index, reasons = next(batches)
            failed = [k for k, reason in enumerate(reasons) if reason]
            for slot, feats in enumerate(compute(images.to(device, non_blocking=True), todo)):
                out = feats.float().cpu().numpy().astype(np.float16)
                out[failed] = 0
                parts[slot].append(out)
            bad.update({int(index[k]): reasons[k] for k in failed})
            got += len(index)
            tick(len(index))
        yield rows.start, [np.concatenate(p) for p in parts], bad


class _Lock:
    """An exclusive lock on a cache being built, so two processes (the GUI's learning curve and a training
    run) never write the same chunks; the second waits and then reads what the first built. Where
    ``fcntl`` is missing (Windows) there is no lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path.with_name(path.stem + ".building.lock"), "a+b")
        try:
            import fcntl
        except ImportError:
            return
        fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX)

    def release(self, finished: bool) -> None:
        """Unlock; the lock file goes too once every cache it guards is `finished` (anyone who waited on it
        then finds them built). An unfinished build keeps it: a waiter on a deleted lock file and a newcomer
        on a fresh one would otherwise both write the same chunks."""
        if finished:
            Path(self.fh.name).unlink(missing_ok=True)
        self.fh.close()


def trunk_features(frozen: nn.Module, samples: Sequence[Sample], path: Path, image_size: int, mean: Sequence[float],
                   std: Sequence[float], crop_bottom: float, device: torch.device, batch_size: int, num_workers: int,
                   on_event: EventCallback, control: Control, split: str,
                   ctx: distributed.DistContext | None = None) -> tuple[np.ndarray, dict[int, str]]:
    """The frozen trunk's fp16 output for `samples` at `path` (built by `extract`, or reused)."""
    shape = feature_shape(frozen.cpu(), image_size)
    frozen = frozen.to(device).eval()
    photos = DecodedPhotos([s.path for s in samples], image_size, mean, std, crop_bottom)
    [(rows, bad)] = extract([Target(path, shape)], lambda x, _: [frozen(x)], photos, device,
                            batch_for_memory(batch_size, image_size), num_workers, split, "", on_event, control, ctx)
    return rows, bad


def cache_folder(cache_dir: Path, key: str) -> Path:
    """``cache_dir/features/<key>/``, checked to stay inside `cache_dir` (`fsutil.safe_child`)."""
    return safe_child(cache_dir, "features", key)


def write_cache_note(folder: Path, info: dict) -> None:
    atomic_write_text(folder / "cache.json", json.dumps(info, indent=1))


class FeatureDataset(Dataset):
    """(cached feature map as float32, label, index); `flip` mirrors half the maps at random. Rows listed
    in `skip` (photos that could not be decoded) are left out."""

    def __init__(self, features: np.ndarray, labels: Sequence[int], flip: bool, skip: Sequence[int] = ()) -> None:
        self.features = features
        self.labels = list(labels)
        self.flip = flip
        dropped = set(skip)
        self.rows = [i for i in range(len(self.labels)) if i not in dropped]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        row = self.rows[i]
        x = torch.from_numpy(np.array(self.features[row], dtype=np.float32))
        if self.flip and torch.rand(()) < 0.5:
            x = torch.flip(x, dims=(-1,))
        return x, self.labels[row], i
