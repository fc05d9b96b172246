"""``geospottr versions``: what ``--version`` says plus Python, torch, Qt, platform and compute device."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_versions(args: argparse.Namespace) -> int:
    from ..versions import format_versions, runtime_versions

    meta = None
    if args.model:
        from ..errors import GeoSpottrError
        from ..models.bundle import read_bundle

        try:
            meta = read_bundle(args.model).meta
        except GeoSpottrError as exc:  # a damaged or missing file: the versions are still worth showing
            print(f"warning: {exc}", file=sys.stderr)
    versions = runtime_versions(bundle=meta)
    print(json.dumps(versions, indent=1) if args.json else format_versions(versions))
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("versions", parents=[common], help="show the versions of GeoSpottr, torch, Qt and the device",
                       description="Show GeoSpottr's version and those of Python, torch, torchvision, PySide6, "
                                   "the platform and the compute device (paste this into bug reports).")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of aligned lines")
    p.add_argument("--model", metavar="FILE", help="also describe this model bundle (the app's About does)")
    p.set_defaults(func=cmd_versions)
