"""Model commands that use a trained bundle: evaluate, predict, challenge (human vs model), export-model."""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .. import geo
from ..data.project import SPLITS, Project
from ..errors import GeoSpottrError
from ..events import ignore_events
from ..values import BadValue, parse_decimal
from .common import command_line, job, open_project
from .options import batch, seed, whole
from .render import plural, table

if TYPE_CHECKING:  # core.inference.results needs numpy: loaded by the commands that predict, not by --help
    from ..inference.results import Prediction


#: What --run and --model default to, in every command that uses a model.
PROJECT_MODEL_HELP = "default: the project's model, its best validated run"


def _model_args(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--run", metavar="ID",
                       help=f"a training run of the project: runs/ID/best.pt (else last.pt); {PROJECT_MODEL_HELP}")
    which.add_argument("--model", type=Path, metavar="FILE",
                       help="a model bundle file (.pt), or its ONNX export (.onnx: runs without torch; see export-model)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default: %(default)s)")
    p.add_argument("--tta", action="store_true", help="also score the mirrored image and average (slower, a bit better)")


def _choose(args: argparse.Namespace, project: Project | None):
    """The model --run or --model names; without either, the project's model (`core.inference.project_model`, the
    rule the desktop app follows too), named on stderr so the user knows which run answered."""
    from ..evaluation.metrics import choose_model

    if args.run is None and args.model is None:
        from ..inference.project_model import project_model

        found = project_model(project) if project is not None else None
        if found is None or found.run_id is None:
            raise GeoSpottrError("this project has no trained model yet: train one with `geospottr train`, "
                                 "or name one with --run ID or --model FILE")
        print(f"using the project's model: {found.label} (another: --run ID or --model FILE)", file=sys.stderr)
        return choose_model(project, run=found.run_id)
    return choose_model(project, run=args.run, model=args.model)


def _load(bundle: Path, args: argparse.Namespace):
    """The engine for the file: ONNX Runtime for an .onnx export (torch is never imported), else PyTorch."""
    from ..inference.engines import load_predictor

    return load_predictor(bundle, device=args.device, tta=args.tta)


def cmd_export_model(args: argparse.Namespace) -> int:
    if args.onnx.suffix.lower() != ".onnx":
        raise GeoSpottrError(f"--onnx {args.onnx}: the file name must end in .onnx (that is how predict --model knows it)")
    if args.model is not None:
        bundle = _choose(args, None).bundle
    else:
        with open_project(args) as project:
            bundle = _choose(args, project).bundle
    from ..inference.onnx_export import export_onnx

    out = export_onnx(bundle, args.onnx)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): predict with `geospottr predict --model {out} PHOTO`")
    return 0


