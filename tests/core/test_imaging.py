"""Every awkward file either becomes a clean RGB image or a clear reason naming the file."""

import pytest

from core.imaging import ImageError, load_image, thumbnail, validate_bytes

from .bad_images import write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_usable_files_decode_to_rgb(corpus):
    for name, (path, ok) in corpus.items():
        if ok:
            img = load_image(path)
            assert img.mode == "RGB", name


def test_exif_orientation_is_applied(corpus):
    img = load_image(corpus["rotated.jpg"][0])
    assert img.size == (60, 80)
    assert validate_bytes(corpus["rotated.jpg"][0].read_bytes()).width == 60


@pytest.mark.parametrize("name,reason", [("zero.jpg", "empty file"), ("truncated.jpg", "truncated"),
                                         ("notes.jpg", "not an image"), ("fake.heic", "HEIC"),
                                         ("bomb.png", "decompression bomb")])
def test_unusable_files_give_a_reason_naming_the_file(corpus, name, reason):
    path = corpus[name][0]
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert reason in str(info.value)
    assert str(path) in str(info.value)


def test_sixteen_bit_keeps_its_range(corpus):
    img = load_image(corpus["grey16.png"][0])
    lo, hi = img.getextrema()[0]
    assert lo < 10 and hi > 245  # rescaled from 0..65535, not clipped to white


def test_good_jpeg_is_stored_byte_for_byte_and_others_reencoded(corpus):
    data = corpus["good.jpg"][0].read_bytes()
    assert validate_bytes(data).jpeg == data
    png = validate_bytes(corpus["alpha.png"][0].read_bytes())
    assert png.jpeg[:2] == b"\xff\xd8" and png.original_format == "PNG"


def test_thumbnail_is_cached(tmp_path, corpus):
    cache = tmp_path / "thumbs" / "a.jpg"
    thumb = thumbnail(corpus["good.jpg"][0], 32, cache)
    assert max(thumb.size) <= 32 and cache.exists()
    assert thumbnail(corpus["good.jpg"][0], 32, cache).size == thumb.size
