"""Evaluate a model bundle on a project split: accuracy, per-city P/R/F1, confusion, distances, points.

`evaluate(project, predictor)` returns an `EvaluationReport` (plain dataclasses the GUI reads directly);
`write_report(report, folder)` saves ``report.json``, ``predictions.csv`` (one row per image) and
``confusion.png`` atomically. Distances are from the predicted city's centre to the image's own
coordinates (the city centre of its label when the image has none), so a wrong guess of a neighbouring
city costs little and a guess across the country costs a lot, as in GeoGuessr; points are on the world
map's scale (`core.geo.geoguessr_points`), the figure published benchmarks report, so they compare with
them; the challenge scores on the project's own, smaller map instead (`core.geo.scaled_points`).

When the split's images carry a place id (``location_id``, or a Street View pano in ``source_id``), the
views of each place are also combined with `results.combine_views` and scored per place.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import geo
from ..data.project import SPLITS, ImageRecord, Project
from ..data.splitting import group_key
from ..errors import GeoSpottrError
from ..events import WARNING, Control, Event, EventCallback, ignore_events
from ..fsutil import atomic_write_bytes, atomic_write_text, safe_child
from ..inference.results import DEFAULT_BATCH, Prediction, combine_views
from ..scores import confusion_counts, counted, f1_counted, macro, precision_recall_f1

if TYPE_CHECKING:  # the caller loads the model; naming its type must not import torch
    from ..inference.prediction import Predictor

#: Distance thresholds (km) reported as "% within": street, city, region, country scale.
WITHIN_KM = (25, 200, 750)
TOP_K = (1, 3, 5)
REPORT_FILE = "report.json"
PREDICTIONS_FILE = "predictions.csv"
PLACES_FILE = "places.csv"
CONFUSION_FILE = "confusion.png"
#: Decimals of every float in the CSV files: probabilities to 1e-6, coordinates to ~0.1 m, distances to 1 mm.
CSV_DIGITS = 6


@dataclass(frozen=True)
class ImageResult:
    """One evaluated image: truth, the model's top guesses, and how far off the first guess was."""

    image_id: str
    path: str                 # absolute path of the image file
    place: str | None         # location / pano id when the project has one (the same key as places.csv)
    true_city: str
    predicted_city: str
    confidence: float         # probability of the predicted city
    true_probability: float   # probability the model gave the true city
    true_rank: int            # 1 = the true city was the top guess
    top5: tuple[str, ...]
    lat: float                # the coordinates the distance is measured to
    lon: float
    distance_km: float
    points: int

    @property
    def correct(self) -> bool:
        return self.true_rank == 1


@dataclass(frozen=True)
class CityMetrics:
    slug: str
    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class PlaceResult:
    """All views of one place combined into one guess."""

    place: str
    true_city: str
    views: int
    predicted_city: str
    confidence: float
    true_rank: int
    distance_km: float
    points: int

    @property
    def correct(self) -> bool:
        return self.true_rank == 1


@dataclass(frozen=True)
class Scores:
    """Headline numbers for a set of guesses (images or places)."""

    count: int
    accuracy: float
    top3: float | None   # None when the model knows 3 cities or fewer (it would always be 100%)
    top5: float | None   # None with 5 cities or fewer
    median_km: float
    mean_km: float
    within_km: dict[str, float]   # "25" -> fraction of guesses within 25 km
    mean_points: float
    #: 95% Wilson interval of `accuracy`: how far the true accuracy may be from this sample's (small splits).
    accuracy_ci: tuple[float, float] = (0.0, 1.0)
    macro_f1: float | None = None  # mean per-city F1 of these guesses

    def top_k(self) -> dict[int, float]:
        """The informative top-k accuracies by k: those whose k is below the number of cities."""
        return {k: v for k, v in ((3, self.top3), (5, self.top5)) if v is not None}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z = 1.96); (0, 1) for n = 0.

    Unlike the normal approximation it stays inside [0, 1] and is honest at small n and at 0% or 100%:
    19 test places all right still gives a lower bound of 83%, not 100%.
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def informative(k: int, n_classes: int) -> bool:
    """Whether top-`k` accuracy says anything: with `n_classes` <= k the truth is always in the top k."""
    return k < n_classes


