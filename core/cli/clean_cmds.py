"""``geospottr clean``: find bad frames, near-duplicates, non-street scenes, outliers and label errors.

Scanning only lists findings (and stores them for review in the app); ``--apply`` rejects the images
with the finding as the reason; ``--undo`` puts back the last applied batch. Nothing is ever deleted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GeoSpottrError
from ..events import DONE, Event
from ..values import parse_decimal
from .common import command_line, job, open_project
from .render import plural

#: ``--threshold NAME=VALUE`` names: what each one sets (shown in --help).
THRESHOLDS = {
    "dark": "near-black when the 95th luminance percentile is below this (0-255, default 40)",
    "bright": "near-white when the 5th luminance percentile is above this (0-255, default 240)",
    "uniform": "placeholder when this share of pixels is one grey level (0-1, default 0.85)",
    "blur": "blurred when sharpness is below this (default 0.2; real street photos score 0.3+)",
    "hamming": "near-duplicates differ in at most this many of 64 hash bits (default 10)",
    "indoor": "scene: flag when P(indoor) is at least this (default 0.5)",
    "street": "scene: flag when P(street-like scene) is below this (default 0.05)",
    "outlier": "outliers: robust z-score above which an image is unusual for its city (default 3.5)",
    "label": "labels: flag when the model gives another city at least this probability (default 0.8)",
}
MAX_LISTED = 30


def parse_thresholds(items: list[str]):
    """ScanOptions from ``NAME=VALUE`` strings (one-line error for a bad one)."""
    from dataclasses import replace

    from ..quality import ScanOptions

    options = ScanOptions()
    frame_values = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in THRESHOLDS:
            raise GeoSpottrError(f"--threshold takes NAME=VALUE with NAME one of {', '.join(THRESHOLDS)} (got {item!r})")
        number = parse_decimal(value, f"--threshold {name}")  # no nan / inf / 1_0: a one-line BadValue
        if name in ("dark", "bright", "uniform", "blur"):
            frame_values[name] = number
        elif name == "hamming":
            options.hamming = int(number)
        elif name == "outlier":
            options.outlier_z = number
        elif name == "label":
            options.label_confidence = number
        else:
            setattr(options, name, number)
    options.frames = replace(options.frames, **frame_values)
    return options


def cmd_clean(args: argparse.Namespace) -> int:
    from ..quality import KINDS, apply_findings, group_by_kind, open_findings, parse_checks, scan, undo_last_apply
    from ..quality.checks import PRESELECTED

    with open_project(args) as project:
        if args.undo:
            n = undo_last_apply(project)
            print(f"restored {plural(n, 'image')} to their status before the last `clean --apply`" if n
                  else "nothing to undo")
            return 0
        scanned: dict = {}  # the scan's closing event says which checks ran on how many images
        if args.list:
            findings = open_findings(project)
        else:
            options = parse_thresholds(args.threshold or [])
            options.scene_weights = args.weights
            options.model = args.model
            if args.checks:
                checks = parse_checks(args.checks)
            else:
                checks = parse_checks(None) + tuple(c for c, given in (("scene", args.weights), ("labels", args.model)) if given)
            with job() as (printer, control):
                def on_event(event: Event) -> None:
                    if event.kind == DONE and event.scope == "clean":
                        scanned.update(event.data)
                    printer(event)

                findings = scan(project, checks, on_event=on_event, control=control, options=options)
        if args.only:
            kinds = [k.strip() for k in args.only.split(",") if k.strip()]
            unknown = [k for k in kinds if k not in KINDS]
            if unknown:
                raise GeoSpottrError(f"--only: unknown kind {unknown[0]!r}; kinds: {', '.join(KINDS)}")
            findings = [f for f in findings if f.kind in kinds]
        records = project.images_by_id([f.image_id for f in findings])
        for kind, items in group_by_kind(findings).items():
            print(f"\n{KINDS.get(kind, kind)}: {len(items)}")
            for f in items[:MAX_LISTED if not args.all else None]:
                rec = records.get(f.image_id)
                where = f"{rec.city_slug or 'unlabelled'}  {rec.path}" if rec else f.image_id
                print(f"  {f.image_id}  {where}  {f.message}")
            if len(items) > MAX_LISTED and not args.all:
                print(f"  ... and {len(items) - MAX_LISTED} more (--all lists every one)")
        checked = (f" in {plural(scanned['images'], 'image')} (checks: {', '.join(scanned['checks']) or 'none'})"
                   if scanned else "")
        if not findings:
            print(f"no problems found{checked}" if scanned else "no open findings")
        elif args.apply:
            # A network's opinion is rejected only when asked for by name (--only label_error): the same
            # rule as the app's Find problems, which offers those findings unticked.
            chosen = findings if args.only else [f for f in findings if f.kind in PRESELECTED]
            left = len(findings) - len(chosen)
            n = apply_findings(project, [f.id for f in chosen])
            print(f"\nrejected {plural(n, 'image')} (reason 'quality: ...'); undo with `{command_line(args, 'clean --undo')}`")
            if left:
                judged = sorted({f.kind for f in findings if f.kind not in PRESELECTED})
                print(f"{plural(left, 'finding')} of {', '.join(judged)} left for review: a model's opinion is "
                      f"applied only when named, e.g. `{command_line(args, 'clean --list --apply --only ' + judged[0])}`")
        else:
            print(f"\n{plural(len(findings), 'finding')}{checked}; reject them with `{command_line(args, 'clean --list --apply')}`, "
                  "or review them in the app")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "clean", parents=[common], help="find bad frames, near-duplicates, non-street scenes, outliers, label errors",
        description="Scan the project's pending and accepted images and list problems, grouped by kind. Checks: "
                    "frames (unreadable files, 'no imagery' placeholders, near-black, near-white, blurred), "
                    "duplicates (perceptual hash; label conflicts when copies carry different cities), scene "
                    "(indoor / non-street; needs Places365 weights), outliers (unusual for their city; offline "
                    "EfficientNet-Lite0), labels (needs a trained model). Default: frames,duplicates,outliers, plus "
                    "scene with --weights and labels with --model. Findings are kept for review; --apply rejects "
                    "the images with the reason, --undo puts them back. Nothing is deleted.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="thresholds (--threshold NAME=VALUE, repeatable):\n" + "\n".join(f"  {k:<8} {v}" for k, v in THRESHOLDS.items()))
    p.add_argument("--checks", metavar="LIST", help="comma list of frames,duplicates,scene,outliers,labels")
    p.add_argument("--weights", type=Path, metavar="PATH",
                   help="Places365 ResNet-18/50 checkpoint from MIT CSAIL (resnet18_places365.pth.tar) for the scene check")
    p.add_argument("--model", type=Path, metavar="FILE", help="a trained model bundle for the label-error check")
    p.add_argument("--threshold", action="append", metavar="NAME=VALUE", help="tune a check (see below)")
    p.add_argument("--apply", action="store_true", help="reject the images of the listed findings (undo with --undo)")
    p.add_argument("--only", metavar="KINDS", help="list (and apply) only these kinds, e.g. duplicate,dark "
                                                  "(kinds: corrupt, placeholder, dark, bright, blurry, duplicate, "
                                                  "label_conflict, scene, outlier, label_error)")
    p.add_argument("--list", action="store_true", help="list the stored open findings without scanning again")
    p.add_argument("--undo", action="store_true", help="put back the images rejected by the last --apply")
    p.add_argument("--all", action="store_true", help=f"list every finding (default: the first {MAX_LISTED} of each kind)")
    p.set_defaults(func=cmd_clean)
