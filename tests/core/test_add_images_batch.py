"""Photos are stored in batches (`Project.add_images`): one flush to disk and one transaction for many photos,
so an import is not one fsync per photo. What a user relies on stays: each photo once, no row without its
file, nothing left behind when the database refuses, and an import still refuses a damaged JPEG although it
now checks a kept JPEG at 1/8 scale."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core import fsutil
from core.data import catalog
from core.data.importing import import_source
from core.data.project import NewImage, Project
from core.errors import GeoSpottrError
from core.imaging import ImageError, sha256_bytes, validate_bytes


def _jpeg(seed: int, size=(320, 240), **save) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)  # blocks: compresses like a photo
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").resize(size, Image.Resampling.BILINEAR).save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def _new(data: bytes, city: str | None = "zagreb") -> NewImage:
    valid = validate_bytes(data, "photo")
    return NewImage(valid.jpeg, valid.sha256, valid.width, valid.height, city, "import", {"lat": 45.8, "lon": 15.97})


@pytest.fixture
def project(tmp_path):
    with Project.init(tmp_path / "p", [catalog.resolve("Zagreb,HR")]) as proj:
        yield proj


def _files(project: Project) -> list[str]:
    return sorted(p.name for p in (project.root / "images").rglob("*.jpg"))


def test_a_batch_stores_each_photo_once_even_twice_in_the_same_batch(project):
    a, b = _jpeg(1), _jpeg(2)
    first = project.add_images([_new(a), _new(b), _new(a, city=None)])
    assert [r is not None for r in first] == [True, True, False]
    assert first[0].sha256 == sha256_bytes(a) and first[0].lat == 45.8
    again = project.add_images([_new(b), _new(_jpeg(3))])
    assert [r is not None for r in again] == [False, True]
    assert len(project.images()) == 3 == len(_files(project))
    assert all(project.image_path(r).read_bytes() for r in project.images())


def test_without_syncfs_each_file_is_flushed_and_the_photos_are_stored(project, monkeypatch):
    monkeypatch.setattr(fsutil, "_syncfs", None)  # macOS, Windows: fsync file by file
    flushed: list[int] = []
    real_fsync = fsutil.os.fsync
    monkeypatch.setattr(fsutil.os, "fsync", lambda fd: (flushed.append(fd), real_fsync(fd)))
    records = project.add_images([_new(_jpeg(n)) for n in range(5)])
    assert all(records) and len(_files(project)) == 5
    assert len(flushed) >= 5  # every file (and its folder where the system allows) before the rows commit


def test_a_refused_transaction_takes_the_batch_files_back(project, monkeypatch):
    project.add_images([_new(_jpeg(10))])

    def refuse(rows):
        raise GeoSpottrError("database or disk is full")

    monkeypatch.setattr(project, "_insert_images", refuse)
    with pytest.raises(GeoSpottrError, match="full"):
        project.add_images([_new(_jpeg(n)) for n in range(11, 15)])
    assert len(_files(project)) == 1 and len(project.images()) == 1  # the earlier photo stays, no orphans


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_import_still_refuses_a_cut_jpeg_it_now_checks_at_reduced_scale(tmp_path, project, progressive):
    whole = _jpeg(20, size=(640, 480), progressive=progressive)
    assert validate_bytes(whole, "ok", full_image=False).jpeg == whole  # kept byte for byte
    cut = whole[: int(len(whole) * 0.6)]
    with pytest.raises(ImageError):
        validate_bytes(cut, "cut", full_image=False)
    folder = tmp_path / "src" / "zagreb"
    folder.mkdir(parents=True)
    (folder / "whole.jpg").write_bytes(whole)
    (folder / "cut.jpg").write_bytes(cut)
    report = import_source(project, tmp_path / "src")
    assert report.added == 1 and [p.rsplit("/", 1)[-1] for p, _ in report.rejected] == ["cut.jpg"]
    stored = project.images()[0]
    assert (stored.width, stored.height) == (640, 480)


def test_the_map_reads_each_image_place_as_the_full_records_say(project):
    """`image_places` is the narrow read the Dataset map uses: the same ids, places and cities as `images`."""
    records = project.add_images([_new(_jpeg(n)) for n in range(30, 34)] + [_new(_jpeg(34), city=None)])
    project.set_status([records[0].id], "rejected")
    for status in (None, ("pending", "accepted"), ("rejected",)):
        full = [(r.id, r.lat, r.lon, r.city_slug) for r in project.images(status=status)]
        assert project.image_places(status=status) == full
    assert sum(1 for *_, slug in project.image_places() if slug is None) == 1