@dataclass
class EvaluationReport:
    """Everything `geospottr evaluate` and the GUI's evaluate view show.

    `classes`/`class_names` index the rows (truth) and columns (prediction) of `confusion`.
    """

    model: str
    split: str
    classes: list[str]
    class_names: list[str]
    images: list[ImageResult]
    scores: Scores
    per_city: list[CityMetrics]
    macro: dict[str, float]
    weighted: dict[str, float]
    confusion: list[list[int]]
    places: list[PlaceResult] = field(default_factory=list)
    place_scores: Scores | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)   # (path, reason)
    skipped: int = 0   # test images whose city the model does not know
    tta: bool = False

    @property
    def confusion_normalized(self) -> list[list[float]]:
        """Rows divided by their sums (recall on the diagonal); all-zero rows stay zero."""
        m = np.asarray(self.confusion, dtype=np.float64)
        sums = m.sum(axis=1, keepdims=True)
        return (m / np.where(sums == 0, 1, sums)).round(4).tolist()

    def most_confident_mistakes(self, n: int = 10) -> list[ImageResult]:
        return sorted((r for r in self.images if not r.correct), key=lambda r: -r.confidence)[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "split": self.split, "tta": self.tta, "classes": self.classes,
            "class_names": self.class_names, "scores": asdict(self.scores),
            "macro": self.macro, "weighted": self.weighted,
            "per_city": [asdict(c) for c in self.per_city],
            "confusion": self.confusion, "confusion_normalized": self.confusion_normalized,
            "place_scores": asdict(self.place_scores) if self.place_scores else None,
            "most_confident_mistakes": [_image_row(r) for r in self.most_confident_mistakes()],
            "failures": [{"path": p, "reason": r} for p, r in self.failures], "skipped": self.skipped,
        }


def evaluate(project: Project, predictor: Predictor, split: str = "test", batch_size: int = DEFAULT_BATCH,
             on_event: EventCallback = ignore_events, control: Control | None = None) -> EvaluationReport:
    """Predict every labelled, non-rejected image of `split` and score the predictions."""
    if split not in SPLITS:
        raise GeoSpottrError(f"split must be one of {', '.join(SPLITS)}")
    slugs = [c.slug for c in predictor.classes]
    index = {s: i for i, s in enumerate(slugs)}
    records = [r for r in project.images(split=split, status=("pending", "accepted")) if r.city_slug]
    known = [r for r in records if r.city_slug in index]
    skipped = len(records) - len(known)
    if skipped:
        on_event(Event(WARNING, f"{skipped} {split} images are of cities this model does not know; skipped"))
    if not known:
        raise GeoSpottrError(f"no {split} images of this model's cities; run `geospottr split` or import some")
    cities = {c.slug: c for c in project.cities()}
    paths = [project.image_path(r) for r in known]
    results: list[ImageResult] = []
    probs_by_image: dict[str, np.ndarray] = {}
    failures: list[tuple[str, str]] = []
    for record, outcome in zip(known, predictor.predict_many(paths, top_k=5, batch_size=batch_size,
                                                               on_event=on_event, control=control)):
        if not isinstance(outcome, Prediction):
            failures.append((outcome.source, outcome.reason))
            continue
        probs = np.asarray(outcome.probabilities)
        probs_by_image[record.id] = probs
        lat, lon = _true_point(record, cities)
        results.append(_score_image(record, outcome, probs, index, predictor, lat, lon))
    if not results:
        raise GeoSpottrError(f"none of the {len(known)} {split} images could be read (first: {failures[0][1]})")
    y_true = [index[r.true_city] for r in results]
    y_pred = [index[r.predicted_city] for r in results]
    per_city, macro, weighted, confusion = _classification(y_true, y_pred, predictor)
    places = _places(known, probs_by_image, index, predictor, cities)
    # The guesses also go to the project, so the curation grid shows them (Model filter, badges) and a
    # confusion cell can open as "labelled X, the model says Y" there (`Project.store_predictions`).
    from ..inference.project_model import name_model

    project.store_predictions(name_model(predictor.source).label,
                              {r.image_id: (r.predicted_city, r.confidence) for r in results})
    return EvaluationReport(
        model=predictor.source, split=split, classes=slugs, class_names=[c.label for c in predictor.classes],
        images=results,
        scores=_scores([(r.true_rank, r.distance_km, r.points) for r in results], len(predictor.classes),
                       macro["f1"]),
        per_city=per_city, macro=macro, weighted=weighted, confusion=confusion, places=places,
        place_scores=(_scores([(p.true_rank, p.distance_km, p.points) for p in places], len(predictor.classes),
                              _macro_f1([p.true_city for p in places], [p.predicted_city for p in places], slugs))
                      if places else None),
        failures=failures, skipped=skipped, tta=predictor.tta)


