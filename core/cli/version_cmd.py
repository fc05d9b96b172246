"""``geospottr versions``: what ``--version`` says plus Python, torch, Qt, platform and compute device."""

from __future__ import annotations

import argparse
import json


def cmd_versions(args: argparse.Namespace) -> int:
    from ..versions import format_versions, runtime_versions

    versions = runtime_versions()
    print(json.dumps(versions, indent=1) if args.json else format_versions(versions))
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("versions", parents=[common], help="show the versions of GeoSpottr, torch, Qt and the device",
                       description="Show GeoSpottr's version and those of Python, torch, torchvision, PySide6, "
                                   "the platform and the compute device (paste this into bug reports).")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of aligned lines")
    p.set_defaults(func=cmd_versions)