# ---------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation.metrics import evaluate, format_table, write_report

    if args.learning_curve:
        return _learning_curve(args)
    with open_project(args) as project:
        choice = _choose(args, project)
        predictor = _load(choice.bundle, args)
        with job() as (on_event, control):
            report = evaluate(project, predictor, split=args.split, batch_size=args.batch_size,
                              on_event=on_event, control=control)
        prefix = "" if args.split == "test" else f"{args.split}-"
        paths = write_report(report, args.out or choice.report_dir, prefix=prefix)
        shortcuts = _check_shortcuts(args, project, predictor, args.out or choice.report_dir, prefix, paths)
    for _path, reason in report.failures:
        print(f"unreadable: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(format_table(report))
        mistakes = report.most_confident_mistakes(5)
        if mistakes:
            print("\nmost confident mistakes:")
            for r in mistakes:
                print(f"  {r.confidence:6.1%} {r.predicted_city:<16} (true {r.true_city}, {r.distance_km:.0f} km)  {r.path}")
        if shortcuts is not None:
            print("\n" + shortcuts.format())
        print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _learning_curve(args: argparse.Namespace) -> int:
    """``evaluate --learning-curve``: grouped CV of the probe at growing shares of the labelled places."""
    from ..evaluation.curves import CURVE_FILE, reports_folder
    from ..evaluation.learning import current_curve

    if args.model is not None:
        raise GeoSpottrError("--learning-curve refits the recipe of a run on the project's photos: name it with "
                             "--run ID (default: the default recipe), not --model")
    with open_project(args) as project:
        with job() as (on_event, control):
            curve = current_curve(project, args.run, refresh=True, on_event=on_event, control=control)
    if args.json:
        print(json.dumps(curve.to_dict(), indent=1))
    else:
        print("\n".join(curve.lines()))
        print(f"\n{curve.seconds:.0f} s; wrote {reports_folder(project) / CURVE_FILE}")
    return 0


def _check_shortcuts(args: argparse.Namespace, project: Project, predictor, folder: Path, prefix: str,
                     paths: dict):
    """``evaluate --shortcuts``: the saliency share of Street View's artefact regions (`core.evaluation.shortcuts`)."""
    if not args.shortcuts:
        return None
    from ..evaluation.shortcuts import check_shortcuts, split_sources, write_shortcuts

    with job() as (on_event, control):
        report = check_shortcuts(predictor, split_sources(project, args.split), split=args.split,
                                 batch_size=args.batch_size, on_event=on_event, control=control)
    paths["shortcuts"] = write_shortcuts(report, folder, prefix)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return report


# ---------------------------------------------------------------------- predict
class _Output:
    """Writes results as text, JSON Lines or CSV on stdout; failures as one line each on stderr."""

    TEXT_COLUMNS = [">rank", "city", "country", ">probability", ">lat", ">lon"]

    def __init__(self, fmt: str, city_names: Iterable[str] = ()) -> None:
        self.fmt = fmt
        # Every photo's table has the same columns: as wide as the model's longest city name.
        self.widths = (0, max((len(n) for n in city_names), default=0), 0, 0, 8, 9)
        self.failed = 0
        from ..inference.results import CSV_FIELDS

        self.writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS) if fmt == "csv" else None
        if self.writer:
            self.writer.writeheader()

    def failure(self, reason: str) -> None:
        self.failed += 1
        print(f"skipped: {reason}", file=sys.stderr)
        if self.fmt == "json":
            print(json.dumps({"error": reason}), flush=True)

    def prediction(self, pred: Prediction, views: Iterable[Prediction] = ()) -> None:
        if self.fmt == "json":
            data = pred.to_dict()
            views = list(views)
            if views:
                data["per_view"] = [v.to_dict() for v in views]
            print(json.dumps(data), flush=True)
        elif self.writer:
            from ..inference.results import csv_rows

            self.writer.writerows(csv_rows(pred))
        else:
            print(f"{pred.source}" + (f"  ({plural(pred.views, 'view')} combined)" if pred.views > 1 else ""))
            rows = [(rank, c.name, c.country, f"{c.probability:.2%}", f"{c.lat:.4f}", f"{c.lon:.4f}")
                    for rank, c in enumerate(pred.ranking, start=1)]
            print("\n".join(table(self.TEXT_COLUMNS, rows, indent="  ", widths=self.widths)), flush=True)
            if pred.elsewhere is not None:  # a GPS model (--zero-shot geoclip): the mass outside every city
                print(f"  elsewhere (outside every city's area): {pred.elsewhere:.2%}")
            if pred.gps:
                print(f"  GPS guess: {pred.gps[0].label} ({pred.gps[0].probability:.2%})", flush=True)