def _true_point(record: ImageRecord, cities: dict) -> tuple[float, float]:
    if record.lat is not None and record.lon is not None:
        return record.lat, record.lon
    city = cities[record.city_slug]
    return city.lat, city.lon


def _score_image(record: ImageRecord, pred: Prediction, probs: np.ndarray, index: dict[str, int],
                 predictor: Predictor, lat: float, lon: float) -> ImageResult:
    true_i = index[record.city_slug]
    top = pred.top
    km = geo.haversine_km(top.lat, top.lon, lat, lon)
    return ImageResult(
        image_id=record.id, path=pred.source, place=_place_name(_place_id(record)), true_city=record.city_slug,
        predicted_city=top.slug, confidence=top.probability, true_probability=float(probs[true_i]),
        true_rank=_rank_of(probs, true_i), top5=tuple(c.slug for c in pred.ranking[:5]),
        lat=lat, lon=lon, distance_km=km, points=geo.geoguessr_points(km))


def _rank_of(probs: np.ndarray, i: int) -> int:
    """1-based rank of class `i` (ties resolved in class order, like the ranking)."""
    order = np.argsort(-probs, kind="stable")
    return int(np.nonzero(order == i)[0][0]) + 1


def _place_id(record: ImageRecord) -> str | None:
    """The place an image shows when the project knows it (location id or pano), else None."""
    key = group_key(record, "location")
    return key if key.startswith(("loc:", "src:")) else None


def _place_name(key: str | None) -> str | None:
    """A place key as files and tables show it: the location or pano id without the ``loc:`` / ``src:``
    prefix that keeps the two kinds apart while grouping."""
    return key.split(":", 1)[1] if key is not None else None


