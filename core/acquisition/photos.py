"""What a downloaded photo must be before it enters a project: a decodable JPEG of the size asked for,
and not a blank "no imagery" placeholder."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..imaging import ImageError, ValidImage, validate_bytes

#: A frame where this share of pixels sits within `_NEAR` grey levels of the median is a placeholder.
_UNIFORM_SHARE = 0.9
_NEAR = 6.0


def looks_like_placeholder(img: Image.Image) -> bool:
    """True for near-uniform frames such as Google's grey "Sorry, we have no imagery here" image.

    Why a share and not just the standard deviation: the placeholder carries a line of text, which
    lifts its deviation above that of a truly flat frame, yet over 90% of it is one grey. A street photo
    almost never has nine tenths of its pixels within a few grey levels of each other.
    """
    small = np.asarray(img.convert("L").resize((64, 64), Image.Resampling.BILINEAR), dtype=np.float64)
    if small.std() < _NEAR:
        return True
    return float((np.abs(small - np.median(small)) <= _NEAR).mean()) >= _UNIFORM_SHARE


def accept_photo(data: bytes, name: str, size: tuple[int, int] | None = None, min_side: int = 0) -> ValidImage:
    """The validated image, or `ImageError` saying why it is refused (not a JPEG, wrong size, blank)."""
    valid = validate_bytes(data, name)
    if valid.original_format != "JPEG":
        raise ImageError(f"{name}: not a JPEG ({valid.original_format})")
    if size is not None and (valid.width, valid.height) != tuple(size):
        raise ImageError(f"{name}: {valid.width}x{valid.height} pixels, asked for {size[0]}x{size[1]}")
    if min(valid.width, valid.height) < min_side:
        raise ImageError(f"{name}: {valid.width}x{valid.height} pixels is smaller than {min_side} px")
    if looks_like_placeholder(valid.image):
        raise ImageError(f"{name}: a blank 'no imagery' placeholder")
    return valid
