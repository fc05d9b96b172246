"""Typed argparse converters for numeric options: one family, so every number on the command line is a
plain finite decimal (`core.values.parse_decimal`: no ``nan``, ``inf``, ``1_0``) or a plain whole number
(ASCII digits: no ``1_0``, ``+7``, ``0x10`` or Arabic-Indic digits, which Python's ``int`` takes) within the
range its meaning allows, refused by argparse with a one-line usage error that names the option.

``--timeout nan`` once reached the downloader as a timeout that never expires; ``--lr inf`` a training
run that could only diverge; ``--seed -1`` a numpy traceback and ``init --target 10**23`` a silent no-op.
Use ``type=decimal(above=0)`` and ``type=whole(at_least=1)`` instead of ``type=float`` and ``type=int``
(tests/adversarial/test_stored_values.py walks every command for an option that uses the plain ones).
"""

from __future__ import annotations

import argparse
import re
from typing import Callable

from ..data.catalog import MAX_TARGET
from ..values import BadValue, parse_decimal


def decimal(*, above: float | None = None, at_least: float | None = None, below: float | None = None,
            at_most: float | None = None) -> Callable[[str], float]:
    """A converter taking a plain finite decimal within the given bounds (open: `above`/`below`,
    closed: `at_least`/`at_most`)."""
    bounds = [f"{word} {value:g}" for word, value in
              (("above", above), ("at least", at_least), ("below", below), ("at most", at_most)) if value is not None]
    wanted = " ".join(["a finite decimal number", " and ".join(bounds)]).strip()

    def convert(text: str) -> float:
        try:
            number = parse_decimal(text, "value")
        except BadValue:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text[:40]!r}") from None
        if (above is not None and not number > above or at_least is not None and not number >= at_least
                or below is not None and not number < below or at_most is not None and not number <= at_most):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text[:40]!r}")
        return number

    convert.__name__ = "number"  # argparse names the type in some messages
    return convert


#: At most 18 digits: every whole number taken fits a 64-bit integer (SQLite, numpy, torch).
_WHOLE = re.compile(r"-?[0-9]{1,18}")
#: Seeds: what numpy's and torch's generators take.
SEED_MAX = 2**32 - 1


def whole(*, at_least: int | None = None, at_most: int | None = None) -> Callable[[str], int]:
    """A converter taking a plain whole number within the given (closed) bounds."""
    bounds = [f"{word} {value:,}" for word, value in (("at least", at_least), ("at most", at_most)) if value is not None]
    wanted = " ".join(["a whole number", " and ".join(bounds)]).strip()

    def convert(text: str) -> int:
        if not _WHOLE.fullmatch(text):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text[:40]!r}")
        number = int(text)
        if at_least is not None and number < at_least or at_most is not None and number > at_most:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text[:40]!r}")
        return number

    convert.__name__ = "whole number"
    return convert


#: The common cases.
positive = decimal(above=0)
non_negative = decimal(at_least=0)
fraction = decimal(at_least=0, below=1)
seed = whole(at_least=0, at_most=SEED_MAX)
batch = whole(at_least=1, at_most=65_536)
#: Photos wanted or planned per city (what `Project` and a download plan accept).
photo_count = whole(at_least=0, at_most=MAX_TARGET)
