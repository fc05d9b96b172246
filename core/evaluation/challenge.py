"""Human vs model: the same seeded draw of test images, guessed by a person and by the model, scored alike.

A game is drawn with `start_challenge` (the model's guesses are computed then, from one bundle, and
stored with a snapshot of the truth so relabelling or retraining later never rewrites a played game).
A person then answers each `Round` with `Challenge.guess_city` or `Challenge.guess_point` and the
seconds they took; both sides are scored with the same great-circle distance to the image's own
coordinates and the same GeoGuessr points, scaled to the project's play area as GeoGuessr scales them to
its map (`core.geo.scaled_points` with D = `geo.play_area_km` of the project's cities, fixed when the game
is drawn and shown as `ChallengeSummary.scale_km`). A point guess counts as correct when the nearest
project city to the point is the true city. Everything lives in the project database (``challenges``,
``challenge_rounds``), so the GUI and the terminal game share games and the scoreboard.

The GUI must show `Round.model` only once `Round.played` is true (the reveal).
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .. import geo
from ..data.project import SPLITS, ImageRecord, Project, utcnow
from ..data.splitting import group_key
from ..errors import GeoSpottrError
from ..inference.results import Prediction
from ..values import checked_point

if TYPE_CHECKING:  # the caller loads the model; naming its type must not import torch
    from ..inference.prediction import Predictor


@dataclass(frozen=True)
class Guess:
    """One side's answer to a round, scored."""

    city: str                  # the city guessed (for a point: the project city nearest to it)
    lat: float                 # the point guessed, or the guessed city's centre
    lon: float
    distance_km: float         # to the image's true coordinates
    points: int
    correct: bool
    kind: str                  # "city" | "point" | "model"
    seconds: float | None = None
    confidence: float | None = None   # the model's probability for its city


@dataclass(frozen=True)
class Round:
    challenge_id: int
    number: int                # 1-based
    image_id: str
    image_path: Path           # absolute
    true_city: str
    true_lat: float
    true_lon: float
    model: Guess
    human: Guess | None = None

    @property
    def played(self) -> bool:
        return self.human is not None


@dataclass(frozen=True)
class SideSummary:
    """How one side did over the played rounds."""

    rounds: int
    accuracy: float
    mean_points: float
    total_points: int
    median_km: float
    mean_seconds: float | None = None


@dataclass(frozen=True)
class ChallengeSummary:
    challenge_id: int
    created_at: str
    player: str
    model: str
    rounds_total: int
    rounds_played: int
    human: SideSummary | None      # None until a round is played
    model_side: SideSummary | None  # the model on the same (played) rounds
    scale_km: float = geo.WORLD_DIAGONAL_KM  # D of the points formula: the play area's diagonal

    @property
    def winner(self) -> str | None:
        """"human", "model" or "tie" by total points; None before any round is played."""
        if not self.human or not self.model_side:
            return None
        h, m = self.human.total_points, self.model_side.total_points
        return "human" if h > m else "model" if m > h else "tie"


def _one_per_place(records: list[ImageRecord]) -> list[ImageRecord]:
    """The first image of each place (location id, panorama or coordinates: `splitting.group_key`), in
    order: two headings of one panorama in a game would give the second round away."""
    seen: set[str] = set()
    out = []
    for record in records:
        place = group_key(record, "location")
        if place not in seen:
            seen.add(place)
            out.append(record)
    return out


def start_challenge(project: Project, predictor: Predictor, rounds: int = 10, seed: int | None = None,
                    split: str = "test", player: str = "", run_id: str | None = None) -> "Challenge":
    """Draw `rounds` images of `split` (seeded: the same seed gives the same images), compute the model's
    guesses now, and store the game. Unreadable images are passed over for the next one drawn."""
    if rounds < 1:
        raise GeoSpottrError("a challenge needs at least 1 round")
    if split not in SPLITS:
        raise GeoSpottrError(f"split must be one of {', '.join(SPLITS)}")
    known = {c.slug for c in predictor.classes}
    pool = sorted((r for r in project.images(split=split, status=("pending", "accepted")) if r.city_slug in known),
                  key=lambda r: r.id)
    if not pool:
        raise GeoSpottrError(f"no {split} images of the model's cities to play with; run `geospottr split` first")
    seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
    random.Random(seed).shuffle(pool)
    pool = _one_per_place(pool)
    cities = {c.slug: c for c in project.cities()}
    picked = []
    outcomes = predictor.predict_many((project.image_path(r) for r in pool), top_k=1, batch_size=min(rounds, 16))
    for record, outcome in zip(pool, outcomes):  # lazy: decodes only about as many images as needed
        if isinstance(outcome, Prediction):
            picked.append((record, outcome))
            if len(picked) == rounds:
                break
    if not picked:
        raise GeoSpottrError(f"none of the {split} images could be read")
    with project.transaction() as c:
        cur = c.execute("INSERT INTO challenges(model, run_id, split, seed, player, created_at, scale_km)"
                        " VALUES(?,?,?,?,?,?,?)", (predictor.source, run_id, split, seed, player, utcnow(),
                                                   geo.play_area_km(cities.values())))
        challenge_id = int(cur.lastrowid)
        for number, (record, pred) in enumerate(picked, start=1):
            city = cities[record.city_slug]
            lat, lon = (record.lat, record.lon) if record.lat is not None and record.lon is not None else (city.lat, city.lon)
            top = pred.top
            c.execute("INSERT INTO challenge_rounds(challenge_id, number, image_id, image_path, true_city, true_lat,"
                      " true_lon, model_city, model_lat, model_lon, model_confidence) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                      (challenge_id, number, record.id, record.path, record.city_slug, lat, lon, top.slug,
                       top.lat, top.lon, top.probability))
    return Challenge(project, challenge_id)


