"""A corpus of awkward image files, generated: what users really drop on the tool."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _photo(size=(80, 60), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def write_corpus(folder: Path) -> dict[str, tuple[Path, bool]]:
    """name -> (path, usable). Usable files must import/predict; the others must be refused with a reason."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, bool]] = {}

    def put(name: str, data: bytes, ok: bool) -> None:
        path = folder / name
        path.write_bytes(data)
        out[name] = (path, ok)

    def encode(img: Image.Image, fmt: str, **kw) -> bytes:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        return buf.getvalue()

    good = encode(_photo(), "JPEG", quality=90)
    put("good.jpg", good, True)
    put("zero.jpg", b"", False)
    put("truncated.jpg", good[: len(good) // 2], False)
    put("notes.jpg", b"this is a text file, not a photo\n" * 10, False)
    put("fake.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, False)
    # A PNG header that claims 100,000 x 100,000 pixels: a decompression bomb.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)

    def png_chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    bomb = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
            + png_chunk(b"IEND", b""))
    put("bomb.png", bomb, False)
    put("cmyk.jpg", encode(_photo(seed=1).convert("CMYK"), "JPEG"), True)
    arr16 = (np.linspace(0, 65535, 80 * 60).reshape(60, 80)).astype(np.uint16)
    put("grey16.png", encode(Image.frombytes("I;16", (80, 60), arr16.tobytes()), "PNG"), True)
    put("palette.png", encode(_photo(seed=2).convert("P"), "PNG"), True)
    rgba = _photo(seed=3).convert("RGBA")
    rgba.putalpha(128)
    put("alpha.png", encode(rgba, "PNG"), True)
    put("grey.jpg", encode(_photo(seed=4).convert("L"), "JPEG"), True)
    # EXIF orientation 6 (rotate 90 CW to display): stored 80x60 landscape, displayed 60x80 portrait.
    exif = Image.Exif()
    exif[0x0112] = 6
    put("rotated.jpg", encode(_photo(seed=5), "JPEG", exif=exif.tobytes()), True)
    return out
