"""Typed argparse converters for numeric options: one family, so every number on the command line is a
plain finite decimal (`core.values.parse_decimal`: no ``nan``, ``inf``, ``1_0``) within the range its
meaning allows, refused by argparse with a one-line usage error that names the option.

``--timeout nan`` once reached the downloader as a timeout that never expires; ``--lr inf`` a training
run that could only diverge. Use ``type=decimal(above=0)`` and friends instead of ``type=float``.
"""

from __future__ import annotations

import argparse
from typing import Callable

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


#: The common cases.
positive = decimal(above=0)
non_negative = decimal(at_least=0)
fraction = decimal(at_least=0, below=1)
