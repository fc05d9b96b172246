"""Issue 24 item 5: what an image costs to decode is decided from its header, before a pixel is decoded:
a pixel and a byte budget (16-bit, RGBA, float and lossless images count their real size, a progressive
JPEG its full-size coefficient buffer), a JPEG draft for big JPEGs, and a JPEG whose data is far too
short for the size it claims is refused as truncated instead of being stored as a grey photo."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.imaging import MAX_DECODE_BYTES, ImageError, load_image, validate_bytes

from .conftest import cli, env, needs_linux
from .hostile import encoded, flat_jpeg, jpeg, png_zeros, progressive_jpeg_claiming

HOSTILE = {
    "grey16.png": (lambda: png_zeros(10900, 10900, 16, 0), "decompression bomb"),
    "rgba.png": (lambda: png_zeros(6000, 6000, 8, 6), "would take 137 MB"),
    "lossless.webp": (lambda: encoded("RGBA", (6000, 6000), "WEBP", lossless=True), "would take 137 MB"),
    "float.tif": (lambda: encoded("F", (6000, 6000), "TIFF", compression="tiff_adobe_deflate"), "would take 137 MB"),
    "progressive.jpg": (lambda: progressive_jpeg_claiming(30000, 30000), "truncated file"),
    "progressive_small.jpg": (lambda: progressive_jpeg_claiming(3000, 2000), "truncated file"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_over_budget_images_are_refused_from_the_header(name):
    make, reason = HOSTILE[name]
    data = make()
    for call in (lambda: validate_bytes(data, name), lambda: load_image(data, draft=(224, 224))):
        with pytest.raises(ImageError, match=reason) as info:
            call()
        assert "\n" not in str(info.value)


def test_within_budget_images_still_decode_and_big_jpegs_are_drafted():
    assert validate_bytes(png_zeros(5000, 5000, 8, 6), "rgba.png").width == 5000   # 100 MB: fits
    grey = validate_bytes(png_zeros(3000, 2000, 16, 0), "grey16.png")
    assert (grey.width, grey.height) == (3000, 2000) and grey.image.getextrema() == ((0, 0),) * 3
    big = validate_bytes(flat_jpeg((12000, 9000)), "108mp.jpg")
    assert big.width * big.height * 4 <= MAX_DECODE_BYTES and (big.width, big.height) == (6000, 4500)
    float_small = load_image(encoded("F", (300, 200), "TIFF"))
    assert float_small.size == (300, 200)


PEAK = """
import sys
from core.imaging import ImageError, validate_bytes
data = open(sys.argv[1], "rb").read()
try:
    validate_bytes(data, "x")
except ImageError:
    pass
with open("/proc/self/status") as fh:
    print(next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) // 1024)
"""


@needs_linux
def test_refusals_cost_no_pixel_memory(tmp_path):
    """Peak RSS of a fresh interpreter refusing each input stays within 64 MB of one that only imports."""
    def peak(data: bytes) -> int:
        path = tmp_path / "input"
        path.write_bytes(data)
        out = subprocess.run([sys.executable, "-c", PEAK, str(path)], env=env(), capture_output=True, text=True,
                             timeout=120, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        return int(out.stdout)
    base = peak(b"")
    for name, (make, _) in HOSTILE.items():
        assert peak(make()) - base < 64, name


def test_a_truncated_jpeg_claim_is_not_imported(tmp_path, proj):
    folder = tmp_path / "src" / "zagreb"
    folder.mkdir(parents=True)
    (folder / "claim.jpg").write_bytes(progressive_jpeg_claiming(30000, 30000))
    (folder / "fine.jpg").write_bytes(jpeg((64, 48), seed=9))
    before = len(list(proj.images_dir.rglob("*.jpg")))
    result = cli("--project", proj.root, "import", tmp_path / "src", timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 added" in result.stdout and "1 rejected" in result.stdout and "truncated file" in result.stdout
    rows = proj.images()
    assert len(rows) == 1 and rows[0].source_id == "fine.jpg"
    assert len(list(proj.images_dir.rglob("*.jpg"))) == before + 1
