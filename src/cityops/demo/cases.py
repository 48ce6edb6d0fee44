"""A year of realistic case history for the demo district, generated and written in bulk.

:func:`generate_cases` is pure: given the demo grids, the matter rules, the working calendar, the
case policy, the end of the period (the start of the load day, local time) and a seed, it always
returns the same cases and histories. What arrives comes from :mod:`cityops.demo.casemix`, how
each case lives from :mod:`cityops.demo.lifecycle` (through the real ``advance()``).

:func:`load_demo_cases` reads what the generator needs from the store (rules, grid workers and
units), generates, and writes every case, history entry and reporter in one transaction with one
audit entry for the whole load and no per-case events. It does nothing when the store already
has cases, so loading the demo twice changes nothing.
"""

from __future__ import annotations

import gc
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import LineString

from cityops.auth.audit import make_entry
from cityops.auth.model import Principal
from cityops.cases import corpus
from cityops.cases.model import Case, HistoryEntry, Reporter
from cityops.cases.policy import CasePolicy
from cityops.cases.ports import CasesUnitOfWork
from cityops.cases.queries import CaseFilter, Visibility
from cityops.cases.rules import MatterRule, MatterRuleService
from cityops.catalog.reference import matter_classes
from cityops.demo.casemix import ArrivalMaker, DemoComponent, DemoGrid
from cityops.demo.city import DemoCity
from cityops.demo.lifecycle import Lifecycle
from cityops.demo.worktime_index import indexed
from cityops.kernel.clock import Clock
from cityops.kernel.worktime import WorkingCalendar

DEFAULT_CASES = 50_000
DEFAULT_DAYS = 365
DEFAULT_SEED = 310101
TEXTS_PER_CLASS = 40
CHUNK = 5000
T = TypeVar("T")


@dataclass(slots=True)
class DemoCase:
    """A generated case and its history (case ids are 0 until the case is stored)."""

    case: Case
    history: list[HistoryEntry]


@dataclass(frozen=True, slots=True)
class CasesLoad:
    """What :func:`load_demo_cases` found or wrote."""

    cases: int  # cases in the store afterwards
    added: int  # cases this load wrote (0: the store had cases already)
    history: int  # history entries written
    seconds: float


class CaseStore(Protocol):
    """Opens units of work on the cases store."""

    def unit_of_work(self, *, read_only: bool = False) -> CasesUnitOfWork:
        """Return a new unit of work."""
        ...


class DemoCaseServices(Protocol):
    """The services the case loader uses."""

    @property
    def clock(self) -> Clock:
        """The clock (the load day is its local date)."""
        ...

    @property
    def calendar(self) -> WorkingCalendar:
        """The working calendar deadlines are counted in."""
        ...

    @property
    def case_policy(self) -> CasePolicy:
        """The city's case-loop settings."""
        ...

    @property
    def matter_rules(self) -> MatterRuleService:
        """The city's matter rules."""
        ...

    @property
    def store(self) -> CaseStore:
        """The store."""
        ...


def period_end(now: datetime, zone: ZoneInfo) -> datetime:
    """Return the start of ``now``'s local day (in UTC): the demo history ends there."""
    local = now.astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    return midnight.astimezone(UTC)


def demo_grids(
    city: DemoCity,
    workers: Iterable[tuple[str, str]],
    units: Mapping[tuple[str, str, str], str],
) -> list[DemoGrid]:
    """Return the city's grids with their grid worker and responsible units (as stored)."""
    worker_of: dict[str, str] = {}
    for grid_code, username in sorted(workers):
        worker_of.setdefault(grid_code, username)
    units_of: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    for (grid_code, kind, key), unit in units.items():
        units_of[grid_code][(kind, key)] = unit
    street_of = {c.code: c.parent_code or "" for c in city.communities}
    grids = []
    for grid in city.grids:
        assert grid.geometry is not None
        assert grid.parent_code is not None
        grids.append(
            DemoGrid(
                code=grid.code,
                community_code=grid.parent_code,
                street_code=street_of[grid.parent_code],
                district_code=city.district.code,
                geometry=grid.geometry,
                worker=worker_of.get(grid.code),
                units=dict(units_of.get(grid.code, {})),
            )
        )
    return grids


def demo_components(
    rows: Sequence[Mapping[str, Any]], grids: Sequence[DemoGrid]
) -> list[DemoComponent]:
    """Return the demo components (rows as imported) with the grid each one lies in."""
    if not rows or not grids:
        return []
    tree = shapely.STRtree([g.geometry for g in grids])
    points = shapely.points([float(r["lon"]) for r in rows], [float(r["lat"]) for r in rows])
    inside, grid_index = tree.query(points, predicate="within")
    grid_of: dict[int, int] = {}
    for row_index, index in zip(inside.tolist(), grid_index.tolist(), strict=True):
        grid_of.setdefault(row_index, index)
    return [
        DemoComponent(
            id=str(row["id"]),
            class_code=str(row["id"])[6:11],
            lon=float(row["lon"]),
            lat=float(row["lat"]),
            grid=grid_of[i],
        )
        for i, row in enumerate(rows)
        if i in grid_of
    ]


