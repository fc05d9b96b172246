"""The one safe way to open an image.

Everything that reads a user's or a server's image goes through `load_image` / `validate_bytes`: they
decode fully (so truncation is caught now, not in epoch 3), refuse decompression bombs before allocating
them, apply the EXIF orientation, and convert CMYK, greyscale, palette, alpha and 16-bit images to 8-bit
RGB. Failures raise `ImageError` with a reason a user can read.

Only the decoders in `DECODERS` are ever tried (`Image.open(..., formats=...)`): Pillow hands EPS to
Ghostscript, a PostScript interpreter, so an EPS named ``.jpg`` would run its program (write files,
loop for ever) if Pillow were left to guess the format. `tests/adversarial/test_decoders.py` checks that
nothing else in the app calls `Image.open`.

Memory stays bounded whatever the file claims, decided from the header before a pixel is decoded: only
regular files under `MAX_IMAGE_BYTES` are read, absurd aspect ratios (a 1x60000 strip would become
gigabytes once resized for a model) are refused, a big JPEG (a 108-megapixel phone photo) is decoded at
1/2, 1/4 or 1/8 scale through its DCT draft so at most `DECODE_PIXELS` are ever allocated, a JPEG whose
data is far too short for the pixels its header claims is refused as truncated, and everything else
must fit both `DECODE_PIXELS` and `MAX_DECODE_BYTES` (pixels x bands x bytes per band as Pillow stores
them; a progressive JPEG also counts the full-size DCT coefficients libjpeg buffers, whatever the draft).
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageMode, ImageOps, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from .errors import GeoSpottrError
from .fsutil import atomic_write_bytes, read_regular

#: The Pillow decoders an image may be opened with, in the order tried; the optional ones (AVIF in recent
#: Pillow, HEIF once pillow-heif registers) only where installed. No decoder here runs an external program.
DECODERS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF", "HEIF")
#: A JPEG may declare up to this many pixels: it is decoded at a reduced scale (1/8 of 1 GP is 16 MP).
MAX_JPEG_PIXELS = 1_000_000_000
#: At most this many pixels are decoded: larger JPEGs at the smallest DCT scale that brings them under it
#: (and stored that size); other formats, which decode at full size only, are refused above it.
DECODE_PIXELS = 40_000_000
#: ...and at most this much memory (pixels x bytes each as Pillow stores them, `pixel_bytes`): an RGB,
#: RGBA or float image up to 33 MP, 8-bit greyscale up to `DECODE_PIXELS`; a JPEG is drafted to fit.
MAX_DECODE_BYTES = 128 * 2**20
#: Huffman-coded JPEG data holds at least one bit per 8x8 block (its DC code): a file shorter than this
#: for the size its header claims is cut off, and libjpeg would fill the missing rows with grey.
_MIN_JPEG_BITS_PER_BLOCK = 1
#: Longer side / shorter side above this is no photo (street panoramas are 2:1 to 8:1).
MAX_ASPECT = 20.0
#: A model input resize (shorter side to the input size) may give at most this many pixels.
MAX_RESIZED_PIXELS = 16_000_000
#: Image files above this size are refused before reading (a 108 MP JPEG is ~40 MB).
MAX_IMAGE_BYTES = 256 * 1024 * 1024
JPEG_QUALITY = 95
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow's own bomb guard would refuse a big JPEG before we can draft it; our checks in `_open` replace it.
Image.MAX_IMAGE_PIXELS = MAX_JPEG_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# A damaged EXIF block is common in phone photos and harmless (we read only the orientation): a
# UserWarning on stderr for each one would only alarm the user.
warnings.filterwarnings("ignore", message=r"(?i).*corrupt exif", category=UserWarning)
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.(TiffImagePlugin|TiffTags|JpegImagePlugin)")


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


def decoders() -> list[str]:
    """`DECODERS` that the installed Pillow has (loading its plugins once: an optional one is known only then)."""
    Image.init()
    return [name for name in DECODERS if name in Image.OPEN]


def _is_jpeg(img: Image.Image) -> bool:
    return isinstance(img, JpegImageFile)  # MPO (a phone's multi-picture JPEG) included


def _open(data: bytes, name: str) -> Image.Image:
    """Read the header only (no pixel is decoded) and refuse what no photo can be."""
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data), formats=decoders())
    except UnidentifiedImageError:
        head = data[:12]
        if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypavif"):
            raise ImageError(f"{name}: HEIC/AVIF image and no decoder plugin is installed (pip install pillow-heif)") from None
        raise ImageError(f"{name}: not an image file, or a format GeoSpottr cannot read "
                         f"(it reads {', '.join(decoders())})") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # e.g. a header cut short: "Truncated File Read"
        raise ImageError(f"{name}: truncated or damaged file ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a hostile header makes plugins raise almost anything
        raise ImageError(f"{name}: damaged file ({exc or type(exc).__name__})") from None
    w, h = img.size
    if w == 0 or h == 0:
        raise ImageError(f"{name}: image has no pixels")
    if max(w, h) / min(w, h) > MAX_ASPECT:
        raise ImageError(f"{name}: refused: {w}x{h} pixels is no photo (aspect ratio over {MAX_ASPECT:g}:1)")
    limit = MAX_JPEG_PIXELS if _is_jpeg(img) else DECODE_PIXELS
    if w * h > limit:
        raise ImageError(f"{name}: refused as a decompression bomb ({w}x{h} pixels > {limit:,})")
    if _is_jpeg(img):
        blocks = math.ceil(w / 8) * math.ceil(h / 8)
        if len(data) * 8 < blocks * _MIN_JPEG_BITS_PER_BLOCK:
            raise ImageError(f"{name}: truncated file ({len(data):,} bytes cannot hold the {w}x{h} pixels "
                             f"its header claims)")
    return img


def pixel_bytes(mode: str) -> int:
    """Bytes one pixel of `mode` takes as Pillow stores it: bands x bytes per band, except that a
    multi-band 8-bit pixel (RGB, RGBA, CMYK, YCbCr) is padded to 4 bytes."""
    info = ImageMode.getmode(mode)
    bands, per_band = len(info.bands), int(info.typestr[-1])
    return 4 if bands > 1 and per_band == 1 else bands * per_band


def coefficient_bytes(img: Image.Image) -> int:
    """What libjpeg buffers to decode a progressive JPEG, whatever the draft scale: every DCT
    coefficient of the full-size image (2 bytes each, per component at its sampling). 0 for the rest.
    Read from the header (call it before `draft`)."""
    if not (isinstance(img, JpegImageFile) and img.info.get("progressive") and img.layer):
        return 0
    h_max = max(h for _, h, _, _ in img.layer) or 1
    v_max = max(v for _, _, v, _ in img.layer) or 1
    share = sum(h * v for _, h, v, _ in img.layer) / (h_max * v_max)
    return int(img.width * img.height * share * 2)


def _check_budget(img: Image.Image, name: str, reserved: int) -> None:
    """Refuse, before decoding, an image (after its JPEG draft) over `DECODE_PIXELS`, or whose pixels plus
    the `reserved` coefficient buffer take over `MAX_DECODE_BYTES`."""
    need = img.width * img.height * pixel_bytes(img.mode) + reserved
    if img.width * img.height > DECODE_PIXELS or need > MAX_DECODE_BYTES:
        raise ImageError(f"{name}: refused: decoding {img.width}x{img.height} {img.mode} pixels would take "
                         f"{need / 2**20:,.0f} MB (a photo may take at most {MAX_DECODE_BYTES // 2**20} MB)")


def _draft_request(img: Image.Image, draft: tuple[int, int] | None, reserved: int) -> tuple[int, int] | None:
    """The JPEG draft size to ask for: the caller's, made smaller (1/2, 1/4, 1/8) when needed to stay
    within `DECODE_PIXELS` and, with the `reserved` coefficient buffer, `MAX_DECODE_BYTES`."""
    w, h = img.size
    limit = min(DECODE_PIXELS, max(0, MAX_DECODE_BYTES - reserved) // pixel_bytes(img.mode))
    if w * h <= limit:
        return draft
    scale = 2
    while scale < 8 and (w / scale) * (h / scale) > limit:
        scale *= 2
    need = (math.ceil(w / scale), math.ceil(h / scale))
    if draft is None:
        return need
    return (min(draft[0], need[0]), min(draft[1], need[1]))


def _check_resize(name: str, size: tuple[int, int], draft: tuple[int, int] | None) -> None:
    """Refuse an image whose resize to a model input (shorter side to `draft`) would be huge, before any
    pixel is allocated (with `MAX_ASPECT` this never fires; it keeps the bound explicit if that changes)."""
    if not draft:
        return
    w, h = size
    target = max(draft)
    short = min(w, h)
    if short and (w * target / short) * (h * target / short) > MAX_RESIZED_PIXELS:
        raise ImageError(f"{name}: refused: resizing {w}x{h} for the model would need over "
                         f"{MAX_RESIZED_PIXELS:,} pixels")


#: Pixels converted per step from 16-bit or float to 8-bit: the float temporaries stay a few MB.
_CONVERT_CHUNK = 1 << 20


def _grey_to_8bit(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float greyscale as 8-bit "L", rescaled (not clipped) a band of rows at a time,
    so memory is the pixels once plus the 8-bit result, never a float copy of the whole image."""
    arr = np.asarray(img)
    rows = max(1, _CONVERT_CHUNK // max(1, img.width))
    bands = [arr[top:top + rows] for top in range(0, img.height, rows)]
    if img.mode == "F":  # stretch the finite range to 0..255 (NaN and infinities become 0)
        lo, hi = math.inf, -math.inf
        for band in bands:
            finite = band[np.isfinite(band)]
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        offset, scale = (lo, 255.0 / ((hi - lo) or 1.0)) if lo <= hi else (0.0, 1.0)
    else:
        offset = 0.0
        scale = 255.0 / (65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0)
    out = np.empty(arr.shape, dtype=np.uint8)
    for top, band in zip(range(0, img.height, rows), bands):
        value = np.nan_to_num((band.astype(np.float32) - offset) * scale + 0.5, nan=0.0, posinf=0.0, neginf=0.0)
        out[top:top + rows] = np.clip(value, 0, 255)
    return Image.fromarray(out, "L")


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: 16-bit and float greyscale are rescaled, alpha is composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        img = _grey_to_8bit(img)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "RGB" and "transparency" in img.info):
        if img.mode != "RGBA":
            img = img.convert("RGBA")
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def decode(data: bytes, name: str = "image", draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode fully, orient, convert to RGB. `draft` lets JPEG decode at a reduced scale (much faster); a
    JPEG over `DECODE_PIXELS` is always decoded reduced. `draft` also means "this is for a model input":
    an image whose resize to it would be huge is refused first. Every refusal is decided from the header,
    before a pixel is decoded (`_open`, `_check_budget`)."""
    img = _open(data, name)
    _check_resize(name, img.size, draft)
    reserved = coefficient_bytes(img)
    if _is_jpeg(img):
        request = _draft_request(img, draft, reserved)
        if request:
            img.draft("RGB", request)
    _check_budget(img, name, reserved)
    try:
        img.load()
        ImageOps.exif_transpose(img, in_place=True)
        return to_rgb(img)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({exc})") from None
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode this image") from None
    except Exception as exc:  # noqa: BLE001 - a hostile file makes decoders raise almost anything
        text = str(exc)
        if "truncated" in text or "premature" in text.lower() or "broken data stream" in text:
            raise ImageError(f"{name}: truncated file ({text})") from None
        raise ImageError(f"{name}: cannot decode ({text or type(exc).__name__})") from None


def load_image(source: str | Path | bytes, draft: tuple[int, int] | None = None) -> Image.Image:
    """Open a path or bytes as an oriented RGB image, or raise `ImageError` naming the file."""
    if isinstance(source, (bytes, bytearray)):
        return decode(bytes(source), "image", draft)
    return decode(read_image_file(source), str(source), draft)


def read_image_file(path: str | Path) -> bytes:
    """The bytes of an image file: a regular file of at most `MAX_IMAGE_BYTES`, else `ImageError`."""
    try:
        return read_regular(path, MAX_IMAGE_BYTES, "image")
    except GeoSpottrError as exc:
        raise ImageError(str(exc)) from None


def encode_jpeg(img: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def validate_bytes(data: bytes, name: str = "image", *, full_image: bool = True) -> ValidImage:
    """Check that `data` is a usable image and give the JPEG bytes to store for it.

    A baseline RGB JPEG that needs no rotation is kept byte for byte (no re-compression loss); anything
    else, and a photo too big to decode at full size, is re-encoded once as JPEG after orientation,
    colour conversion and reduction.

    `full_image=False` is for a caller that needs only the verdict and the bytes (an import): a JPEG kept
    byte for byte is then decoded at 1/8 scale, which still reads every entropy-coded block (a truncated or
    damaged stream fails alike) at a fraction of the cost, and `image` is that reduced picture.
    """
    raw = _open(data, name)
    fmt = raw.format or "unknown"
    kept_as_is = fmt == "JPEG" and raw.mode == "RGB" and _upright(raw)
    if kept_as_is and not full_image and _draft_request(raw, None, coefficient_bytes(raw)) is None:
        w, h = raw.size
        small = decode(data, name, draft=(max(1, w // 8), max(1, h // 8)))
        return ValidImage(image=small, jpeg=data, sha256=sha256_bytes(data), width=w, height=h,
                          original_format=fmt)
    img = decode(data, name)
    keep = kept_as_is and img.size == raw.size
    jpeg = data if keep else encode_jpeg(img)
    return ValidImage(image=img, jpeg=jpeg, sha256=sha256_bytes(data), width=img.width, height=img.height,
                      original_format=fmt)


def _upright(jpeg: Image.Image) -> bool:
    """Whether a JPEG header's EXIF orientation needs no rotation. JPEG only: its EXIF is in the header,
    while `getexif()` on a PNG decodes every pixel (looking for an eXIf chunk after them)."""
    try:
        return jpeg.getexif().get(0x0112, 1) in (1, None)
    except Exception:  # noqa: BLE001 - a damaged EXIF block raises anything; it only costs the orientation
        return True


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
