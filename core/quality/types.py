"""What the quality checks exchange: a decoded `Sample` in, `Finding`s out, and the `Check` they all are.

A leaf module (no check imports it back), so every check module can name these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

from PIL import Image

if TYPE_CHECKING:
    from ..data.project import ImageRecord
    from .frames import FrameStats

#: Written before a finding's message when applying it rejects the image (undo looks for it).
REASON_PREFIX = "quality: "


@dataclass(frozen=True)
class Finding:
    """One problem with one image. `group` ties near-duplicates together; `details` holds what was measured."""

    image_id: str
    kind: str
    score: float
    message: str
    group: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None
    created: str | None = None
    resolved: str | None = None
    resolution: str | None = None

    @property
    def reason(self) -> str:
        """The rejection reason written to the image when this finding is applied."""
        return f"{REASON_PREFIX}{self.message}"


@dataclass(frozen=True)
class Sample:
    """A decoded image handed to the checks, with its frame measurements."""

    record: ImageRecord
    image: Image.Image
    stats: FrameStats


class Check(Protocol):
    """One check during a scan: sees every batch of decoded samples, then reports what needs all of them.

    `input_size`: the smallest decode (JPEG draft) the check needs, so a scan decodes each image once."""

    input_size: int

    def observe(self, samples: Sequence[Sample]) -> list[Finding]: ...

    def finish(self) -> list[Finding]: ...
