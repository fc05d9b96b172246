"""A download job: fill each city up to a target count from Street View or Mapillary, resumably.

API for the CLI and the GUI (call from a worker thread; events arrive on the job's threads, one at a
time)::

    config = DownloadConfig(provider="streetview", cities=["zagreb"], per_city=100, workers=4, seed=0)
    estimate = estimate_cost(project, config)          # what is missing and what it may cost
    summary = run_download(project, config, on_event, control)

Meaning of the target: a city is done when it holds ``per_city`` non-rejected images *from this
provider* (imports and the other provider do not count; images a user rejected in review do not count,
so a re-run replaces them). Re-running the same command therefore resumes: it downloads only what is
missing, walking the same seeded point sequence and skipping points tried before.

Why a kill loses nothing and duplicates nothing: an image file is written atomically and then its row
committed (`Project.add_image`); a point is recorded as tried only after its outcome is stored; panoramas
already in the project are recognised by ``(source, source_id)`` before any billed request; and the
heading is seeded by the pano id, so a point re-tried after a kill asks for the very same frame.
Workers of one job claim a panorama before downloading it, and a lock file lets one download job at a
time work on a project.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from filelock import FileLock, Timeout

from .. import geo
from ..data.project import City, Project, utcnow
from ..errors import Cancelled, GeoSpottrError
from ..events import DONE, ERROR, LOG, PROGRESS, WARNING, Control, Event, EventCallback, ignore_events
from ..imaging import ImageError, ValidImage
from ..network import check_reachable
from ..typed import Fields
from . import keys, mapillary, streetview
from .http import HttpClient, RequestFailed, RetryPolicy, service_url
from .photos import accept_photo
from .sampling import (
    AddressBook,
    Area,
    PointKey,
    PointSource,
    Region,
    point_key,
    seeded,
    tile_around,
    uniform_points,
    weighted_points,
)

PROVIDERS = ("streetview", "mapillary")
#: USD per 1,000 Street View Static images at Google's list price for the first 100k a month; metadata is
#: free. Prices change and differ by contract: pass your own.
DEFAULT_PRICE_PER_1000 = 7.0
#: Share of billed Street View images assumed refused (grey "no imagery" placeholders, which Google bills
#: like any image) until the project has tried enough images to measure its own share.
DEFAULT_REFUSED_SHARE = 0.2
#: Billed images a project must have tried before its measured refused share replaces the default.
MIN_MEASURED = 10
#: The measured share is kept within these bounds (one unlucky batch must not make a bound absurd).
REFUSED_SHARE_RANGE = (0.05, 0.9)

NO_COVERAGE, DUPLICATE, SAVED, REJECTED = "no_coverage", "duplicate", "saved", "rejected"


@dataclass
class DownloadConfig:
    """Everything a download needs. `key` (Street View API key or Mapillary token) and `signing_secret`
    are looked up in the environment and the OS keyring when None; they are never stored or printed."""

    provider: str = "streetview"
    cities: Sequence[str] | None = None        # slugs or names; None: every city of the project
    per_city: int | None = None                # None: each city's own target_count
    workers: int = 4
    seed: int = 0
    addresses: Path | None = None              # address book to sample from; None: uniform in the area
    key: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    streetview: streetview.StreetViewParams = field(default_factory=streetview.StreetViewParams)
    mapillary: mapillary.MapillaryParams = field(default_factory=mapillary.MapillaryParams)
    price_per_1000: float = DEFAULT_PRICE_PER_1000
    max_image_requests: int | None = None      # the request budget: image downloads, the billed calls
    qps: float | None = 25.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    points_per_image: int = 25                 # give up on a city after this many points per missing image
    max_consecutive_errors: int = 20           # a dead server stops the job instead of spinning
    base_url: str | None = None                # else $GEOSPOTTR_STREETVIEW_URL / $GEOSPOTTR_MAPILLARY_URL
    #: A download plan's (`plan.DownloadPlan.configure`): the target per city slug instead of per_city, and
    #: weighted sub-areas per city slug to sample in instead of the whole area.
    targets: Mapping[str, int] | None = None
    areas: Mapping[str, Sequence[tuple[Area, float]]] | None = None

    def check(self) -> None:
        if self.provider not in PROVIDERS:
            raise GeoSpottrError(f"provider must be one of {', '.join(PROVIDERS)}, not {self.provider!r}")
        if self.workers < 1:
            raise GeoSpottrError("--workers must be at least 1")
        if self.per_city is not None and self.per_city < 0:
            raise GeoSpottrError("--per-city cannot be negative")
        if self.max_image_requests is not None and self.max_image_requests < 0:
            raise GeoSpottrError("the request budget cannot be negative")


@dataclass(frozen=True)
class CityPlan:
    slug: str
    label: str     # "Zagreb, HR" (`core.names.city_label`)
    have: int      # non-rejected images of this city from this provider
    target: int
    total: int = 0  # non-rejected images of this city from every source (what the Cities tab counts)

    @property
    def needed(self) -> int:
        return max(0, self.target - self.have)


@dataclass(frozen=True)
class CostEstimate:
    """What a run would download and the most it may cost: a bound the run enforces.

    Google bills every image request, also the grey placeholders that are refused, so the bound is the
    images needed plus an allowance for refusals (`refused_share`: the project's measured share of refused
    billed images, else `DEFAULT_REFUSED_SHARE`), capped by the request budget. `run_download` stops
    before a billed request would pass `max_requests`, so `cost` is never exceeded; Start again continues.
    `spent_requests` are the billed requests earlier runs of the same unfinished job already made.
    """

    provider: str
    plans: tuple[CityPlan, ...]
    price_per_1000: float
    refused_share: float = DEFAULT_REFUSED_SHARE
    budget: int | None = None
    spent_requests: int = 0
    spent_refused: int = 0

    @property
    def images(self) -> int:
        return sum(p.needed for p in self.plans)

    @property
    def billed(self) -> bool:
        return self.provider == "streetview"

    @property
    def refusal_allowance(self) -> int:
        """Extra billed requests allowed for refused placeholders: enough for `refused_share` of them."""
        if not self.billed or not self.images:
            return 0
        share = self.refused_share
        return math.ceil(self.images * share / (1.0 - share))

    @property
    def max_requests(self) -> int | None:
        """The most billed image requests this run makes (None: unbounded, Mapillary is free)."""
        if not self.billed:
            return self.budget
        bound = self.images + self.refusal_allowance
        return bound if self.budget is None else min(bound, self.budget)

    @property
    def cost(self) -> float:
        """The most this run costs in USD."""
        return (self.max_requests or 0) * self.price_per_1000 / 1000 if self.billed else 0.0

    @property
    def spent(self) -> float:
        """USD the earlier runs of this job already spent (an upper bound: every image request billed)."""
        return self.spent_requests * self.price_per_1000 / 1000 if self.billed else 0.0

    def describe(self) -> str:
        lines = [f"{p.slug:<20} have {p.have:>6} / {p.target:<6} to download {p.needed}" for p in self.plans]
        if self.billed:
            lines.append(f"{self.images} Street View images; at most {self.max_requests} billed image requests "
                         f"(up to {self.refusal_allowance} for refused placeholders, which Google bills too"
                         + (f"; budget {self.budget}" if self.budget is not None else "") + f") x "
                         f"${self.price_per_1000:g} per 1,000 = ${self.cost:,.2f} at most (metadata lookups are free)")
            if self.spent_requests:
                lines.append(f"this job already spent about ${self.spent:,.2f} ({self.spent_requests} billed image "
                             f"requests, {self.spent_refused} refused) in earlier runs")
        else:
            lines.append(f"{self.images} Mapillary images (free with an access token)")
        return "\n".join(lines)


@dataclass
class CityResult:
    slug: str
    target: int
    have: int
    saved: int = 0
    no_coverage: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: int = 0
    points: int = 0
    stop_reason: str | None = None   # why the city ended short of its target

    def counts(self) -> dict[str, int]:
        return {"saved": self.saved, "no_coverage": self.no_coverage, "duplicates": self.duplicates,
                "rejected": self.rejected, "errors": self.errors, "have": self.have, "target": self.target}


@dataclass
class DownloadSummary:
    provider: str
    price_per_1000: float
    cities: dict[str, CityResult] = field(default_factory=dict)
    image_requests: int = 0
    requests: int = 0
    retries: int = 0
    stop_reason: str | None = None
    #: Billed requests of earlier runs of the same job (cancelled, failed, stopped at their bound, killed).
    earlier_requests: int = 0
    earlier_refused: int = 0

    @property
    def cost(self) -> float:
        """Upper bound of the money this run spent: every image request counted as billed."""
        return self._usd(self.image_requests)

    @property
    def job_requests(self) -> int:
        return self.earlier_requests + self.image_requests

    @property
    def job_refused(self) -> int:
        return self.earlier_refused + self.total("rejected")

    @property
    def job_cost(self) -> float:
        """Upper bound of the money the whole job spent, this run and the earlier ones."""
        return self._usd(self.job_requests)

    def _usd(self, requests: int) -> float:
        return requests * self.price_per_1000 / 1000 if self.provider == "streetview" else 0.0

    def total(self, name: str) -> int:
        return sum(getattr(c, name) for c in self.cities.values())

    def lines(self) -> list[str]:
        out = [f"{'city':<20}{'have/target':>13}{'saved':>7}{'no coverage':>13}{'duplicates':>12}{'rejected':>10}{'errors':>8}"]
        for c in self.cities.values():
            out.append(f"{c.slug:<20}{f'{c.have}/{c.target}':>13}{c.saved:>7}{c.no_coverage:>13}{c.duplicates:>12}"
                       f"{c.rejected:>10}{c.errors:>8}" + (f"  ({c.stop_reason})" if c.stop_reason else ""))
        cost = f", about ${self.cost:,.2f}" if self.provider == "streetview" else " (free)"
        if self.provider == "streetview" and self.earlier_requests:
            cost += f" (the job so far: {self.job_requests} image requests, about ${self.job_cost:,.2f})"
        out.append(f"saved {self.total('saved')}, skipped for no coverage {self.total('no_coverage')}, duplicates "
                   f"{self.total('duplicates')}, rejected {self.total('rejected')}, errors {self.total('errors')}; "
                   f"{self.image_requests} image requests{cost}; {self.requests} HTTP requests, {self.retries} retries")
        if self.stop_reason:
            out.append(f"stopped: {self.stop_reason}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "cost": round(self.cost, 4), "image_requests": self.image_requests,
                "job_cost": round(self.job_cost, 4), "job_image_requests": self.job_requests,
                "requests": self.requests, "retries": self.retries, "stop_reason": self.stop_reason,
                "cities": {slug: {**c.counts(), "stop_reason": c.stop_reason} for slug, c in self.cities.items()}}


class DownloadCancelled(Cancelled):
    """The user cancelled; `summary` holds what was done (everything saved so far stays saved)."""

    def __init__(self, summary: DownloadSummary) -> None:
        super().__init__()
        self.summary = summary


# ---------------------------------------------------------------------------------------------- planning
def _source(provider: str) -> str:
    return streetview.SOURCE if provider == "streetview" else mapillary.SOURCE


def _have(project: Project, city: City, source: str | None) -> int:
    """Non-rejected images of `city` from `source` (None: from every source)."""
    sql = "SELECT COUNT(*) FROM images WHERE city_id = ? AND status != 'rejected'"
    args: tuple = (city.id,)
    if source is not None:
        sql, args = sql + " AND source = ?", (city.id, source)
    return project.conn.execute(sql, args).fetchone()[0]


def _selected_cities(project: Project, names: Sequence[str] | None) -> list[City]:
    cities = project.cities() if names is None else [project.city(n) for n in names]
    if not cities:
        raise GeoSpottrError("this project has no cities yet; add some with `geospottr cities --add NAME`")
    return list({c.slug: c for c in cities}.values())


def plan(project: Project, config: DownloadConfig) -> list[CityPlan]:
    """Per selected city: images held from this provider, the target, hence what is missing."""
    config.check()
    source = _source(config.provider)
    def target(city: City) -> int:
        if config.targets and city.slug in config.targets:
            return config.targets[city.slug]
        return city.target_count if config.per_city is None else config.per_city

    return [CityPlan(c.slug, c.label, _have(project, c, source), target(c), _have(project, c, None))
            for c in _selected_cities(project, config.cities)]


def refused_share(project: Project, provider: str) -> float:
    """The share of this project's billed images of `provider` that were not kept (refused placeholders,
    or no imagery after all), once `MIN_MEASURED` were tried; else `DEFAULT_REFUSED_SHARE`."""
    kept, lost = project.conn.execute(
        "SELECT COALESCE(SUM(outcome = ?), 0), COALESCE(SUM(outcome IN (?, ?)), 0) FROM sample_points"
        " WHERE provider = ? AND source_id IS NOT NULL", (SAVED, REJECTED, NO_COVERAGE, provider)).fetchone()
    if kept + lost < MIN_MEASURED:
        return DEFAULT_REFUSED_SHARE
    low, high = REFUSED_SHARE_RANGE
    return min(high, max(low, lost / (kept + lost)))


def _spend_key(provider: str) -> str:
    return f"download/{provider}/unfinished_job"


def job_spend(project: Project, provider: str) -> tuple[int, int]:
    """(billed image requests, refused images) of the unfinished download job of `provider`: the runs
    since the last one that ended by itself (cancelled, failed, stopped at a bound, killed ones add up)."""
    key = _spend_key(provider)
    spend = Fields(project.get_setting(key, {}) or {}, f"{project.db_path}: setting {key!r}")
    return spend.int("image_requests", 0, lo=0, hi=2**53), spend.int("refused", 0, lo=0, hi=2**53)


def estimate_cost(project: Project, config: DownloadConfig) -> CostEstimate:
    """The plan and its price bound before anything is requested (show it and ask before `run_download`)."""
    spent, refused = job_spend(project, config.provider)
    return CostEstimate(config.provider, tuple(plan(project, config)), config.price_per_1000,
                        refused_share(project, config.provider), config.max_image_requests, spent, refused)


# ---------------------------------------------------------------------------------------------- providers
@dataclass(frozen=True)
class _Candidate:
    """An image a point led to: its id, the metadata to store, and the (billed) call that fetches it."""

    source_id: str
    meta: dict[str, Any]
    fetch: Callable[[], bytes | None]


Taken = Callable[[str], bool]


class _StreetViewSource:
    source = streetview.SOURCE

    def __init__(self, client: streetview.StreetViewClient, params: streetview.StreetViewParams, seed: int) -> None:
        self.client, self.params, self.seed = client, params, seed

    def find(self, lat: float, lon: float, taken: Taken) -> _Candidate | str:
        pano = self.client.metadata(lat, lon, self.params)
        if pano is None:
            return NO_COVERAGE
        if taken(pano.pano_id):
            return DUPLICATE
        heading = self.params.heading(pano.pano_id, self.seed)
        meta = {"lat": pano.lat, "lon": pano.lon, "location_id": pano.pano_id, "heading": heading,
                "pitch": self.params.pitch, "fov": self.params.fov, "captured_at": pano.date,
                "licence": streetview.LICENCE, "attribution": pano.copyright}
        return _Candidate(pano.pano_id, meta, lambda: self.client.image(pano, heading, self.params))

    def accept(self, data: bytes, name: str) -> ValidImage:
        return accept_photo(data, name, (self.params.size, self.params.size))


class _MapillarySource:
    source = mapillary.SOURCE

    def __init__(self, client: mapillary.MapillaryClient, params: mapillary.MapillaryParams) -> None:
        self.client, self.params = client, params

    def find(self, lat: float, lon: float, taken: Taken) -> _Candidate | str:
        found = [i for i in self.client.search(tile_around(lat, lon, self.params.tile_m))
                 if self.params.include_panos or not i.is_pano]
        if not found:
            return NO_COVERAGE
        fresh = [i for i in found if not taken(i.id)]
        if not fresh:
            return DUPLICATE
        best = min(fresh, key=lambda i: (geo.haversine_km(lat, lon, i.lat, i.lon), i.id))
        meta = {"lat": best.lat, "lon": best.lon, "heading": best.compass_angle, "captured_at": best.captured_at,
                "licence": mapillary.LICENCE, "attribution": best.attribution}
        return _Candidate(best.id, meta, lambda: self.client.download(best))

    def accept(self, data: bytes, name: str) -> ValidImage:
        return accept_photo(data, name, None, self.params.min_side)


# ---------------------------------------------------------------------------------------------- the job
class _Stop(Exception):
    """Internal: the whole job ends (budget reached, fatal error already stored)."""


@dataclass
class _Task:
    """One city's share of the job."""

    city: City
    result: CityResult
    points: PointSource
    max_points: int


