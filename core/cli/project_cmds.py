"""Dataset commands: init, cities, import, split, stats, export."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..data import catalog
from ..data.project import SPLITS, STATUSES, Project
from ..errors import GeoSpottrError
from .common import command_line, job, open_project
from .options import photo_count, positive, seed, whole
from .render import plural, table


def _split_city_list(text: str) -> list[str]:
    """A comma list of city names or slugs, where a two-letter upper-case item pins the country of the name
    before it: ``"Santiago,CL,Berlin"`` -> ``["Santiago,CL", "Berlin"]`` (``--add`` and ``--remove`` alike)."""
    queries: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if len(part) == 2 and part.isalpha() and part.isupper() and queries and "," not in queries[-1]:
            queries[-1] += f",{part}"
        else:
            queries.append(part)
    return queries


def _parse_city_list(text: str) -> list[catalog.CatalogCity]:
    """``seed``, or the catalog cities of a `_split_city_list` list."""
    if text.strip().lower() == "seed":
        return catalog.preset("seed")
    return [catalog.resolve(q) for q in _split_city_list(text)]


def _remove_cities(project: Project, text: str, delete_images: bool) -> None:
    """``cities --remove A,B``: every named city is checked before any is removed (an unknown name, or a
    city with images and no --delete-images, removes nothing), then each removal is reported."""
    cities = list({c.slug: c for c in (project.city(q) for q in _split_city_list(text))}.values())
    if not cities:
        raise GeoSpottrError("say which cities to remove: --remove SLUG[,SLUG...]")
    if not delete_images:
        counts = project.city_counts(STATUSES)
        held = [f"{c.slug} ({plural(counts.get(c.slug, 0), 'image')})" for c in cities if counts.get(c.slug)]
        if held:
            raise GeoSpottrError(f"{', '.join(held)} still {'has' if len(held) == 1 else 'have'} images: relabel "
                                 "them, or add --delete-images to remove them with the city; nothing was removed")
    for city in cities:
        n = project.remove_city(city.slug, delete_images=delete_images)
        print(f"removed {city.slug} ({city.name}, {city.country})" + (f" and its {plural(n, 'image')}" if n else ""))


def cmd_init(args: argparse.Namespace) -> int:
    cities = _parse_city_list(args.cities) if args.cities else []
    with Project.init(args.dir, cities, target_count=args.target, must_be_new=True) as project:
        hint = command_line(argparse.Namespace(project=args.dir), "cities --add Zagreb,Split")
        names = ", ".join(c.slug for c in project.cities()) or f"none yet (add some, e.g. `{hint}`)"
        print(f"project ready at {project.root}\ncities: {names}")
    return 0


def cmd_cities(args: argparse.Namespace) -> int:
    updating = args.target is not None or args.radius_km is not None
    if args.query and not (args.add or args.remove or args.list or updating):
        matches = catalog.search_matches(args.query, limit=args.limit)
        if not matches:
            raise GeoSpottrError(f"no city matches {args.query!r}")
        rows = [(f"{m.city.name},{m.city.country}", m.city.country_name, f"{m.city.lat:.4f}", f"{m.city.lon:.4f}",
                 f"{m.city.population:,}", f"as {m.matched_name!r}" if m.matched_name else "") for m in matches]
        print("\n".join(table(["city", "country", ">lat", ">lon", ">population", "matched"], rows)))
        return 0
    changes = bool(args.add or args.remove or args.target is not None or args.radius_km is not None)
    with open_project(args, readonly=not changes) as project:
        if args.add:
            for city in _parse_city_list(args.add):
                added = project.add_city(city, target_count=args.target or catalog.DEFAULT_TARGET, radius_km=args.radius_km)
                print(f"added {added.name} ({added.country}) as {added.slug}")
        elif args.target is not None or args.radius_km is not None:
            if not args.query:
                raise GeoSpottrError("say which city: `geospottr cities SLUG --target N`")
            city = project.update_city(args.query, target_count=args.target, radius_km=args.radius_km)
            print(f"updated {city.slug}: target {city.target_count}"
                  + (f", radius {city.radius_km:g} km" if city.radius_km else ""))
        if args.remove:
            _remove_cities(project, args.remove, args.delete_images)
        counts = project.city_counts()
        rows = [(c.slug, f"{c.name}, {c.country}", f"{counts.get(c.slug, 0):,}", f"{c.target_count:,}",
                 f"{c.radius_km:.1f}" if c.radius_km else "bbox") for c in project.cities()]
        if rows:
            print("\n".join(table(["slug", "city", ">images", ">target", ">radius km"], rows)))
        else:
            print(f"no cities yet (add some, e.g. `{command_line(args, 'cities --add Zagreb,Split')}`)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..data.importing import WARNED_REJECTS, import_source

    with open_project(args) as project, job() as (on_event, control):
        report = import_source(project, args.source, max_km=args.max_km, add_cities=args.add_cities,
                               trust_status=args.trust_status, on_event=on_event, control=control)
    for where, reason in report.rejected[:WARNED_REJECTS]:
        print(f"rejected {where}: {reason}")
    if len(report.rejected) > WARNED_REJECTS:
        print(f"... and {len(report.rejected) - WARNED_REJECTS} more "
              f"(see `{command_line(args, 'stats --errors')}`)")
    for where, reason in report.skipped[:WARNED_REJECTS]:
        print(f"skipped {where}: {reason}")
    if len(report.skipped) > WARNED_REJECTS:
        print(f"... and {len(report.skipped) - WARNED_REJECTS} more skipped (counted by reason below)")
    print(report.summary())
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from ..data.splitting import parse_ratios, split_project

    with open_project(args) as project:
        counts = split_project(project, parse_ratios(args.ratios), seed=args.seed, group_by=args.group_by)
    print("\n".join(table(["split", ">images"], [(s, f"{sum(counts[s].values()):,}") for s in SPLITS])))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with open_project(args, readonly=True) as project:
        stats = project.stats()
        errors = project.import_errors() if args.errors else []
    if args.json:
        print(json.dumps(stats, indent=1))
        return 0
    print(f"project {stats['project']}: {plural(stats['images'], 'image')} ({stats['unlabelled']:,} unlabelled)")
    rows = [(slug, f"{s['accepted'] + s['pending']:,}", f"{s['target']:,}",
             *(f"{s[k]:,}" for k in ("accepted", "pending", "rejected", "train", "val", "test")))
            for slug, s in stats["cities"].items()]
    if rows:
        print("\n".join(table(["city", ">have", ">target", ">accepted", ">pending", ">rejected", ">train", ">val",
                               ">test"], rows)))
    if args.errors:
        if errors:
            print(f"\n{plural(len(errors), 'file')} refused by imports:")
            for source, reason, at in errors:
                print(f"{at}  {source}: {reason}")
        else:
            print("\nno import errors: every imported file was accepted")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..data.exporting import export, format_for

    fmt = format_for(args.out, args.format)
    with open_project(args) as project, job() as (on_event, control):
        n = export(project, fmt, args.out, include_rejected=args.include_rejected, split=args.split,
                   on_event=on_event, control=control, force=args.force)
    print(f"exported {plural(n, 'image')} to {args.out} ({fmt})")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..quality.doctor import check, repair

    with open_project(args) as project:
        report = check(project)
        if not args.repair or report.ok:
            for line in report.lines():
                print(line)
            if report.ok:
                print("project is consistent")
                return 0
            if report.refusal:
                return 1
            print("repair with `geospottr doctor --repair` (safe while the project is in use; it shows what "
                  "it will change and asks first)")
            return 1
        if report.refusal and not args.allow_many:
            for line in report.lines()[:-1]:
                print(line)
            raise GeoSpottrError(report.refusal)
        print("repair will:")
        for line in report.plan():
            print(f"  {line}")
        print(f"  (first backing up {project.db_path.name} beside it)")
        if not args.yes:
            if not sys.stdin.isatty():
                print("nothing changed: confirm with --yes when not running interactively")
                return 1
            if input("Proceed? [y/N] ").strip().lower() not in ("y", "yes"):
                print("nothing changed")
                return 1
        fixed = repair(project, allow_many=args.allow_many, plan=report)
    if fixed.backup:
        print(f"backed up the database to {fixed.backup}")
    for line in fixed.lines():
        print(line)
    print("repaired: the project is consistent again")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[common], help="create a project folder",
                       description="Create a project folder (geospottr.db, images/, runs/, cache/).")
    p.add_argument("dir", type=Path, metavar="DIR",
                   help="the new project folder (may exist if empty; an existing project is refused: use `cities`)")
    p.add_argument("--cities", metavar="seed|NAME,...",
                   help="'seed' for the 22 seed cities, or names such as 'Zagreb,Split,Santiago,CL'")
    p.add_argument("--target", type=photo_count, default=catalog.DEFAULT_TARGET, help="images wanted per city (default: %(default)s)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("cities", parents=[common], help="search the world city catalog; manage project cities",
                       description="With a QUERY alone: search the offline GeoNames catalog (name, optional ',CC' "
                                   "country code). With --add/--remove/--list: change the project's cities.")
    p.add_argument("query", nargs="?", help="name to search, e.g. 'santiago' or 'santiago,CL'")
    p.add_argument("--add", metavar="NAME,...", help="add cities ('seed' for the 22-city preset)")
    p.add_argument("--remove", metavar="SLUG,...", help="remove cities from the project (slugs or names, comma-separated)")
    p.add_argument("--delete-images", action="store_true", help="with --remove: also delete the city's images")
    p.add_argument("--list", action="store_true", help="list the project's cities with have/target counts")
    p.add_argument("--target", type=photo_count, help="images wanted per city (with --add, or for the city named by QUERY)")
    p.add_argument("--radius-km", type=positive, help="sampling radius (with --add, or for the city named by QUERY)")
    p.add_argument("--limit", type=whole(at_least=1), default=20, help="search results to show (default: %(default)s)")
    p.set_defaults(func=cmd_cities)

    p = sub.add_parser("import", parents=[common], help="import photos from a folder tree or a CSV",
                       description="Import an ImageFolder tree (root/<city>/*.jpg) or a CSV with path,city or "
                                   "path,lat,lon columns (optional: location_id, heading, captured_at, licence, "
                                   "attribution, ...). Coordinates are labelled with the nearest project city. "
                                   "Files are validated, deduplicated by content and copied, never moved.")
    p.add_argument("source", type=Path, metavar="SOURCE", help="a folder of <city>/ folders, or a CSV file")
    p.add_argument("--max-km", type=positive, help="with lat/lon: reject photos farther than this from every city (without it, import counts "
                        "those beyond 150 km and says where cities seem to be missing)")
    p.add_argument("--add-cities", action="store_true", help="add unknown city names from the catalog instead of failing")
    p.add_argument("--trust-status", action="store_true",
                   help="keep the status and split columns of the CSV (or of an export's manifest.csv); without it "
                        "every photo comes in pending and unsplit, whoever wrote the table")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("split", parents=[common], help="assign train/val/test splits (stratified, persisted)",
                       description="Assign every labelled, non-rejected image to train/val/test, per city, keeping "
                                   "the images of one place together with --group-by location.")
    p.add_argument("--ratios", default="0.6,0.2,0.2", help="train,val,test (default: %(default)s)")
    p.add_argument("--seed", type=seed, default=0, help="same seed, same split (default: %(default)s)")
    p.add_argument("--group-by", choices=("location", "image"), default="location",
                   help="keep images of one place (location id, panorama or coordinates) in one split (default: %(default)s)")
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("stats", parents=[common], help="counts per city, status and split")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--errors", action="store_true", help="also list files refused by imports, with reasons")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("export", parents=[common], help="export labelled images (imagefolder, csv, geojson)",
                       description="imagefolder: OUT is a new folder with <city>/<id>.jpg plus cities.json and "
                                   "manifest.csv (re-importable losslessly). csv / geojson: OUT is a file listing "
                                   "images with absolute paths, labels and coordinates. The format follows OUT's "
                                   "extension (.csv, .geojson or .json; anything else is a folder) unless --format "
                                   "says otherwise; a --format that contradicts the extension is refused.")
    p.add_argument("out", type=Path, metavar="OUT", help="a new folder (imagefolder), or a .csv / .geojson file")
    p.add_argument("--format", choices=("imagefolder", "csv", "geojson"),
                   help="default: from OUT's extension (.csv, .geojson/.json), else imagefolder")
    p.add_argument("--split", choices=SPLITS, help="only this split")
    p.add_argument("--include-rejected", action="store_true", help="also export rejected images (status column says so)")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing csv/geojson file, or write inside the project folder "
                        "(never over its database, images or runs)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("doctor", parents=[common], help="check the project for orphan files and rows without files",
                       description="Check that every image file has its row and every row its file, and find temp "
                                   "files of killed writers. Exit status 1 when something needs repair. --repair "
                                   "deletes orphan files and abandoned temp files and removes rows whose file is "
                                   "gone, after showing what it will change, asking, and backing up the database; "
                                   "it is safe while other processes use the project, refuses mass loss (images/ "
                                   "unavailable, a wrong database) and never deletes a file a backup still lists.")
    p.add_argument("--repair", action="store_true",
                   help="fix what the check finds: shows the plan and asks first; backs up geospottr.db to "
                        "geospottr.db.bak-<time> before changing anything; refuses when more than a few percent of "
                        "rows lose their files at once (images/ unavailable?); never deletes files a backup still lists")
    p.add_argument("--yes", action="store_true", help="with --repair: do not ask (needed without a terminal)")
    p.add_argument("--allow-many", action="store_true",
                   help="with --repair: go ahead even when more than a few percent of rows or files would go at once")
    p.set_defaults(func=cmd_doctor)
