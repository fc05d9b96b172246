"""The hostile corpus, generated at test time (nothing binary is committed): files that lie about their
size, never end, block on open, or are no files at all, plus slugs that try to escape a folder."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

#: City slugs an attacker could put in cities.json, a CSV, a database or the GUI.
EVIL_SLUGS = ["../../somewhere/deep", "..", ".", "a/b", "a\\b", "/abs", "C:evil", "con", "nul", "lpt1", "", " ",
              "Upper", "x" * 65, "nul\x00byte", "zägreb", "-lead", ".hidden", "semi;colon", 5, None, ["x"],
              {"slug": "x"}]


def jpeg(size: tuple[int, int], seed: int = 0, quality: int = 85, exif: bytes | None = None) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return buf.getvalue()


def flat_jpeg(size: tuple[int, int]) -> bytes:
    """A big but cheap JPEG (a gradient compresses to almost nothing): a 108 MP phone photo's shape."""
    small = Image.linear_gradient("L").resize((64, 48)).convert("RGB")
    buf = io.BytesIO()
    small.resize(size, Image.Resampling.NEAREST).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def strip_png(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG that decodes to a width x height strip (the 1x20000 predict case)."""
    buf = io.BytesIO()
    Image.new("L", (width, height), 128).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def strip_jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height RGB pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
            + _png_chunk(b"IEND", b""))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header is patched to claim width x height pixels."""
    data = bytearray(jpeg((16, 16)))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def corrupt_exif_jpeg() -> bytes:
    """A JPEG whose EXIF block lies about its length (Pillow warns "Corrupt EXIF data")."""
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00\x0f\x01\x02\x00\xff\xff\x00\x00\x40\x00\x00\x00"
    return jpeg((48, 36), seed=3, exif=exif)


def special_files(folder: Path) -> dict[str, Path]:
    """Things named like photos that are no regular files (or no sane ones); where the platform allows."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    if hasattr(os, "mkfifo"):
        out["fifo"] = folder / "fifo.jpg"
        os.mkfifo(out["fifo"])
    if Path("/dev/zero").exists():
        out["dev_zero"] = folder / "zero.jpg"
        out["dev_zero"].symlink_to("/dev/zero")
    out["sparse"] = folder / "sparse.jpg"
    with out["sparse"].open("wb") as fh:
        fh.truncate(8 * 1024**3)  # 8 GB that take no disk (a sparse file)
    out["folder"] = folder / "folder.jpg"
    out["folder"].mkdir()
    return out


def eps_program(marker: Path) -> bytes:
    """An EPS file (Pillow would hand it to Ghostscript, a PostScript interpreter) whose program writes
    `marker` and then loops for ever: named .jpg it must be refused from its header, never run."""
    return (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n%%EndComments\n"
            + b"(" + str(marker).encode() + b") (w) file dup (ran) writestring closefile\n"
            + b"{ } loop\nshowpage\n%%EOF\n")


def png_zeros(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    """A complete, valid PNG of width x height zero pixels (grey 0, RGB 2, RGBA 6; 8 or 16 bits):
    compressed zeros, so a 10,900 x 10,900 16-bit image is ~230 KB on disk and 237 MB decoded."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row = b"\x00" * (1 + width * channels * bit_depth // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def encoded(mode: str, size: tuple[int, int], fmt: str, **options: object) -> bytes:
    """A flat image of `mode` and `size` saved by Pillow as `fmt` (lossless WebP, deflated float TIFF...)."""
    buf = io.BytesIO()
    Image.new(mode, size, 0).save(buf, fmt, **options)
    return buf.getvalue()


def progressive_jpeg_claiming(width: int, height: int) -> bytes:
    """A 16x16 progressive JPEG whose frame header is patched to claim width x height: its data ends
    long before the pixels it claims (libjpeg fills the rest with grey and says nothing)."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
        buf, "JPEG", progressive=True)
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc2")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)