class _Job:
    """Shared state of one run: claims, budget, counters; the worker loop and one point's handling."""

    def __init__(self, project: Project, config: DownloadConfig, provider: Any, emit: EventCallback,
                 control: Control, summary: DownloadSummary, estimate: CostEstimate) -> None:
        self.project, self.config, self.provider, self.emit = project, config, provider, emit
        self.control, self.summary, self.estimate = control, summary, estimate
        self.cond = threading.Condition()
        self.claimed: set[str] = set()
        self.reserved = 0
        self.consecutive_errors = 0
        self.stop = threading.Event()
        self.halted = False
        self.fatal: BaseException | None = None

    # -------------------------------------------------------------- database helpers
    def taken(self, source_id: str) -> bool:
        """Already stored, being fetched by another worker, or refused before (never pay twice)."""
        if source_id in self.claimed or self.project.has_source(self.provider.source, source_id):
            return True
        return self.project.conn.execute(
            "SELECT 1 FROM sample_points WHERE provider = ? AND source_id = ? AND outcome IN (?, ?)",
            (self.config.provider, source_id, REJECTED, NO_COVERAGE)).fetchone() is not None

    def was_tried(self, city: City) -> Callable[[PointKey], bool]:
        def check(key: PointKey) -> bool:
            return self.project.conn.execute(
                "SELECT 1 FROM sample_points WHERE provider = ? AND city_id = ? AND lat_e6 = ? AND lon_e6 = ?",
                (self.config.provider, city.id, *key)).fetchone() is not None
        return check

    def record(self, city: City, point: tuple[float, float], outcome: str, source_id: str | None) -> None:
        with self.project.transaction() as c:
            c.execute("INSERT OR IGNORE INTO sample_points(provider, city_id, lat_e6, lon_e6, outcome, source_id, tried_at)"
                      " VALUES(?,?,?,?,?,?,?)", (self.config.provider, city.id, *point_key(*point), outcome, source_id, utcnow()))

    # -------------------------------------------------------------- the worker pool
    def run(self, tasks: list[_Task]) -> None:
        """Work through the cities in order with one pool of threads for the whole job (each thread keeps
        one SQLite connection). Threads meet at a barrier after each city; its action reports the city
        and decides, once for all, whether to go on."""
        if not tasks:
            return
        size = min(self.config.workers, max(t.result.target - t.result.have for t in tasks))
        position = iter(range(1, len(tasks) + 1))

        def city_finished() -> None:
            index = next(position)
            self._city_done(tasks[index - 1])
            self.halted = self.stop.is_set() or self.control.cancelled
            if index < len(tasks) and not self.halted:
                self.progress(tasks[index].city, tasks[index].result, "starting")

        barrier = threading.Barrier(size, action=city_finished)
        threads = [threading.Thread(target=self._pool_thread, args=(tasks, barrier), name=f"download-{i}", daemon=True)
                   for i in range(size)]
        self.progress(tasks[0].city, tasks[0].result, "starting")
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            self.control.cancel()
            for t in threads:
                t.join()
            raise

    def _pool_thread(self, tasks: list[_Task], barrier: threading.Barrier) -> None:
        try:
            for task in tasks:
                self._worker(task)
                barrier.wait()
                if self.halted:
                    return
        except threading.BrokenBarrierError:
            return
        except BaseException as exc:  # noqa: BLE001 - a denied key, a dead server, a bug: the main thread raises it
            with self.cond:
                self.fatal = self.fatal or exc
            self.stop.set()
            barrier.abort()

    def _city_done(self, task: _Task) -> None:
        result = task.result
        self.emit(Event(DONE, f"{result.slug}: {result.have}/{result.target}", done=result.have, total=result.target,
                        scope=result.slug, data=result.counts()))
        if result.stop_reason and result.have < result.target:
            self.emit(Event(WARNING, f"{result.slug}: {result.stop_reason}", scope=result.slug))

    def _worker(self, task: _Task) -> None:
        """Take points for one city until it is full, its points run out, or the job stops."""
        city, result, points, max_points = task.city, task.result, task.points, task.max_points
        try:
            while not self.stop.is_set():
                self.control.checkpoint()
                with self.cond:
                    while (result.have + self.reserved >= result.target and self.reserved
                           and not self.control.cancelled and not self.stop.is_set()):
                        self.cond.wait(0.1)  # the last slots are being fetched: wait to see if they fail
                    if self.control.cancelled:
                        continue  # the checkpoint at the top of the loop raises
                    if result.have >= result.target or self.stop.is_set():
                        return
                    if result.points >= max_points:
                        result.stop_reason = result.stop_reason or (
                            f"only {result.have} found after {result.points} points: little coverage in this area")
                        return
                point = points.next()
                with self.cond:
                    if point is None:
                        result.stop_reason = result.stop_reason or "the address book has no more untried points here"
                        return
                    result.points += 1
                self._point(city, result, point)
        except Cancelled:
            return
        except _Stop:
            self.stop.set()

    def _point(self, city: City, result: CityResult, point: tuple[float, float]) -> None:
        try:
            outcome, source_id = self._try(city, result, point)
        except (RequestFailed, ImageError) as exc:
            with self.cond:
                result.errors += 1
                self.consecutive_errors += 1
                too_many = self.consecutive_errors >= self.config.max_consecutive_errors
            self.emit(Event(ERROR, str(exc), scope=city.slug, data={"city": city.slug}))
            if too_many:
                raise GeoSpottrError(f"stopped after {self.consecutive_errors} failed requests in a row "
                                     f"(last: {exc}); check the network or the service URL") from None
            self.progress(city, result, "error")
            return
        with self.cond:
            self.consecutive_errors = 0
        if outcome:
            self.progress(city, result, outcome if source_id is None else f"{outcome} {source_id}")

    def _try(self, city: City, result: CityResult, point: tuple[float, float]) -> tuple[str | None, str | None]:
        """Handle one point; returns (outcome, source id) or (None, None) when the point went unused."""
        found = self.provider.find(point[0], point[1], self.taken)
        if isinstance(found, str):
            self.record(city, point, found, None)
            with self.cond:
                if found == NO_COVERAGE:
                    result.no_coverage += 1
                else:
                    result.duplicates += 1
            return found, None
        with self.cond:
            if result.have + self.reserved >= result.target:
                return None, None  # target met meanwhile: leave the point untried for a later run
            if self.taken(found.source_id):
                duplicate = True
            else:
                duplicate = False
                limit = self.estimate.max_requests
                if limit is not None and self.summary.image_requests >= limit:
                    self.summary.stop_reason = self._limit_reason(limit)
                    raise _Stop()
                self.claimed.add(found.source_id)
                self.reserved += 1
                self.summary.image_requests += 1
                self.save_spend()
        if duplicate:
            self.record(city, point, DUPLICATE, found.source_id)
            with self.cond:
                result.duplicates += 1
            return DUPLICATE, found.source_id
        outcome = None
        try:
            outcome = self._fetch_and_store(city, result, found)
        finally:
            with self.cond:
                self.reserved -= 1
                if outcome is None:  # failed: another point may lead to this image again
                    self.claimed.discard(found.source_id)
                self.cond.notify_all()
        self.record(city, point, outcome, found.source_id)
        return outcome, found.source_id

    def _limit_reason(self, limit: int) -> str:
        budget = self.config.max_image_requests
        if budget is not None and limit == budget:
            return f"the request budget of {budget} images is spent"
        return (f"the estimate's bound of {limit} billed images (${self.estimate.cost:,.2f}) is reached, "
                f"{self.summary.total('rejected')} of them refused placeholders; start again to continue "
                "(the next estimate allows for this area's refusals)")

    def save_spend(self) -> None:
        """Persist the job's billed requests at once (call under `cond`): a kill or a restart keeps them."""
        if self.estimate.billed:
            self.project.set_setting(_spend_key(self.config.provider),
                                     {"image_requests": self.summary.job_requests, "refused": self.summary.job_refused})

    def _fetch_and_store(self, city: City, result: CityResult, found: _Candidate) -> str:
        data = found.fetch()
        if data is None:
            with self.cond:
                result.no_coverage += 1
            return NO_COVERAGE
        name = f"{self.provider.source} image {found.source_id}"
        try:
            valid = self.provider.accept(data, name)
        except ImageError as exc:
            with self.cond:
                result.rejected += 1
                self.save_spend()
            self.emit(Event(WARNING, str(exc), scope=city.slug, data={"city": city.slug, "source_id": found.source_id}))
            return REJECTED
        record = self.project.add_image(valid.jpeg, sha256=valid.sha256, width=valid.width, height=valid.height,
                                        city=city.slug, source=self.provider.source, source_id=found.source_id,
                                        **found.meta)
        with self.cond:
            if record is None:  # byte-identical to an image already stored (another source id, same frame)
                result.duplicates += 1
                return DUPLICATE
            result.have += 1
            result.saved += 1
        return SAVED

    def progress(self, city: City, result: CityResult, message: str) -> None:
        with self.cond:
            data = {**result.counts(), "city": city.slug, "cost": round(self.summary.cost, 4),
                    "image_requests": self.summary.image_requests, "job_cost": round(self.summary.job_cost, 4),
                    "job_image_requests": self.summary.job_requests, "job_refused": self.summary.job_refused}
        if self.config.provider == "streetview":
            message = f"{message}, ${data['cost']:.2f} so far"
        self.emit(Event(PROGRESS, message, done=data["have"], total=result.target, scope=city.slug, data=data))


