"""What a downloaded photo must be before it enters a project: a decodable JPEG of the size asked for,
and not a blank "no imagery" placeholder."""

from __future__ import annotations

from ..imaging import ImageError, ValidImage, validate_bytes
from ..quality.frames import looks_like_placeholder

__all__ = ["accept_photo", "looks_like_placeholder"]


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
