"""``geospottr download``: fill the project's cities from Street View or Mapillary; ``geospottr advise``:
which cities and where to download next (a plan ``download --plan`` runs)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import GeoSpottrError
from .common import job, open_project
from .options import decimal, non_negative, photo_count, positive, seed, whole

TERMS = """\
Sources and their terms:
  streetview  Google Street View Static API (billed per image; metadata lookups are free). Google's
              Maps Platform Terms restrict storing, caching and redistributing Street View content and
              using it to train models; check that your use is allowed before you download.
              Key: --key, else $GOOGLE_MAPS_API_KEY, else the OS keyring
              (`keyring set geospottr google_maps_api_key`); optional URL signing secret from
              $GOOGLE_MAPS_SIGNING_SECRET, or `keyring set geospottr google_maps_signing_secret` when
              the key is in the keyring too (with --key or the variable the keyring is never touched).
  mapillary   Mapillary API v4 (free access token). Images are CC BY-SA 4.0: credit each creator
              (stored per image with its link) and share derived datasets under the same licence.
              Token: --token, else $MAPILLARY_ACCESS_TOKEN, else `keyring set geospottr mapillary_access_token`.
Keys and tokens are never written to the project or printed.

--per-city N means: until each city holds N images from this provider (rejected ones do not count).
Re-running the same command resumes: it downloads only what is missing and never retries a point.
Service URLs: $GEOSPOTTR_STREETVIEW_URL, $GEOSPOTTR_MAPILLARY_URL (proxies, testing)."""


def _config(args: argparse.Namespace):
    from ..acquisition.http import RetryPolicy
    from ..acquisition.jobs import DEFAULT_PRICE_PER_1000, DownloadConfig
    from ..acquisition.mapillary import MapillaryParams
    from ..acquisition.streetview import StreetViewParams

    if args.all and args.cities:
        raise GeoSpottrError("give --cities or --all, not both")
    plan = None
    if args.plan is not None:
        from ..acquisition.plan import load_plan

        if args.cities or args.all or args.per_city is not None:
            raise GeoSpottrError("a plan names its cities and counts: give --plan, or --cities/--all/--per-city")
        plan = load_plan(args.plan)
    provider = args.provider or (plan.provider if plan else None)
    if provider is None:
        raise GeoSpottrError("say where to download from: --provider streetview or --provider mapillary")
    cities = None if args.all or not args.cities else [c.strip() for c in args.cities.split(",") if c.strip()]
    config = DownloadConfig(
        provider=provider, cities=cities, per_city=args.per_city, workers=args.workers, seed=args.seed,
        addresses=args.addresses, key=args.key if provider == "streetview" else args.token,
        streetview=StreetViewParams(size=args.size, pitch=args.pitch, fov=args.fov, radius_m=args.radius_m,
                                    outdoor=args.outdoor),
        mapillary=MapillaryParams(tile_m=args.tile_m, include_panos=args.include_panos),
        price_per_1000=DEFAULT_PRICE_PER_1000 if args.price_per_1000 is None else args.price_per_1000, max_image_requests=args.budget, qps=args.qps or None,
        retry=RetryPolicy(max_retries=args.retries, base_delay_s=args.backoff, timeout_s=args.timeout))
    return plan.configure(config) if plan is not None else config


def _confirm(text: str) -> bool:
    if not sys.stdin.isatty():
        raise GeoSpottrError("this download costs money: confirm with --yes when not running interactively")
    answer = input(f"{text}\nProceed? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def cmd_download(args: argparse.Namespace) -> int:
    from ..acquisition.jobs import DownloadCancelled, check_ready, estimate_cost, run_download

    config = _config(args)
    with open_project(args) as project:
        estimate = estimate_cost(project, config)
        if estimate.images == 0:
            print("every selected city already has its images from this provider; nothing to download")
            return 0
        check_ready(config)  # a missing key or no network: say so before asking to confirm a cost
        if estimate.cost > 0 and not args.yes:
            if not _confirm(estimate.describe()):
                print("nothing downloaded")
                return 1
        else:
            print(estimate.describe())
        try:
            with job() as (on_event, control):
                summary = run_download(project, config, on_event=on_event, control=control)
        except DownloadCancelled as exc:
            print("\n".join(exc.summary.lines()))
            raise
    print("\n".join(summary.lines()))
    return 0


def cmd_advise(args: argparse.Namespace) -> int:
    from ..acquisition.jobs import DEFAULT_PRICE_PER_1000, DownloadConfig
    from ..acquisition.plan import save_plan
    from ..evaluation.advisor import PLAN_FILE, advise
    from ..evaluation.curves import reports_folder
    from ..evaluation.learning import current_curve

    with open_project(args) as project:
        with job() as (on_event, control):
            curve = current_curve(project, args.run, args.refresh, on_event, control)
        price = DEFAULT_PRICE_PER_1000 if args.price_per_1000 is None else args.price_per_1000
        advice = advise(project, curve, args.photos, DownloadConfig(provider=args.provider, price_per_1000=price))
        plan = advice.plan()
        path = save_plan(plan, args.out or reports_folder(project) / PLAN_FILE) if plan.cities else None
    if args.json:
        print(json.dumps(plan.to_dict(), indent=1))
        return 0
    print("\n".join(advice.lines()))
    if path is not None:
        print(f"\nwrote {path}; queue it with: geospottr download --plan {path}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("download", parents=[common], help="download street imagery for the project's cities",
                       description="Download Street View or Mapillary images until each city has --per-city images "
                                   "from that provider, at points sampled uniformly in the city's area or from an "
                                   "address book. Shows the cost and asks first (unless --yes).",
                       epilog=TERMS, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--provider", choices=("streetview", "mapillary"),
                   help="Google Street View Static API (billed) or Mapillary (free token); see below (required "
                        "unless --plan names it)")
    p.add_argument("--plan", type=Path, metavar="PLAN.json",
                   help="download what `geospottr advise` planned: its cities, counts and sub-areas (resumable)")
    p.add_argument("--cities", metavar="A,B", help="city slugs or names (default: all the project's cities)")
    p.add_argument("--all", action="store_true", help="every city of the project")
    p.add_argument("--per-city", type=photo_count, metavar="N",
                   help="target images per city from this provider (default: each city's own target)")
    p.add_argument("--workers", type=whole(at_least=1, at_most=64), default=4, metavar="K", help="concurrent downloads (default: %(default)s)")
    p.add_argument("--seed", type=seed, default=0, help="same seed, same points (default: %(default)s)")
    p.add_argument("--addresses", type=Path, metavar="FILE",
                   help="sample points from an address book: OpenAddresses GeoJSON, GeoJSON-seq or CSV with lon/lat (.gz ok)")
    p.add_argument("--yes", action="store_true", help="do not ask to confirm the cost")
    p.add_argument("--key", help="Google Maps API key (prefer $GOOGLE_MAPS_API_KEY or the keyring: shell history keeps this)")
    p.add_argument("--token", help="Mapillary access token (prefer $MAPILLARY_ACCESS_TOKEN or the keyring)")
    p.add_argument("--budget", type=whole(at_least=0), metavar="N", help="stop after N image requests (the billed calls)")
    p.add_argument("--price-per-1000", type=non_negative, metavar="USD",
                   help="Street View price per 1,000 images for the estimate (default: Google's list price, 7)")
    p.add_argument("--qps", type=non_negative, default=25.0, help="requests per second at most, 0 for no limit (default: %(default)s)")
    p.add_argument("--timeout", type=positive, default=20.0, metavar="S",
                   help="seconds one request may take in total, however slowly the server answers (default: %(default)s)")
    p.add_argument("--retries", type=whole(at_least=0, at_most=100), default=6, help="retries of 429/5xx/timeouts (default: %(default)s)")
    p.add_argument("--backoff", type=non_negative, default=0.5, metavar="S", help="first backoff delay, doubling (default: %(default)s)")
    sv = p.add_argument_group("Street View image parameters (defaults: the seed dataset's)")
    sv.add_argument("--size", type=whole(at_least=16, at_most=640), default=640, help="square image side in px (default: %(default)s)")
    sv.add_argument("--pitch", type=decimal(at_least=-90, at_most=90), default=20.0, help="(default: %(default)s)")
    sv.add_argument("--fov", type=decimal(above=0, at_most=120), default=90.0, help="(default: %(default)s)")
    sv.add_argument("--radius-m", type=whole(at_least=1, at_most=50_000), default=50, help="how far a point may snap to a panorama (default: %(default)s)")
    sv.add_argument("--any-source", dest="outdoor", action="store_false",
                    help="also indoor panoramas (default: source=outdoor only)")
    mly = p.add_argument_group("Mapillary")
    mly.add_argument("--tile-m", type=positive, default=300.0, help="side of the area searched per point (default: %(default)s)")
    mly.add_argument("--include-panos", action="store_true", help="also 360-degree images (equirectangular)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("advise", parents=[common], help="which cities to photograph next, and where (a download plan)",
                       description="Rank the cities by the macro F1 their next photos should add, from the learning "
                                   "curve (`evaluate --learning-curve`; measured first when missing or older than the "
                                   "photos), which city each is mistaken for, and where its mistakes lie (the cells of "
                                   "its area with the most errors and the fewest photos). Plans --photos new ones, "
                                   "shows the downloader's cost bound and writes the plan for `download --plan`.")
    p.add_argument("--photos", type=photo_count, default=100, metavar="N", help="new photos to plan (default: %(default)s)")
    p.add_argument("--provider", choices=("streetview", "mapillary"), default="streetview",
                   help="where the plan downloads from (default: %(default)s)")
    p.add_argument("--price-per-1000", type=non_negative, metavar="USD",
                   help="Street View price per 1,000 images for the estimate (default: Google's list price, 7)")
    p.add_argument("--run", metavar="ID", help="measure the curve with this run's recipe (default: the default recipe)")
    p.add_argument("--refresh", action="store_true", help="measure the learning curve again even when it is current")
    p.add_argument("--out", type=Path, metavar="PLAN.json", help="where to write the plan (default: reports/download_plan.json)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=cmd_advise)