def generate_cases(
    *,
    grids: Sequence[DemoGrid],
    components: Sequence[DemoComponent],
    roads: Mapping[str, LineString],
    rules: Iterable[MatterRule],
    calendar: WorkingCalendar,
    policy: CasePolicy,
    end: datetime,
    count: int = DEFAULT_CASES,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
) -> list[DemoCase]:
    """Return ``count`` cases accepted in the ``days`` local days before ``end``, oldest first.

    Deterministic: the same arguments give the same cases and histories. Steps that would come
    at or after ``end`` are not taken, so recent cases are still open.
    """
    if count < 0 or days < 1:
        raise ValueError("count must be at least 0 and days at least 1")
    rng = random.Random(seed)
    texts: dict[str, list[str]] = defaultdict(list)
    for text, code in corpus.generate(seed, TEXTS_PER_CLASS):
        texts[code].append(text)
    names = {code: matter.name for code, matter in matter_classes().items()}
    first_day = end.astimezone(policy.zone).date() - timedelta(days=days)
    calendar = indexed(
        calendar, first_day - timedelta(days=7), first_day + timedelta(days=days + 400)
    )  # the same answers as the plain calendar, by bisection; deadlines reach past the period
    maker = ArrivalMaker(
        rng,
        grids=grids,
        components=components,
        roads=roads,
        texts=texts,
        class_names=names,
        calendar=calendar,
        zone=policy.zone,
    )
    by_matter: dict[str, list[MatterRule]] = defaultdict(list)
    for rule in rules:
        by_matter[rule.matter_code].append(rule)
    life = Lifecycle(rng, calendar=calendar, policy=policy, rules=by_matter, end=end)
    generated = []
    for arrival in maker.arrivals(count, first_day, days):
        case, history = life.live(arrival)
        generated.append(DemoCase(case, history))
    return generated


def load_demo_cases(
    services: DemoCaseServices,
    city: DemoCity,
    component_rows: Sequence[Mapping[str, Any]],
    *,
    count: int = DEFAULT_CASES,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
) -> CasesLoad:
    """Generate and store the demo cases, unless the store has cases already."""
    started = time.perf_counter()
    system = Principal.system("demo-loader")
    now = services.clock.now()
    with services.store.unit_of_work(read_only=True) as uow:
        existing = count_cases(uow, now)
        if existing or count == 0:
            return CasesLoad(existing, 0, 0, time.perf_counter() - started)
        workers = uow.grid_assignments.all_workers()
        units = uow.grid_assignments.all_units()
    rules = services.matter_rules.list_rules(system)
    grids = demo_grids(city, workers, units)
    end = period_end(now, services.case_policy.zone)
    with _collector_paused():
        generated = generate_cases(
            grids=grids,
            components=demo_components(component_rows, grids),
            roads=city.roads,
            rules=rules,
            calendar=services.calendar,
            policy=services.case_policy,
            end=end,
            count=count,
            days=days,
            seed=seed,
        )
        with services.store.unit_of_work() as uow:
            existing = count_cases(uow, now)
            if existing:  # another loader won the race
                return CasesLoad(existing, 0, 0, time.perf_counter() - started)
            written = _write(uow, generated)
            uow.audit.append(
                make_entry(
                    services.clock,
                    system,
                    system.authorize("cases:admin"),
                    action="demo.cases_load",
                    object_type="case",
                    object_id=f"demo-{city.district.code}",
                    after={
                        "cases": len(generated),
                        "history": written,
                        "seed": seed,
                        "from": (end - timedelta(days=days)).isoformat(),
                        "to": end.isoformat(),
                        "statuses": dict(
                            sorted(Counter(g.case.status.value for g in generated).items())
                        ),
                    },
                )
            )
            uow.commit()
    # Build the KPI day cells now, so the first dashboard does not wait for them.
    with services.store.unit_of_work() as uow:
        uow.kpi_cells.fold(services.case_policy.zone, services.clock.now())
        uow.commit()
    return CasesLoad(len(generated), len(generated), written, time.perf_counter() - started)


def count_cases(uow: CasesUnitOfWork, now: datetime) -> int:
    """Return how many cases the store holds (merged ones included)."""
    _, total = uow.cases.search(
        CaseFilter(include_merged=True), Visibility(everything=True), now, limit=1, offset=0
    )
    return total


def _write(uow: CasesUnitOfWork, generated: Sequence[DemoCase]) -> int:
    """Insert cases, then their history and reporters with the ids the store gave them."""
    written = 0
    for chunk in _chunks(generated, CHUNK):
        ids = uow.cases.add_many([item.case for item in chunk])
        entries: list[HistoryEntry] = []
        reporters: list[Reporter] = []
        for item, case_id in zip(chunk, ids, strict=True):
            case = item.case
            case.id = case_id
            entries.extend(_with_case_id(entry, case_id) for entry in item.history)
            if case.reporter_name or case.reporter_phone:
                reporters.append(
                    Reporter(
                        case_id,
                        case_id,
                        case.channel,
                        case.reporter_name,
                        case.reporter_phone,
                        case.accepted_at,
                    )
                )
        uow.cases.add_reporters(reporters)
        for part in _chunks(entries, CHUNK):
            uow.cases.add_history(part)
        written += len(entries)
    return written


def _with_case_id(entry: HistoryEntry, case_id: int) -> HistoryEntry:
    """Return ``entry`` for the stored case (the constructor is 4× faster than replace())."""
    return HistoryEntry(
        case_id=case_id,
        at=entry.at,
        actor=entry.actor,
        command=entry.command,
        to_status=entry.to_status,
        from_status=entry.from_status,
        role=entry.role,
        comment=entry.comment,
        attachments=entry.attachments,
        data=entry.data,
    )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the load runs.

    The load allocates millions of acyclic objects and every collection would walk them all;
    pausing makes it about a third faster.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