# ---------------------------------------------------------------------------------------------- entry point
def _client(config: DownloadConfig, http: HttpClient, secret: str, signing_secret: str | None) -> Any:
    if config.provider == "streetview":
        client = streetview.StreetViewClient(http, secret, signing_secret, config.base_url)
        return _StreetViewSource(client, config.streetview, config.seed)
    return _MapillarySource(mapillary.MapillaryClient(http, secret, config.base_url), config.mapillary)


def check_ready(config: DownloadConfig) -> None:
    """Fail fast, before any cost is shown or confirmed: a missing key or token, or a provider that cannot be
    reached at all (offline, name not resolving, connection refused), is one clear line within seconds."""
    _credentials(config)
    module = streetview if config.provider == "streetview" else mapillary
    check_reachable(service_url(config.base_url, module.URL_ENV, module.DEFAULT_URL))


def _credentials(config: DownloadConfig) -> tuple[str, str | None]:
    if config.provider == "streetview":
        key, from_keyring = keys.lookup_secret(keys.GOOGLE_KEY, config.key)
        if not key:
            raise GeoSpottrError("no Google Maps API key: pass --key, set GOOGLE_MAPS_API_KEY, or store it with "
                                 "`keyring set geospottr google_maps_api_key`")
        # The signing secret is looked for in the keyring only when the key came from there: a key given
        # with --key or the environment never loads the keyring package (see `keys.find_secret`).
        return key, keys.find_secret(keys.GOOGLE_SIGNING_SECRET, config.signing_secret, use_keyring=from_keyring)
    token = keys.find_secret(keys.MAPILLARY_TOKEN, config.key)
    if not token:
        raise GeoSpottrError("no Mapillary access token: pass --token, set MAPILLARY_ACCESS_TOKEN, or store it "
                             "with `keyring set geospottr mapillary_access_token` (free at mapillary.com/dashboard/developers)")
    return token, None