class _Explainer:
    """``predict --explain DIR``: one PNG per photo, the photo with its heat map and the top city as caption,
    named after the photo (``street.jpg`` -> ``street.explain.png``; a clash gets ``-2``, ``-3``...).
    With ``--versus CITY`` the maps are contrastive (why the top city rather than CITY), except for a photo
    whose top city is CITY itself: there is nothing to contrast, so it gets the plain map (counted in `plain`)."""

    def __init__(self, predictor, folder: Path, versus: str | None = None) -> None:
        from ..inference.explain import class_index

        self.predictor = predictor
        # Checked before any photo is read: a misspelt city fails at once, naming the model's cities.
        self.versus = None if versus is None else predictor.classes[class_index(predictor, versus)].slug
        self.plain = 0
        self.folder = Path(folder).expanduser()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GeoSpottrError(f"--explain {folder}: cannot create the folder ({exc.strerror or exc})") from None
        self.used: set[str] = set()
        self.written = 0

    def write(self, source: str, city: str | None = None) -> Path:
        from ..fsutil import atomic_write_bytes
        from ..inference.heatmaps import explanation_png

        stem, n = Path(source).stem or "photo", 1
        name = f"{stem}.explain.png"
        while name in self.used:
            n += 1
            name = f"{stem}-{n}.explain.png"
        self.used.add(name)
        target = self.folder / name
        versus = self.versus if self.versus != city else None
        self.plain += int(self.versus is not None and versus is None)
        atomic_write_bytes(target, explanation_png(self.predictor.explain(source, city=city, versus=versus)))
        self.written += 1
        return target


def _predict_dataset(args: argparse.Namespace) -> int:
    """``predict --dataset``: the model's guess for each kept image, stored for the app's grid filters."""
    from ..inference.dataset_predictions import predict_dataset
    from ..inference.project_model import name_model

    with open_project(args) as project:
        choice = _choose(args, project)
        predictor = _load(choice.bundle, args)
        name = name_model(choice.bundle).label
        with job() as (on_event, control):
            done = predict_dataset(project, predictor, name, ("pending", "accepted"), on_event=on_event,
                                   control=control, batch_size=args.batch_size)
    print(done.summary(name))
    return 0


#: What ``predict --zero-shot [MODEL]`` may name; the flag alone is StreetCLIP (the form of earlier versions).
ZERO_SHOT_MODELS = ("streetclip", "geoclip")


def _zero_shot_model(args: argparse.Namespace) -> str | None:
    """The model ``--zero-shot`` names, or None without the flag. ``--zero-shot photo.jpg`` (the flag alone
    before a photo, valid before the flag took a value) is StreetCLIP with that photo as an input."""
    value = args.zero_shot
    if value is None:
        return None
    if value.lower() in ZERO_SHOT_MODELS:
        return value.lower()
    args.inputs = [Path(value), *args.inputs]
    return "streetclip"


def _zero_shot(args: argparse.Namespace, model: str):
    """``predict --zero-shot [streetclip|geoclip]``: the project's cities ranked without a training run, by
    StreetCLIP (their names as captions) or GeoCLIP (its GPS distribution, `core.inference.geoclip_cities`)."""
    if args.run is not None or args.model is not None or args.explain:
        who = "GeoCLIP" if model == "geoclip" else "StreetCLIP"
        raise GeoSpottrError(f"--zero-shot ranks the project's cities with {who}: no --run, --model or --explain "
                             "with it")
    from ..models.meta import ClassInfo

    with open_project(args) as project:
        cities = project.cities()
    if len(cities) < 2:
        raise GeoSpottrError("--zero-shot needs at least 2 cities in the project (`geospottr cities --add NAME`)")
    classes = [ClassInfo(c.slug, c.name, c.country, c.lat, c.lon) for c in cities]
    if model == "geoclip":
        from ..inference import geoclip_cities

        # Checked before torch is imported: a missing extra or folder, or no hub, is one line within 2 s.
        geoclip_cities.check_installed()
        weights = geoclip_cities.check_backbone(args.weights)
        from ..inference.geoclip_zero_shot import GeoClipPredictor

        return GeoClipPredictor(classes, [geoclip_cities.city_reach_km(c) for c in cities], weights, tta=args.tta,
                                device=args.device)
    from ..inference.zero_shot import ZeroShotPredictor

    return ZeroShotPredictor(classes, args.weights or "imagenet", tta=args.tta)


