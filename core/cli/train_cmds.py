"""``geospottr train``, ``geospottr runs`` and ``geospottr models``."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from .common import cancel_on_interrupt, command_line, open_project
from .options import batch, fraction, non_negative, positive, seed, whole
from .render import ProgressPrinter, plural, table

ARCH_HELP = "model architecture (see `geospottr models`; default: efficientnet-lite0)"


def duration(text: str) -> float:
    """argparse type of --time-budget: ``30m``, ``1h30m``, ``90s`` -> seconds (`training.budget`, torch-free)."""
    from ..errors import GeoSpottrError
    from ..training.budget import parse_duration

    try:
        return parse_duration(text)
    except GeoSpottrError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check_names(args: argparse.Namespace) -> None:
    """The run to resume and the architecture, checked before torch loads (seconds) to refuse a typo."""
    if args.arch:
        from ..models import registry

        registry.spec(args.arch)
    if args.resume:
        from ..training.runs import run_dir

        with open_project(args) as project:
            run_dir(project.runs_dir, args.resume)


def cmd_train(args: argparse.Namespace) -> int:
    _check_names(args)
    from ..errors import Cancelled
    from ..events import Event, Kind
    from ..training.metrics import RunStarted
    from ..training.trainer import TrainConfig, TrainControl, train

    main_rank = os.environ.get("RANK", "0") == "0"
    settings = {k: getattr(args, k) for k in (
        "arch", "epochs", "batch_size", "image_size", "lr", "optimizer", "weights", "device", "label_smoothing",
        "geo_tau_km", "num_workers", "patience", "seed", "max_steps", "cache_cap_gb", "schedule", "weight_decay",
        "crop_bottom", "class_balance", "head", "refit", "time_budget")
        if getattr(args, k) is not None}
    for flag in ("cache_features", "geo_smoothing"):
        if getattr(args, flag):
            settings[flag] = True
    if args.no_amp:
        settings["amp"] = False
    if args.no_augment:
        settings["augment"] = False
    control = TrainControl()
    restore = cancel_on_interrupt(control)  # Ctrl+C: stop after this iteration, keep a resumable last.pt
    started: list[Path] = []
    try:
        with open_project(args) as project, ProgressPrinter() as printer:
            def on_event(event: Event) -> None:
                if event.kind == Kind.RUN_STARTED:
                    run_id = RunStarted.from_data(event.data).run_id
                    started.append(project.runs_dir / run_id)
                    print(f"run id: {run_id}", flush=True)
                printer(event)

            if args.resume:
                result = train(project, on_event=on_event, control=control, resume=args.resume, overrides=settings)
            else:
                result = train(project, TrainConfig(**settings), on_event=on_event, control=control)
    except Cancelled:
        if not (started and main_rank):
            raise
        # Stopped while preparing (caching features): the run folder exists, with nothing to resume from.
        print(f"run {started[0].name}: stopped while preparing\n{resume_hint(args, started[0])}")
        return 130
    finally:
        restore()
    if main_rank:
        print(f"run {result.run_id}: {result.status} after {plural(result.epochs_done, 'epoch')} ({result.stop_reason})")
        if result.best_val_acc is not None:
            print(f"best val accuracy {result.best_val_acc:.3f}")
        if result.status == "stopped":
            print(resume_hint(args, Path(result.run_dir)))
        if result.best_checkpoint:
            print(f"best checkpoint: {result.best_checkpoint}")
    return 130 if restore.interrupted else 0


def resume_hint(args: argparse.Namespace, run: Path) -> str:
    """The line after a stopped run (`train`, `runs --follow`): the resume command as it runs, and, for a
    run stopped before its first checkpoint, that it starts again (with its settings and cached features)."""
    from ..training.runs import LAST

    command = command_line(args, f"train --resume {shlex.quote(run.name)}")
    if (run / LAST).is_file():
        return f"resume with: {command}"
    return f"stopped before its first checkpoint; start it again with the same settings: {command}"


def _run_folder(args: argparse.Namespace, ref: str) -> Path:
    """RUN_ID in the project, or a run folder's path (then no project is opened)."""
    from ..training import runs

    if (Path(ref).expanduser() / runs.CONFIG).is_file():
        return Path(ref).expanduser()
    with open_project(args) as project:
        return runs.run_dir(project.runs_dir, ref)


