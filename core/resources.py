"""Locate files shipped in the top-level ``resources/`` folder (icons, offline map assets).

The folder is installed as the data-only package ``geospottr_resources`` (see setup.py), copied to
``<bundle>/geospottr_resources`` by the PyInstaller spec, and is simply ``<repo>/resources`` in a checkout
that was never installed. One function hides the three layouts so no caller builds paths by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

PACKAGE = "geospottr_resources"


@lru_cache(maxsize=1)
def resources_root() -> Path:
    """The folder that holds ``icons/`` and ``maps/`` in this installation."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle) / PACKAGE
    # find_spec does not execute the package; an editable install maps it to <repo>/resources too.
    spec = importlib.util.find_spec(PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[1] / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a shipped file, e.g. ``resource_path("icons", "geospottr-256.png")``.

    The path is returned even when the file is absent, so callers decide whether that is an error.
    """
    return resources_root().joinpath(*parts)