def cmd_predict(args: argparse.Namespace) -> int:
    from ..inference.results import Prediction, expand_inputs, folder_groups

    zero_shot = _zero_shot_model(args)
    if zero_shot and args.dataset:
        raise GeoSpottrError("--dataset stores a trained model's guesses: not with --zero-shot")
    if args.dataset:
        if args.inputs:
            raise GeoSpottrError("--dataset predicts the project's own images: give no IMAGE or folder with it")
        return _predict_dataset(args)
    if not args.inputs:
        raise GeoSpottrError("give at least one IMAGE or folder")
    if args.group and args.group_by_folder:
        raise GeoSpottrError("use --group or --group-by-folder, not both")
    if args.versus and not args.explain:
        raise GeoSpottrError("--versus CITY shapes the --explain heat maps: give --explain OUT_DIR too")
    if zero_shot:
        predictor = _zero_shot(args, zero_shot)
    elif args.weights is not None:
        raise GeoSpottrError("--weights names the CLIP weights for --zero-shot; a trained model: --run or --model")
    else:
        if args.model is not None:  # a file: no project needed
            bundle = _choose(args, None).bundle
        else:
            with open_project(args) as project:
                bundle = _choose(args, project).bundle
        predictor = _load(bundle, args)
    out = _Output("json" if args.json else "csv" if args.csv else "text", (c.name for c in predictor.classes))
    explainer = _Explainer(predictor, args.explain, args.versus) if args.explain else None
    if args.group or args.group_by_folder:
        groups = ([("group", expand_inputs(args.inputs))] if args.group
                  else [g for root in args.inputs for g in folder_groups(root)])
        for _name, files in groups:
            result = predictor.predict_group(files, top_k=args.top_k, batch_size=args.batch_size)
            for f in result.failures:
                out.failure(f.reason)
            if result.combined is not None:
                out.prediction(result.combined, result.views)
                if explainer:
                    for view in result.views:  # each view's evidence for the place's combined top city
                        explainer.write(view.source, result.combined.top.slug)
    else:
        files = expand_inputs(args.inputs)
        with job() as (on_event, control):
            for result in predictor.predict_many(files, top_k=args.top_k, batch_size=args.batch_size,
                                                 on_event=on_event if len(files) > 1 else ignore_events,
                                                 control=control):
                if isinstance(result, Prediction):
                    out.prediction(result)
                    if explainer:
                        explainer.write(result.source, result.top.slug)
                else:
                    out.failure(result.reason)
    if explainer and explainer.written:
        print(f"wrote {plural(explainer.written, 'heat map')} to {args.explain}", file=sys.stderr)
        if explainer.plain:
            print(f"{plural(explainer.plain, 'photo')} had {args.versus} as top city: plain heat map "
                  f"(nothing to contrast)", file=sys.stderr)
    if out.failed:
        print(f"geospottr: {plural(out.failed, 'file')} could not be predicted", file=sys.stderr)
    return 1 if out.failed else 0