def follow_in_terminal(args: argparse.Namespace, path: Path) -> int:
    """Print a run's log lines (the epoch lines `geospottr train` prints) and its progress bar as they are
    written, until it ends; Ctrl+C stops watching, never the run."""
    from ..errors import Cancelled
    from ..events import DONE, ERROR, LOG, PROGRESS, WARNING, Control, Event
    from ..training.follow import follow_run
    from ..training.runs import record_event

    shown = (PROGRESS, LOG, WARNING, ERROR, DONE)
    control = Control()
    restore = cancel_on_interrupt(control)
    paused = False
    try:
        with ProgressPrinter() as printer:
            def on_event(event: Event) -> None:
                nonlocal paused
                update = event.data["update"]
                if update.reset:
                    printer(Event(LOG, "(metrics.jsonl was rewritten: reading it from the start)"))
                for record in update.records:
                    replayed = record_event(record)
                    if replayed is not None and replayed.kind in shown:
                        printer(replayed)
                if update.state is not None and update.state.paused != paused:
                    paused = update.state.paused
                    printer(Event(LOG, "paused" if paused else "resumed"))

            state = follow_run(path, on_event=on_event, control=control)
    except Cancelled:
        return 0
    finally:
        restore()
    print(f"run {path.name}: {state.status}" + (f" ({state.reason})" if state.reason else ""))
    if state.status == "stopped":
        print(resume_hint(args, path))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from ..training.runlabels import epochs_text, run_status_text, val_acc_text
    from ..training.runs import list_runs

    if args.follow:
        return follow_in_terminal(args, _run_folder(args, args.follow))
    if args.send:
        from ..training.runcontrol import send_command

        command, ref = args.send
        path = _run_folder(args, ref)
        seq = send_command(path, command)
        print(f"sent {command} (#{seq}) to run {path.name}: its trainer acts on it within a second")
        return 0
    if args.compare:
        return _compare_runs(args)
    with open_project(args, readonly=True) as project:
        infos = list_runs(project)
    for info in infos:
        if info.problem:  # listed as "unreadable"; why, in one line each (a FIFO, a damaged file)
            print(f"warning: run {info.run_id}: {info.problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=1))
        return 0
    if not infos:
        print(f"no training runs yet (start one with `{command_line(args, 'train')}`)")
        return 0
    rows = [(i.run_id, i.arch, run_status_text(i), epochs_text(i), val_acc_text(i), i.best_checkpoint or "-")
            for i in infos]
    print("\n".join(table(["run", "arch", "status", ">epochs", ">best val acc", "best checkpoint"], rows)))
    return 0


def _compare_runs(args: argparse.Namespace) -> int:
    """``runs --compare``: every run's settings and results side by side (`core.training.compare`)."""
    from ..training.compare import compare_runs

    with open_project(args, readonly=True) as project:
        rows = compare_runs(project)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=1))
        return 0

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    def seconds(v: float | None) -> str:
        return "-" if v is None else f"{v / 60:.1f} min" if v >= 60 else f"{v:.0f} s"

    body = [(r.run_id, r.arch, r.head, str(r.image_size or "-"), "-" if r.lr is None else f"{r.lr:g}", str(r.epochs),
             pct(r.best_val_acc), "-" if r.test_macro_f1 is None else f"{r.test_macro_f1:.3f}", seconds(r.train_seconds),
             r.status) for r in rows]
    print("\n".join(table(["run", "arch", "head", ">size", ">lr", ">epochs", ">best val", ">test F1", ">time",
                           "status"], body)) if rows else "no training runs yet")
    return 0


def monitor_command(path: Path) -> list[str]:
    """The command line that opens the desktop app's monitor window on run folder `path`."""
    return [sys.executable, "-m", "geospottr_gui.app", "--monitor", str(path)]


def cmd_monitor(args: argparse.Namespace) -> int:
    path = _run_folder(args, args.run)
    # The CLI never imports Qt: the window is the desktop app's, in its own process (closing it leaves the run).
    return subprocess.call(monitor_command(path))