def scoreboard(project: Project, limit: int = 20, run_id: str | None = None) -> list[ChallengeSummary]:
    """The most recent games with at least one played round, newest first; only those against the model
    of training run `run_id` when given."""
    rows = project.conn.execute(
        "SELECT DISTINCT r.challenge_id FROM challenge_rounds r JOIN challenges c ON c.id = r.challenge_id"
        " WHERE r.guessed_at IS NOT NULL AND (? IS NULL OR c.run_id = ?) ORDER BY r.challenge_id DESC LIMIT ?",
        (run_id, run_id, limit)).fetchall()
    return [Challenge(project, r[0]).summary() for r in rows]


class Challenge:
    """One stored game. Cheap to construct; every call reads the database (the truth)."""

    def __init__(self, project: Project, challenge_id: int) -> None:
        self.project = project
        row = project.conn.execute("SELECT * FROM challenges WHERE id = ?", (challenge_id,)).fetchone()
        if row is None:
            raise GeoSpottrError(f"no challenge {challenge_id} in this project")
        self.id = int(challenge_id)
        self.info = dict(row)
        #: D of the points formula for this game (games drawn before play areas were scored on the world map).
        self.scale_km = float(self.info.get("scale_km") or geo.WORLD_DIAGONAL_KM)

    def rounds(self) -> list[Round]:
        rows = self.project.conn.execute(
            "SELECT * FROM challenge_rounds WHERE challenge_id = ? ORDER BY number", (self.id,)).fetchall()
        return [self._round(dict(r)) for r in rows]

    def round(self, number: int) -> Round:
        row = self.project.conn.execute("SELECT * FROM challenge_rounds WHERE challenge_id = ? AND number = ?",
                                        (self.id, number)).fetchone()
        if row is None:
            raise GeoSpottrError(f"challenge {self.id} has no round {number}")
        return self._round(dict(row))

    def next_round(self) -> Round | None:
        """The first round not yet played, or None when the game is over."""
        return next((r for r in self.rounds() if not r.played), None)

    def guess_city(self, number: int, city: str, seconds: float | None = None) -> Round:
        """Record a city guess (slug or name, as `Project.find_city` reads it); returns the revealed round."""
        found = self.project.city(city)
        return self._record(number, found.slug, found.lat, found.lon, "city", seconds)

    def guess_point(self, number: int, lat: float, lon: float, seconds: float | None = None) -> Round:
        """Record a point guess (a click on the map); returns the revealed round. The point passes the one
        coordinate rule (`core.values.checked_point`: finite, on the Earth)."""
        lat, lon = checked_point(lat, lon, "the guessed point")
        nearest, _ = geo.nearest(lat, lon, self.project.cities())
        return self._record(number, nearest.slug, lat, lon, "point", seconds)

    def summary(self) -> ChallengeSummary:
        rounds = self.rounds()
        played = [r for r in rounds if r.played]
        return ChallengeSummary(
            challenge_id=self.id, created_at=self.info["created_at"], player=self.info["player"],
            model=self.info["model"], rounds_total=len(rounds), rounds_played=len(played),
            human=_side([r.human for r in played]) if played else None,
            model_side=_side([r.model for r in played]) if played else None, scale_km=self.scale_km)

    def _record(self, number: int, city: str, lat: float, lon: float, kind: str, seconds: float | None) -> Round:
        if self.round(number).played:
            raise GeoSpottrError(f"round {number} of challenge {self.id} was already played")
        if seconds is not None and seconds < 0:
            raise GeoSpottrError("time taken cannot be negative")
        with self.project.transaction() as c:
            c.execute("UPDATE challenge_rounds SET guess_city = ?, guess_lat = ?, guess_lon = ?, guess_kind = ?,"
                      " guess_seconds = ?, guessed_at = ? WHERE challenge_id = ? AND number = ?",
                      (city, lat, lon, kind, seconds, utcnow(), self.id, number))
        return self.round(number)

    def _round(self, row: dict) -> Round:
        truth = (row["true_lat"], row["true_lon"])
        model = _guess(row["model_city"], row["model_lat"], row["model_lon"], truth, row["true_city"], "model",
                       self.scale_km, confidence=row["model_confidence"])
        human = None
        if row["guessed_at"] is not None:
            human = _guess(row["guess_city"], row["guess_lat"], row["guess_lon"], truth, row["true_city"],
                           row["guess_kind"], self.scale_km, seconds=row["guess_seconds"])
        return Round(challenge_id=self.id, number=row["number"], image_id=row["image_id"],
                     image_path=self.project.root / row["image_path"], true_city=row["true_city"],
                     true_lat=truth[0], true_lon=truth[1], model=model, human=human)


def _guess(city: str, lat: float, lon: float, truth: tuple[float, float], true_city: str, kind: str,
           scale_km: float, seconds: float | None = None, confidence: float | None = None) -> Guess:
    km = geo.haversine_km(lat, lon, *truth)
    return Guess(city=city, lat=lat, lon=lon, distance_km=km, points=geo.scaled_points(km, scale_km),
                 correct=city == true_city, kind=kind, seconds=seconds, confidence=confidence)


def _side(guesses: Sequence[Guess]) -> SideSummary:
    times = [g.seconds for g in guesses if g.seconds is not None]
    return SideSummary(
        rounds=len(guesses), accuracy=sum(g.correct for g in guesses) / len(guesses),
        mean_points=statistics.fmean(g.points for g in guesses), total_points=sum(g.points for g in guesses),
        median_km=float(statistics.median(g.distance_km for g in guesses)),
        mean_seconds=statistics.fmean(times) if times else None)