# ---------------------------------------------------------------------- challenge
def _open_viewer(path: Path) -> None:
    """Show the image in the desktop's viewer when there is one; the path is printed anyway."""
    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif os.name == "nt":
            os.startfile(str(path))  # type: ignore[attr-defined]
        elif shutil.which("xdg-open") and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            subprocess.Popen(["xdg-open", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        pass


def _enable_completion(words: list[str]) -> None:
    """Tab-complete city names and slugs when reading from a terminal with readline."""
    if not sys.stdin.isatty():
        return
    try:
        import readline
    except ImportError:
        return

    def complete(text: str, state: int):
        matches = [w for w in words if w.lower().startswith(text.lower())]
        return matches[state] if state < len(matches) else None

    readline.set_completer_delims("\t\n")
    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")


def _ask(challenge, number: int, project: Project):
    """Prompt until a valid guess: a city name/slug, or 'lat,lon'. Returns the revealed round or None on EOF."""
    start = time.monotonic()
    while True:
        try:
            text = input("your guess (city, or lat,lon; ? lists cities): ").strip()
        except EOFError:
            return None
        if text in ("", "?"):
            print("cities: " + ", ".join(c.name for c in project.cities()))
            continue
        seconds = time.monotonic() - start
        try:
            point = _point(text)
            if point is not None:
                return challenge.guess_point(number, point[0], point[1], seconds)
            return challenge.guess_city(number, text, seconds)
        except GeoSpottrError as exc:
            print(exc)


def _point(text: str) -> tuple[float, float] | None:
    """``lat,lon`` typed as a guess: two plain decimals (`parse_decimal`; ``4_5.8`` or ``nan`` is none),
    else None (the text names a city)."""
    parts = text.split(",")
    try:
        return (parse_decimal(parts[0]), parse_decimal(parts[1])) if len(parts) == 2 else None
    except BadValue:
        return None


def _print_round(done) -> None:
    """The truth, then both guesses in one table (a long point guess widens its column, not the row)."""
    h, m = done.human, done.model
    print(f"truth: {done.true_city} ({done.true_lat:.4f}, {done.true_lon:.4f})")
    said = h.city if h.kind == "city" else f"{h.lat:.2f},{h.lon:.2f} (near {h.city})"
    rows = [("you", said, f"{h.distance_km:,.1f}", f"{h.points:,}", "", "yes" if h.correct else "no"),
            ("model", m.city, f"{m.distance_km:,.1f}", f"{m.points:,}", f"{m.confidence:.0%}" if m.confidence else "",
             "yes" if m.correct else "no")]
    print("\n".join(table(["", "guess", ">km off", ">points", ">sure", "right city?"], rows, indent="  ")))


def _print_summary(s) -> None:
    print(f"\nchallenge {s.challenge_id}: {s.rounds_played} of {plural(s.rounds_total, 'round')} played;"
          f" {geo.describe_scale(s.scale_km)}")
    if not s.human:
        return
    rows = [(label, f"{side.accuracy:.0%}", f"{side.mean_points:,.0f}", f"{side.total_points:,}",
             f"{side.median_km:,.1f}", f"{side.mean_seconds:.1f}" if side.mean_seconds is not None else "")
            for label, side in (("you", s.human), ("model", s.model_side))]
    print("\n".join(table(["", ">accuracy", ">mean points", ">total points", ">median km", ">mean s"], rows)))
    print({"human": "you win!", "model": "the model wins.", "tie": "a tie."}[s.winner])


def _print_scoreboard(games) -> None:
    if not games:
        print("no games played yet")
        return
    rows = []
    for s in games:
        h, m = s.human, s.model_side
        rows.append((f"#{s.challenge_id}", s.created_at, s.player or "-", f"{s.rounds_played}/{s.rounds_total}",
                     f"{h.total_points:,}" if h else "-", f"{h.accuracy:.0%}" if h else "-",
                     f"{m.total_points:,}" if m else "-", f"{m.accuracy:.0%}" if m else "-"))
    print("\n".join(table(["game", "started", "player", ">rounds", ">your points", ">your acc", ">model points",
                           ">model acc"], rows)))


def cmd_challenge(args: argparse.Namespace) -> int:
    from ..evaluation.challenge import Challenge, scoreboard, start_challenge

    with open_project(args) as project:
        if args.scoreboard:
            if args.model:
                raise GeoSpottrError("the scoreboard can be narrowed to a training run (--run ID), not to a model file")
            _print_scoreboard(scoreboard(project, run_id=args.run))
            return 0
        if args.resume is not None:
            if args.run or args.model:
                raise GeoSpottrError("a resumed game keeps the model it started with: drop --run/--model")
            challenge = Challenge(project, args.resume)
        else:
            choice = _choose(args, project)
            predictor = _load(choice.bundle, args)
            challenge = start_challenge(project, predictor, rounds=args.rounds, seed=args.seed, split=args.split,
                                        player=args.player, run_id=choice.run_id)
        _enable_completion(sorted({w for c in project.cities() for w in (c.name, c.slug)}))
        rounds = challenge.rounds()
        for rnd in rounds:
            if rnd.played:
                continue
            print(f"\nround {rnd.number}/{len(rounds)}: {rnd.image_path}")
            if not args.no_open:
                _open_viewer(rnd.image_path)
            done = _ask(challenge, rnd.number, project)
            if done is None:
                print(f"\nstopped; resume with: {command_line(args, f'challenge --resume {challenge.id}')}")
                break
            _print_round(done)
        _print_summary(challenge.summary())
    return 0


# ---------------------------------------------------------------------- registration
def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("evaluate", parents=[common], help="score a model on the test split (accuracy, F1, km, points)",
                       description="Predict every image of a split and report accuracy, top-3/top-5, per-city "
                                   "precision/recall/F1 with macro and weighted averages, the confusion matrix, "
                                   "distance errors (km from the predicted city to the photo's coordinates) and "
                                   "GeoGuessr points; per place too when images carry a location id. Writes "
                                   "report.json, predictions.csv, places.csv and confusion.png into the run folder "
                                   "(for --model FILE: <project>/reports/<file stem>/, or reports/<run>-best/ for a run's "
                                   "best.pt).")
    _model_args(p)
    p.add_argument("--split", choices=SPLITS, default="test", help="default: %(default)s (other splits get a prefix)")
    p.add_argument("--batch-size", type=batch, default=32, help="images per forward pass (default: %(default)s)")
    p.add_argument("--out", type=Path, metavar="DIR", help="write the report files here instead")
    p.add_argument("--json", action="store_true", help="print report.json instead of the table")
    p.add_argument("--learning-curve", action="store_true",
                   help="instead of scoring a model: grouped 5-fold CV of the probe recipe (--run's, else the default) "
                        "trained on 25/50/75/100%% of the labelled places (train + val; test untouched), per-city and "
                        "macro F1 with 95%% intervals, a fitted power law and the F1 expected with 2x and 4x the photos; "
                        "uses the cached features; writes reports/learning_curve.json")
    p.add_argument("--shortcuts", action="store_true",
                   help="also check whether the model leans on Street View artefacts (the car and watermark at the "
                        "bottom, the corners, a border): share of the heat-map evidence there vs their area; "
                        "writes shortcuts.json")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", parents=[common], help="rank cities for photos (files, folders, or one place)",
                       description="Rank the model's cities for each photo, with probabilities (over all cities "
                                   "they sum to 1) and coordinates. Folders are searched recursively and predicted in "
                                   "batches. --group combines all given photos as views of one place; "
                                   "--group-by-folder does that for each folder (one folder per place). Unreadable "
                                   "files are reported on stderr and skipped; the exit status is 1 if any were.")
    _model_args(p)
    p.add_argument("inputs", nargs="*", type=Path, metavar="IMAGE|DIR",
                   help="photos, or folders searched recursively for photos")
    p.add_argument("--top-k", type=whole(at_least=0), default=5, help="cities to list per photo, 0 for all (default: %(default)s)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON Lines: one object per photo or place")
    fmt.add_argument("--csv", action="store_true", help="CSV: one row per photo and rank")
    p.add_argument("--group", action="store_true", help="all inputs are photos of one place: one combined ranking")
    p.add_argument("--group-by-folder", action="store_true", help="each folder under DIR is one place")
    p.add_argument("--explain", type=Path, metavar="OUT_DIR",
                   help="also write per photo OUT_DIR/<name>.explain.png: the photo with a heat map of what made "
                        "the model choose its top city (Grad-CAM; occlusion for other models), city and "
                        "probability as caption")
    p.add_argument("--versus", metavar="CITY",
                   help="with --explain: contrastive maps, why the top city rather than CITY (slug or name)")
    p.add_argument("--batch-size", type=batch, default=16, help="images per forward pass (default: %(default)s)")
    p.add_argument("--dataset", action="store_true",
                   help="predict every kept image of the project instead and store the guesses (the app's "
                        "grid then filters by right / wrong / guessed city and sorts by confidence)")
    p.add_argument("--zero-shot", nargs="?", const="streetclip", metavar="MODEL",
                   help="no trained model; MODEL is streetclip (also when left out) or geoclip. streetclip: "
                        "StreetCLIP ranks the project's cities by how well \"A Street View photo in CITY, COUNTRY.\" "
                        "matches each photo (pip install \"geospottr[clip]\"); geoclip: GeoCLIP places the photo on its "
                        "100,000-point GPS gallery, a city gets the probability within its area (its radius, at least "
                        "25 km), the rest is reported as elsewhere, with the most likely GPS point (pip install "
                        "\"geospottr[geoclip]\")")
    p.add_argument("--weights", metavar="NAME|DIR",
                   help="with --zero-shot: a hub name (default geolocal/StreetCLIP; geoclip: its backbone "
                        "openai/clip-vit-large-patch14) or a folder with that CLIP model and its processor (read "
                        "offline)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("challenge", parents=[common], help="play human vs model on test photos in the terminal",
                       description="Draw test photos (seeded), ask for your guess of each one's city (Tab completes "
                                   "names; 'lat,lon' guesses a point), then reveal the truth, the model's guess, "
                                   "distances and GeoGuessr points. Games are kept in the project.")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--run", metavar="ID", help=f"the model of a training run (runs/ID/best.pt); {PROJECT_MODEL_HELP}")
    which.add_argument("--model", type=Path, metavar="FILE", help="a model bundle file")
    instead = p.add_mutually_exclusive_group()
    instead.add_argument("--resume", type=whole(at_least=1), metavar="GAME", help="continue an unfinished game (with its own model)")
    instead.add_argument("--scoreboard", action="store_true",
                         help="list played games instead of playing (with --run ID: only those against that run)")
    p.add_argument("--rounds", type=whole(at_least=1, at_most=10_000), default=10, help="default: %(default)s")
    p.add_argument("--seed", type=seed, help="same seed, same photos (default: random)")
    p.add_argument("--split", choices=SPLITS, default="test", help="draw the photos from this split (default: %(default)s)")
    p.add_argument("--player", default="", help="your name on the scoreboard")
    p.add_argument("--no-open", action="store_true", help="do not open photos in the image viewer")
    p.add_argument("--device", default="auto", help="where the model runs: cpu, cuda, cuda:1 or auto (default: %(default)s)")
    p.add_argument("--tta", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_challenge)

    p = sub.add_parser("export-model", parents=[common], help="write a model as ONNX, to predict without torch",
                       description="Export a trained model to an ONNX file that carries its cities and preprocessing. "
                                   "`geospottr predict --model FILE.onnx` and the desktop app then run it with "
                                   "onnxruntime and numpy only (pip install \"geospottr[onnx]\"): no torch import, "
                                   "a faster start. The export is checked against the PyTorch model before it is "
                                   "written. Heat maps (--explain) need the .pt bundle.")
    p.add_argument("run", nargs="?", metavar="RUN", help=f"a training run of the project (its best.pt); {PROJECT_MODEL_HELP}")
    p.add_argument("--model", type=Path, metavar="FILE", help="a model bundle file (.pt) instead of a run")
    p.add_argument("--onnx", type=Path, metavar="OUT", required=True, help="the ONNX file to write (.onnx)")
    p.set_defaults(func=cmd_export_model)
