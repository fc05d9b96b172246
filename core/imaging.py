"""The one safe way to open an image.

Everything that reads a user's or a server's image goes through `load_image` / `validate_bytes`: they
decode fully (so truncation is caught now, not in epoch 3), refuse decompression bombs before allocating
them, apply the EXIF orientation, and convert CMYK, greyscale, palette, alpha and 16-bit images to 8-bit
RGB. Failures raise `ImageError` with a reason a user can read.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import GeoSpottrError
from .fsutil import atomic_write_bytes

#: Above this many pixels an image is treated as a decompression bomb (a 64-megapixel photo is fine).
MAX_PIXELS = 80_000_000
JPEG_QUALITY = 95
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageError(GeoSpottrError):
    """An image that cannot be used, with the reason (``"truncated file"``, ``"not an image"``, ...)."""


@dataclass(frozen=True)
class ValidImage:
    """A decoded, oriented RGB image and the bytes to store for it."""

    image: Image.Image
    jpeg: bytes        # what goes into the project (the original bytes when they were already fine)
    sha256: str        # of the original bytes: the same file imported twice is recognised
    width: int
    height: int
    original_format: str


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _open(data: bytes, name: str) -> Image.Image:
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        head = data[:12]
        if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypavif"):
            raise ImageError(f"{name}: HEIC/AVIF image and no decoder plugin is installed (pip install pillow-heif)") from None
        raise ImageError(f"{name}: not an image file, or a format GeoSpottr cannot read") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # e.g. a header cut short: "Truncated File Read"
        raise ImageError(f"{name}: truncated or damaged file ({exc})") from None
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageError(f"{name}: refused as a decompression bomb ({w}x{h} pixels > {MAX_PIXELS:,})")
    if w == 0 or h == 0:
        raise ImageError(f"{name}: image has no pixels")
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: 16-bit greyscale is rescaled, alpha is composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        img = Image.fromarray(((arr - lo) / ((hi - lo) or 1.0) * 255.0).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "RGB" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def decode(data: bytes, name: str = "image", draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode fully, orient, convert to RGB. `draft` lets JPEG decode at a reduced scale (much faster)."""
    img = _open(data, name)
    try:
        if draft and img.format == "JPEG":
            img.draft("RGB", draft)
        img.load()
        img = ImageOps.exif_transpose(img)
        return to_rgb(img)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        text = str(exc)
        if "truncated" in text or "premature" in text.lower() or "broken data stream" in text:
            raise ImageError(f"{name}: truncated file ({text})") from None
        raise ImageError(f"{name}: cannot decode ({text})") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({exc})") from None


def load_image(source: str | Path | bytes, draft: tuple[int, int] | None = None) -> Image.Image:
    """Open a path or bytes as an oriented RGB image, or raise `ImageError` naming the file."""
    if isinstance(source, (bytes, bytearray)):
        return decode(bytes(source), "image", draft)
    path = Path(source)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode(data, str(path), draft)


def encode_jpeg(img: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def validate_bytes(data: bytes, name: str = "image") -> ValidImage:
    """Check that `data` is a usable image and give the JPEG bytes to store for it.

    A baseline RGB JPEG that needs no rotation is kept byte for byte (no re-compression loss); anything
    else is re-encoded once as JPEG after orientation and colour conversion.
    """
    raw = _open(data, name)
    fmt = raw.format or "unknown"
    orientation = raw.getexif().get(0x0112, 1) if hasattr(raw, "getexif") else 1
    keep = fmt == "JPEG" and raw.mode == "RGB" and orientation in (1, None)
    img = decode(data, name)
    jpeg = data if keep else encode_jpeg(img)
    return ValidImage(image=img, jpeg=jpeg, sha256=sha256_bytes(data), width=img.width, height=img.height,
                      original_format=fmt)


def thumbnail(path: Path, size: int, cache_path: Path | None = None) -> Image.Image:
    """A thumbnail no larger than `size` square, read from (or written to) `cache_path` when given."""
    if cache_path is not None and cache_path.exists():
        try:
            return load_image(cache_path)
        except ImageError:
            cache_path.unlink(missing_ok=True)
    img = load_image(path, draft=(size, size))
    img.thumbnail((size, size), Image.Resampling.BILINEAR)
    if cache_path is not None:
        atomic_write_bytes(cache_path, encode_jpeg(img, quality=85))
    return img
