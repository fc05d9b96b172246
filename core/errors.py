"""Exceptions that carry a message meant for the user.

The CLI prints `str(error)` of a `GeoSpottrError` as one line and exits non-zero; anything else is a bug
and shows a traceback only with `--debug`.
"""


class GeoSpottrError(Exception):
    """An error the user can act on (bad input, missing city, unreadable file, ...)."""


class Cancelled(GeoSpottrError):
    """A long job stopped because the user asked it to."""

    def __init__(self, message: str = "cancelled by the user") -> None:
        super().__init__(message)