def run_download(project: Project, config: DownloadConfig, on_event: EventCallback = ignore_events,
                 control: Control | None = None) -> DownloadSummary:
    """Download until every selected city holds its target from `config.provider`; returns the summary.

    Events: ``progress`` per point tried (scope = city slug; done/total = have/target; data = counts,
    ``cost`` so far and ``image_requests``), ``warning`` for refused images, ``error`` for failed requests,
    ``done`` per city and finally with scope ``"download"`` (data = `DownloadSummary.to_dict()`).
    Raises `GeoSpottrError` for a refused key (the API's message, key redacted) or a dead server, and
    `DownloadCancelled` (a `Cancelled`, carrying the summary) once `control.cancel()` has let the images
    in flight finish.
    """
    control = control or Control()
    check_ready(config)
    secret, signing_secret = _credentials(config)
    secrets = (secret, signing_secret)
    # The lock comes first and the plan (how many each city still needs) is counted under it: a plan
    # counted before, while another download was finishing, would ask for images already there.
    lock = FileLock(str(project.cache_dir / "download.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise GeoSpottrError("another download is running on this project; wait for it or cancel it") from None
    emit = _serialized(on_event)
    http: HttpClient | None = None
    try:
        estimate = estimate_cost(project, config)
        plans = list(estimate.plans)
        summary = DownloadSummary(config.provider, config.price_per_1000, earlier_requests=estimate.spent_requests,
                                  earlier_refused=estimate.spent_refused)
        with keys.redact_http_logs(secrets):
            def on_retry(what: str, reason: str, delay: float) -> None:
                emit(Event(LOG, f"{what}: {reason}; retrying in {delay:.2f} s", scope="download"))

            http = HttpClient(config.retry, control, config.qps, secrets, on_retry, seed=config.seed)
            job = _Job(project, config, _client(config, http, secret, signing_secret), emit, control, summary,
                       estimate)
            cities = {c.slug: c for c in _selected_cities(project, config.cities)}
            book = _address_book(config, cities, job)
            tasks = []
            for p in plans:
                city = cities[p.slug]
                result = summary.cities[p.slug] = CityResult(p.slug, p.target, p.have)
                if p.needed:
                    if book is not None:
                        sampler = book.points(p.slug, seeded(config.seed, "addresses", p.slug))
                    elif config.areas and config.areas.get(p.slug):
                        sampler = weighted_points(config.areas[p.slug], Region(city, project.cities()),
                                                  seeded(config.seed, "plan", p.slug))
                    else:
                        sampler = uniform_points(Area.of(city), seeded(config.seed, "uniform", p.slug))
                    tasks.append(_Task(city, result, PointSource(sampler, job.was_tried(city)),
                                       max(100, config.points_per_image * p.needed)))
            job.run(tasks)
            if job.fatal is not None:
                raise job.fatal
            if control.cancelled:
                raise DownloadCancelled(summary)
            if summary.stop_reason is None:  # the job ended by itself: the next download is a new job
                project.set_setting(_spend_key(config.provider), {})
            job.emit(Event(DONE, "download finished", scope="download", data=summary.to_dict()))
            return summary
    finally:
        if http is not None:
            summary.requests, summary.retries = http.requests_sent, http.retries
            http.close()
        lock.release()


def _serialized(on_event: EventCallback) -> EventCallback:
    """`on_event` called by one worker at a time (tqdm bars and Qt re-emitters are not re-entrant)."""
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:
            on_event(event)
    return emit


def _address_book(config: DownloadConfig, cities: dict[str, City], job: _Job) -> AddressBook | None:
    if config.addresses is None:
        return None
    job.emit(Event(LOG, f"reading addresses from {config.addresses}", scope="download"))
    book = AddressBook(config.addresses, {slug: Area.of(c) for slug, c in cities.items()})
    inside = ", ".join(f"{slug} {book.count(slug)}" for slug in cities)
    job.emit(Event(LOG, f"{book.read:,} addresses read; inside the cities: {inside}", scope="download"))
    return book