def cmd_models(args: argparse.Namespace) -> int:
    from ..models import registry

    rows = [(name, registry.spec(name).default_image_size, registry.spec(name).description) for name in registry.names()]
    print("\n".join(table(["arch", ">input px", "what"], rows)))
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "train", parents=[common], help="train a city classifier on the project's train/val split",
        description="Train on the persisted train split, validate on val each epoch, keep last.pt and best.pt "
                    "in runs/<id>/. Prints the run id first and the best checkpoint's path at the end. Ctrl+C "
                    "stops after the current iteration and saves a resumable checkpoint. Multi-GPU/multi-node: "
                    "launch with `torchrun --nproc_per_node N -m core train ...`.")
    p.add_argument("--arch", help=ARCH_HELP)
    p.add_argument("--epochs", type=whole(at_least=1, at_most=1_000_000), help="epochs (default: 10; with --resume: a new total)")
    p.add_argument("--batch-size", type=batch, help="images per step and process (default: 32)")
    p.add_argument("--image-size", type=whole(at_least=16, at_most=4096), help="input size S (SxS; default: the model's, e.g. 224)")
    p.add_argument("--lr", type=positive, help="base learning rate (default: 0.01 SGD, 0.001 AdamW)")
    p.add_argument("--optimizer", choices=("sgd", "adamw"), help="default: sgd with momentum 0.9")
    p.add_argument("--schedule", choices=("cosine", "step", "constant"), help="lr schedule after warmup (default: cosine)")
    p.add_argument("--weight-decay", type=non_negative, help="default: 1e-4")
    p.add_argument("--weights", metavar="imagenet|none|PATH",
                   help="backbone weights: imagenet (download once; efficientnet-lite0's ship offline), none, or a file; "
                        "streetclip-probe: a hub name or a folder saved by save_pretrained (default geolocal/StreetCLIP)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="default: auto (cuda > mps > cpu)")
    p.add_argument("--cache-features", action="store_true",
                   help="compute the frozen stages once (fp16 on disk) and train only the rest; flip-only augmentation")
    p.add_argument("--cache-cap-gb", type=positive, help="refuse a feature cache larger than this (default: 8)")
    p.add_argument("--label-smoothing", type=fraction, help="cross-entropy label smoothing (default: 0)")
    p.add_argument("--geo-smoothing", action="store_true",
                   help="haversine label smoothing: nearer cities get more target mass than far ones")
    p.add_argument("--geo-tau-km", type=positive, help="geo smoothing scale (default: median nearest-city distance / 3)")
    p.add_argument("--class-balance", choices=("none", "weighted", "sampler"),
                   help="for macro F1 on unequal cities: weighted = inverse-frequency loss weights, sampler = "
                        "balanced draws, none (default: weighted, chosen by cross-validation)")
    p.add_argument("--head", choices=("auto", "probe", "finetune"),
                   help="efficientnet-lite0: probe = efficientnet-lite-ensemble-probe (logistic regressions on frozen "
                        "EfficientNet-Lite0/1/2 and colour features, fused; seconds once cached), finetune = train the "
                        "last blocks; resnet50-linear: probe = resnet50-probe; auto (default) = probe while the median "
                        "city has under 250 training images (what cross-validation supports)")
    p.add_argument("--no-refit", dest="refit", action="store_false", default=None,
                   help="a probe: keep the fit on train only (default: once val is measured, refit on train + val, C by "
                        "inner CV over them, so every labelled photo counts; the val figures reported stay the "
                        "train-only fit's)")
    p.add_argument("--patience", type=whole(at_least=0), help="stop after N epochs without a val-loss improvement (default: 5; 0: never)")
    p.add_argument("--workers", dest="num_workers", type=whole(at_least=0, at_most=256), help="image decoding processes (default: 2)")
    p.add_argument("--seed", type=seed, help="default: 0")
    p.add_argument("--max-steps", type=whole(at_least=1), help="at most N iterations per epoch (quick trials)")
    p.add_argument("--crop-bottom", type=fraction, metavar="F",
                   help="cut the bottom fraction F of every photo (e.g. 0.12: Street View's car and watermark), "
                        "in training and, recorded in the model, at every later prediction (default: 0)")
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    p.add_argument("--no-augment", action="store_true",
                   help="train on plain resized crops (default: random resized crop, horizontal flip, colour jitter)")
    p.add_argument("--time-budget", metavar="DURATION", type=duration,
                   help="e.g. 30m, 1h30m: train the most accurate recipe (fine-tune or fused probe, fewer backbones) "
                        "predicted to fit, from per-photo costs measured on this device (a few seconds, kept a day "
                        "in cache/costs.json); the run log says which it picked and why. Without it, a run predicted "
                        "to take over an hour warns first and names the faster choice")
    p.add_argument("--resume", metavar="ID",
                   help="continue run ID from its last checkpoint (one stopped before its first checkpoint starts "
                        "again with its settings, reusing the features it cached)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("runs", parents=[common], help="list training runs with status and best val accuracy")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--follow", metavar="RUN_ID",
                   help="print the run's epoch lines and progress live until it ends (any process's run; "
                        "RUN_ID or a run folder; Ctrl+C stops watching, not the run)")
    p.add_argument("--compare", action="store_true",
                   help="every run side by side: model, head, image size, lr, epochs, best val accuracy, test macro "
                        "F1 (once `evaluate --run` ran) and training time")
    p.add_argument("--send", nargs=2, metavar=("COMMAND", "RUN_ID"),
                   help="pause, resume, stop or save (a checkpoint now) a run trained by another process")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("monitor", parents=[common], help="open the desktop app's live monitor window on a run",
                       description="Open a monitor window (live plots, progress, pause/resume/stop/save) on a "
                                   "training run, whichever process trains it. In a terminal without a display "
                                   "use `geospottr runs --follow RUN_ID`.")
    p.add_argument("run", metavar="RUN_ID", help="a run id of the project, or a run folder")
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser("models", parents=[common], help="list the model architectures")
    p.set_defaults(func=cmd_models)