def _macro_f1(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    """Macro F1 over `labels` (the cities that count, `core.scores`); a name outside them counts as one more
    class (a miss for the true city, a false alarm for the predicted one), as scikit-learn counts it."""
    other = len(labels)
    index = {label: i for i, label in enumerate(labels)}
    confusion = confusion_counts([index.get(t, other) for t in truth], [index.get(p, other) for p in predicted],
                                 other + 1)
    f1, mask = f1_counted(confusion)
    return macro(f1[:other], mask[:other])


def _scores(rows: Sequence[tuple[int, float, int]], n_classes: int, macro_f1: float | None = None) -> Scores:
    """Headline numbers from (true rank, km, points) rows; top-k only where k < `n_classes`."""
    n = len(rows)
    correct = sum(r == 1 for r, _, _ in rows)
    kms = [km for _, km, _ in rows]

    def top(k: int) -> float | None:
        return sum(r <= k for r, _, _ in rows) / n if informative(k, n_classes) else None

    return Scores(
        count=n, accuracy=correct / n, accuracy_ci=wilson_interval(correct, n), macro_f1=macro_f1, top3=top(3),
        top5=top(5), median_km=float(statistics.median(kms)),
        mean_km=float(statistics.fmean(kms)),
        within_km={str(t): sum(km <= t for km in kms) / n for t in WITHIN_KM},
        mean_points=float(statistics.fmean(p for _, _, p in rows)))


def _classification(y_true: list[int], y_pred: list[int], predictor: Predictor):
    confusion = confusion_counts(y_true, y_pred, len(predictor.classes))
    p, r, f, s = precision_recall_f1(confusion)
    per_city = [CityMetrics(c.slug, c.name, float(p[i]), float(r[i]), float(f[i]), int(s[i]))
                for i, c in enumerate(predictor.classes)]
    weights = s / s.sum() if s.sum() else np.zeros_like(p)
    mask = counted(confusion)  # a city with no photo in the split and never guessed says nothing
    averages = {"precision": macro(p, mask), "recall": macro(r, mask), "f1": macro(f, mask)}
    weighted = {"precision": float(p @ weights), "recall": float(r @ weights), "f1": float(f @ weights)}
    return per_city, averages, weighted, confusion.tolist()


def _places(records: Sequence[ImageRecord], probs_by_image: dict[str, np.ndarray], index: dict[str, int],
            predictor: Predictor, cities: dict) -> list[PlaceResult]:
    """Per-place results (views combined), or [] when the images carry no place ids."""
    groups: dict[str, list[ImageRecord]] = {}
    for r in records:
        place = _place_id(r)
        if place is not None and r.id in probs_by_image:
            groups.setdefault(place, []).append(r)
    out = []
    for place, members in sorted(groups.items()):
        truth = max({m.city_slug for m in members}, key=[m.city_slug for m in members].count)
        probs = combine_views(np.array([probs_by_image[m.id] for m in members]))
        points = [_true_point(m, cities) for m in members]
        lat = statistics.fmean(p[0] for p in points)
        lon = statistics.fmean(p[1] for p in points)
        best = int(np.argmax(probs))
        top = predictor.classes[best]
        km = geo.haversine_km(top.lat, top.lon, lat, lon)
        out.append(PlaceResult(place=_place_name(place), true_city=truth, views=len(members),
                               predicted_city=top.slug, confidence=float(probs[best]),
                               true_rank=_rank_of(probs, index[truth]), distance_km=km,
                               points=geo.geoguessr_points(km)))
    return out


# ---------------------------------------------------------------------- files
def _image_row(r: ImageResult) -> dict[str, Any]:
    return {"image_id": r.image_id, "path": r.path, "place": r.place or "", "true_city": r.true_city,
            "predicted_city": r.predicted_city, "correct": int(r.correct), "confidence": r.confidence,
            "true_probability": r.true_probability, "true_rank": r.true_rank, "top5": " ".join(r.top5),
            "lat": r.lat, "lon": r.lon, "distance_km": r.distance_km, "points": r.points}


def _csv_text(rows: list[dict[str, Any]]) -> str:
    """CSV with every float at `CSV_DIGITS` decimals, so predictions.csv and places.csv read alike."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: round(v, CSV_DIGITS) if isinstance(v, float) else v for k, v in row.items()}
                         for row in rows)
    return buf.getvalue()


def write_report(report: EvaluationReport, folder: Path | str, prefix: str = "") -> dict[str, Path]:
    """Write report.json, predictions.csv, places.csv (when places exist) and confusion.png into `folder`
    (names get `prefix`, e.g. ``"val-"``, so splits do not overwrite each other). Returns the paths."""
    folder = Path(folder)
    paths = {"report": folder / f"{prefix}{REPORT_FILE}", "predictions": folder / f"{prefix}{PREDICTIONS_FILE}",
             "confusion": folder / f"{prefix}{CONFUSION_FILE}"}
    atomic_write_text(paths["report"], json.dumps(report.to_dict(), indent=1))
    atomic_write_text(paths["predictions"], _csv_text([_image_row(r) for r in report.images]))
    if report.places:
        paths["places"] = folder / f"{prefix}{PLACES_FILE}"
        rows = [{**asdict(p), "correct": int(p.correct)} for p in report.places]
        atomic_write_text(paths["places"], _csv_text(rows))
    else:  # no stale per-place file from an earlier evaluation beside this report
        (folder / f"{prefix}{PLACES_FILE}").unlink(missing_ok=True)
    atomic_write_bytes(paths["confusion"], confusion_png(report.confusion, report.class_names))
    return paths


def confusion_png(matrix: Sequence[Sequence[int]], names: Sequence[str], cell: int = 36) -> bytes:
    """A row-normalised confusion heat map as PNG bytes, with counts in the cells.

    Drawn with Pillow rather than matplotlib: it is one grid of squares and labels, and Pillow is
    already a dependency (matplotlib would add ~40 MB to the packaged app and a font-cache build on
    first use).
    """
    from PIL import Image, ImageDraw, ImageFont

    m = np.asarray(matrix, dtype=np.float64)
    n = len(names)
    rows = m / np.where(m.sum(axis=1, keepdims=True) == 0, 1, m.sum(axis=1, keepdims=True))
    font = ImageFont.load_default(size=max(10, cell // 3))
    label_w = int(max(font.getlength(s) for s in names)) + 12
    title = "true city (rows) vs predicted city (columns), row-normalised"
    title_h = 28
    width = max(label_w + n * cell + 10, int(font.getlength(title)) + 16)
    height = title_h + label_w + n * cell + 10
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((8, 6), title, fill="black", font=font)
    top = title_h + label_w
    for j, name in enumerate(names):  # column labels, rotated
        text = Image.new("RGBA", (label_w, cell), (255, 255, 255, 0))
        ImageDraw.Draw(text).text((label_w - 6, cell // 2), name, fill="black", font=font, anchor="rm")
        rotated = text.rotate(90, expand=True)
        img.paste(rotated, (label_w + j * cell, title_h), rotated)
    for i, name in enumerate(names):
        draw.text((label_w - 6, top + i * cell + cell // 2), name, fill="black", font=font, anchor="rm")
        for j in range(n):
            v = rows[i, j]
            shade = int(255 * (1 - v))
            x0, y0 = label_w + j * cell, top + i * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=(shade, shade, 255), outline=(220, 220, 220))
            if m[i, j]:
                draw.text((x0 + cell // 2, y0 + cell // 2), str(int(m[i, j])), anchor="mm", font=font,
                          fill="white" if v > 0.5 else "black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def format_table(report: EvaluationReport) -> str:
    """The terminal summary `geospottr evaluate` prints."""
    s = report.scores
    lines = [f"{report.split} split: {s.count} images" + (f", {len(report.failures)} unreadable" if report.failures else "")
             + (f", {report.skipped} of unknown cities skipped" if report.skipped else ""),
             f"{'':<16}{'acc':>7}{'95% CI':>14}{'macro F1':>10}" + "".join(f"{'top-' + str(k):>7}" for k in s.top_k())
             + f"{'median km':>11}{'mean km':>9}"
             + "".join(f"{'<' + str(t) + ' km':>9}" for t in WITHIN_KM) + f"{'points':>8}"]
    for label, sc in (("per image", s), ("per place", report.place_scores)):
        if sc is None:
            continue
        ci = f"{sc.accuracy_ci[0]:.1%}-{sc.accuracy_ci[1]:.1%}"
        f1 = f"{sc.macro_f1:.3f}" if sc.macro_f1 is not None else "-"
        lines.append(f"{label:<16}{sc.accuracy:>7.1%}{ci:>14}{f1:>10}" + "".join(f"{v:>7.1%}" for v in sc.top_k().values())
                     + f"{sc.median_km:>11.1f}"
                     f"{sc.mean_km:>9.1f}" + "".join(f"{sc.within_km[str(t)]:>9.1%}" for t in WITHIN_KM)
                     + f"{sc.mean_points:>8.0f}" + (f"  ({sc.count} places)" if label == "per place" else ""))
    lines.append("")
    lines.append(f"{'city':<20}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}")
    for c in report.per_city:
        lines.append(f"{c.slug:<20}{c.precision:>10.3f}{c.recall:>8.3f}{c.f1:>7.3f}{c.support:>9}")
    for label, avg in (("macro avg", report.macro), ("weighted avg", report.weighted)):
        lines.append(f"{label:<20}{avg['precision']:>10.3f}{avg['recall']:>8.3f}{avg['f1']:>7.3f}{s.count:>9}")
    return "\n".join(lines)


@dataclass(frozen=True)
class ModelChoice:
    """Which bundle to use and where its reports go."""

    bundle: Path
    report_dir: Path
    run_id: str | None = None


def choose_model(project: Project | None, run: str | None = None, model: Path | str | None = None) -> ModelChoice:
    """``--run ID`` -> ``runs/<ID>/best.pt`` (else ``last.pt``), reports into the run folder;
    ``--model FILE`` -> that file, reports into ``<project>/reports/<name>/`` (``reports/`` next to the file
    when there is no project), where <name> is the file's stem, prefixed with its run folder for a run's
    best.pt / last.pt: ``runs/X/best.pt`` -> ``reports/X-best/``, so every run's best.pt gets its own."""
    if (run is None) == (model is None):
        raise GeoSpottrError("say which model: --run ID or --model FILE")
    if run is not None:
        if project is None:
            raise GeoSpottrError("--run needs a project (--project DIR)")
        from ..training.runs import BEST, LAST, run_dir

        folder = run_dir(project.runs_dir, run)  # "no run 'x' in this project", before any file is looked for
        for name in (BEST, LAST):
            if (folder / name).is_file():
                return ModelChoice(folder / name, folder, run)
        raise GeoSpottrError(f"run {run!r} has no model yet (no best.pt or last.pt in {folder}): it stopped "
                             f"before its first checkpoint; continue it with `geospottr train --resume {run}`")
    from ..training.runs import BEST, LAST

    path = Path(model).expanduser()
    if not path.is_file():  # said before torch is imported to read it (seconds)
        raise GeoSpottrError(f"no model file {path}" if not path.exists() else f"{path} is not a model file (a folder?)")
    name = f"{path.resolve().parent.name}-{path.stem}" if path.name in (BEST, LAST) else path.stem
    if project is None:
        return ModelChoice(path, path.parent / "reports" / name)
    # reports/ and its folder must stay inside the project (a symlink out is refused, not written through).
    return ModelChoice(path, safe_child(project.root, "reports", report_name(name), what="report name"))


def report_name(name: str) -> str:
    """`name` (a model file's stem) as one safe folder name under reports/."""
    clean = "".join(c if c.isalnum() or c in "-_.+ " else "_" for c in name).strip(" .") or "model"
    return clean[:100]
