"""Data helpers for ``benchmarks/cases.py``: the demo geography, intake requests, a year of rows.

Nothing here times anything. The geography comes from the demo loader (without its generated
cases) or, if that fails, is built here from the same generator through the public services;
intake requests mix realistic texts, points inside grids and external references; a year of
cases is generated column-wise with numpy and written with the engines' bulk paths
(``executemany`` in big batches on SQLite, ``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cityops.auth.model import Principal, RoleGrant
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.cases import corpus
from cityops.cases.intake import IntakeRequest
from cityops.cases.rules import MatterRule
from cityops.catalog.reference import matter_classes
from cityops.demo.city import generate
from cityops.storage.schema import cases, grid_assignments, grid_workers, matter_rules

# Fallback routing when the demo loader is unavailable: major matter class → department.
_MAJOR_DEPARTMENT = {
    "01": "SZ",
    "02": "JJ",
    "03": "HWS",
    "04": "YL",
    "05": "SZ",
    "06": "HWS",
    "07": "CGJ",
    "08": "ZJ",
    "09": "CGJ",
    "10": "CGJ",
}
CHANNELS = ("hotline", "patroller", "app", "web", "sensor", "ai_detection", "enterprise")
CHANNEL_WEIGHTS = (0.45, 0.25, 0.15, 0.05, 0.03, 0.05, 0.02)
APPEALS = ("complaint", "help", "consult", "report", "suggestion")
APPEAL_WEIGHTS = (0.45, 0.25, 0.15, 0.1, 0.05)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"


# --------------------------------------------------------------------------- geography


@dataclass
class Geography:
    """What the benchmarks need to know about the district in the store."""

    source: str  # "demo loader" or "built by the benchmark"
    grid_codes: list[str]
    grid_polygons: list[Any]
    community_of: dict[str, str]
    street_of: dict[str, str]
    district_code: str
    rule_department: dict[str, str]  # matter code → department (city-wide rules)
    units: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)  # per grid
    workers: dict[str, str] = field(default_factory=dict)  # grid → first worker
    keyword_rules: int = 0

    def route(self, grid: str, matter: str) -> str | None:
        """Return the department intake would propose (same precedence as intake's _route)."""
        rule = self.rule_department.get(matter)
        units = self.units.get(grid, {})
        unit = units.get(("matter", matter))
        if unit is None and rule:
            unit = units.get(("department", rule))
        return unit or rule


def setup_geography(services: Any, workdir: Path) -> Geography:
    """Load the demo city (no demo cases) into a migrated store; return what was loaded."""
    system = Principal.system("bench")
    source = "demo loader"
    try:
        from cityops.demo.load import load_demo

        try:
            load_demo(services, workdir / "demo-credentials.txt", cases=0)
        except TypeError:  # an older loader without the cases argument
            load_demo(services, workdir / "demo-credentials.txt")
    except Exception as error:  # the loader is being changed: build the same city ourselves
        print(f"  demo loader failed ({type(error).__name__}: {error}); building the city here")
        _build_geography(services, system)
        source = "built by the benchmark"
    if not services.matter_rules.list_rules(system):
        _put_rules(services, system)
    return read_geography(services, source)


def read_geography(services: Any, source: str = "store") -> Geography:
    """Read the district's grids, rules, units and workers back from the store."""
    city = generate()
    community_of = {g.code: g.parent_code or "" for g in city.grids}
    street_of_community = {c.code: c.parent_code or "" for c in city.communities}
    street_of = {g: street_of_community[c] for g, c in community_of.items()}
    with services.store.engine.connect() as connection:
        rules = connection.execute(
            select(matter_rules.c.matter_code, matter_rules.c.department_code).where(
                matter_rules.c.division_code == ""
            )
        ).all()
        keyword_rules = sum(
            1 for (keywords,) in connection.execute(select(matter_rules.c.keywords)) if keywords
        )
        units: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
        for grid, kind, key, unit in connection.execute(
            select(
                grid_assignments.c.grid_code,
                grid_assignments.c.key_kind,
                grid_assignments.c.key,
                grid_assignments.c.unit_code,
            )
        ):
            units[grid][(kind, key)] = unit
        workers: dict[str, str] = {}
        for grid, username in connection.execute(
            select(grid_workers.c.grid_code, grid_workers.c.username).order_by(
                grid_workers.c.grid_code, grid_workers.c.username
            )
        ):
            workers.setdefault(grid, username)
    return Geography(
        source=source,
        grid_codes=[g.code for g in city.grids],
        grid_polygons=[g.geometry for g in city.grids],
        community_of=community_of,
        street_of=street_of,
        district_code=city.district.code,
        rule_department={m: d for m, d in rules if d},
        units=dict(units),
        workers=workers,
        keyword_rules=int(keyword_rules),
    )


def _build_geography(services: Any, system: Principal) -> None:
    """Build the demo city without the demo loader: divisions, departments, units, workers."""
    from cityops.demo.accounts import DEPARTMENTS, ROOT_DEPARTMENT

    city = generate()
    report = services.divisions.import_divisions(system, city.divisions())
    if not report.written:
        raise RuntimeError(f"the demo city did not import: {report.issues[:3]}")
    existing = {d.code for d in services.accounts.list_departments(system)}
    if ROOT_DEPARTMENT[0] not in existing:
        services.accounts.create_department(
            system, code=ROOT_DEPARTMENT[0], name=ROOT_DEPARTMENT[1]
        )
    for code, name in DEPARTMENTS:
        if code not in existing:
            services.accounts.create_department(system, code=code, name=name, parent_code="GOV")
    streets = sorted(city.streets, key=lambda s: s.code)
    unit_of, worker_of = {}, {}
    for i, street in enumerate(streets, start=1):
        unit_of[street.code] = f"HWS{i:02d}"
        worker_of[street.code] = f"gridworker{i:02d}"
        services.accounts.create_department(
            system, code=f"HWS{i:02d}", name=f"{street.name}环卫所", parent_code="HWS"
        )
        services.accounts.create_user(
            system,
            username=f"gridworker{i:02d}",
            password="bench-password-not-secret-1",
            display_name=f"{street.name}网格员",
            department_code="CGJ",
            grants=[RoleGrant(Role.PATROLLER, Scope("division", street.code))],
        )
    street_of_community = {c.code: c.parent_code for c in city.communities}
    workers, units = [], []
    for grid in city.grids:
        street = street_of_community[grid.parent_code]
        workers.append((grid.code, worker_of[street]))
        units.append((grid.code, "department", "HWS", unit_of[street]))
    services.responsibility.bulk_assign(system, workers=workers, units=units)


def _put_rules(services: Any, system: Principal) -> None:
    rules = [
        MatterRule(code, department_code=_MAJOR_DEPARTMENT.get(code[:2], "CGJ"))
        for code in sorted(matter_classes())
    ]
    services.matter_rules.put_many(system, rules)


# --------------------------------------------------------------------------- intake requests


def texts_by_class(per_class: int, seed: int = 5) -> dict[str, list[str]]:
    """Return generated appeal texts (the classifier corpus generator) grouped by class."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for description, code in corpus.generate(seed, per_class):
        grouped[code].append(description)
    return dict(grouped)


def class_weights(codes: Sequence[str], seed: int = 11) -> np.ndarray:
    """Return a skewed (Zipf-like) class mix: a few classes make most cases, as in cities."""
    order = np.random.default_rng(seed).permutation(len(codes))
    weights = 1.0 / (1.0 + order) ** 0.9
    return weights / weights.sum()


def points_in_grids(
    polygons: Sequence[Any], grid_index: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return one uniform random point inside each chosen grid (rejection sampling)."""
    bounds = shapely.bounds(np.asarray(polygons, dtype=object))
    geoms = np.asarray(polygons, dtype=object)
    n = len(grid_index)
    lon, lat = np.empty(n), np.empty(n)
    todo = np.arange(n)
    while len(todo):
        b = bounds[grid_index[todo]]
        x = rng.uniform(b[:, 0], b[:, 2])
        y = rng.uniform(b[:, 1], b[:, 3])
        inside = shapely.contains_xy(geoms[grid_index[todo]], x, y)
        lon[todo[inside]], lat[todo[inside]] = x[inside], y[inside]
        todo = todo[~inside]
    return lon, lat


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"


def intake_requests(
    geo: Geography,
    texts: dict[str, list[str]],
    count: int,
    *,
    seed: int,
    tag: str,
    ref_share: float = 0.3,
    repeat_every: int = 20,
) -> list[IntakeRequest]:
    """Return ``count`` intake requests for one client.

    Random points inside grids, a skewed class mix, ~30 % with an external reference of which
    one in ``repeat_every`` repeats an earlier one of the same client (idempotency).
    """
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    codes = sorted(texts)
    weights = class_weights(codes)
    chosen = nrng.choice(len(codes), size=count, p=weights)
    grid_index = nrng.integers(0, len(geo.grid_codes), size=count)
    lon, lat = points_in_grids(geo.grid_polygons, grid_index, nrng)
    refs: list[tuple[str, str]] = []
    out: list[IntakeRequest] = []
    for i in range(count):
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        external_ref = None
        if rng.random() < ref_share:
            if refs and rng.randrange(repeat_every) == 0:
                channel, external_ref = rng.choice(refs)
            else:
                external_ref = f"{tag}-{i}"
                refs.append((channel, external_ref))
        public = channel in ("hotline", "web", "app")
        out.append(
            IntakeRequest(
                channel=channel,
                description=rng.choice(texts[codes[chosen[i]]]),
                appeal_type=rng.choices(APPEALS, APPEAL_WEIGHTS)[0] if public else None,
                urgency="urgent" if rng.random() < 0.05 else "normal",
                lon=float(lon[i]),
                lat=float(lat[i]),
                reporter_name=f"{rng.choice(SURNAMES)}先生" if public else None,
                reporter_phone=_phone(rng) if public else None,
                external_ref=external_ref,
            )
        )
    return out


# --------------------------------------------------------------------------- a year of cases

_COLUMNS = [c.name for c in cases.columns]
_US = np.timedelta64(1, "us")
_NAT = np.datetime64("NaT", "us")
LIMITS = (
    ("1 工作日", 7 * 3600),
    ("2 工作日", 14 * 3600),
    ("4 工作时", 4 * 3600),
    ("5 工作日", 35 * 3600),
)


@dataclass
class YearOfCases:
    """Column arrays for ``n`` cases (numpy, or lists of str/None for text columns)."""

    n: int
    columns: dict[str, Any]


def generate_year(
    geo: Geography, n: int, start: datetime, end: datetime, *, seed: int = 2026
) -> YearOfCases:
    """Generate ``n`` plausible cases accepted in [start, end), their loop run up to ``end``."""
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    texts = texts_by_class(12, seed=seed)
    codes = sorted(texts)
    matter_i = rng.choice(len(codes), size=n, p=class_weights(codes))
    matter = np.asarray(codes, dtype=object)[matter_i]
    grid_i = rng.integers(0, len(geo.grid_codes), size=n)
    lon, lat = points_in_grids(geo.grid_polygons, grid_i, rng)
    grids = np.asarray(geo.grid_codes, dtype=object)[grid_i]
    channel = np.asarray(CHANNELS, dtype=object)[
        rng.choice(len(CHANNELS), size=n, p=CHANNEL_WEIGHTS)
    ]
    public = np.isin(channel, ("hotline", "web", "app"))

    t0 = np.datetime64(start.replace(tzinfo=None), "us")
    span_us = int((end - start) / timedelta(microseconds=1))
    accepted = np.sort(t0 + rng.integers(0, span_us, size=n) * _US)
    now = np.datetime64(end.replace(tzinfo=None), "us")

    def later(base: np.ndarray, mean_hours: float) -> np.ndarray:
        return base + (rng.exponential(mean_hours * 3600e6, size=n)).astype(np.int64) * _US

    u = rng.random(n)
    rejected = u < 0.04
    voided = (u >= 0.04) & (u < 0.05)
    self_handled = (~rejected & ~voided) & (channel == "patroller") & (rng.random(n) < 0.2)
    filed = later(accepted, 0.4)
    dispatched = later(filed, 0.6)
    limit_i = rng.choice(len(LIMITS), size=n, p=(0.45, 0.2, 0.15, 0.2))
    limit_s = np.array([s for _, s in LIMITS])[limit_i]
    # Working seconds to handle: mostly within the limit, a tail over it.
    ratio = rng.lognormal(mean=-0.6, sigma=0.6, size=n)
    s_handle = (limit_s * ratio).astype(np.int64)
    handled = dispatched + (s_handle * 3.4e6).astype(np.int64) * _US  # working → calendar
    handled = np.where(self_handled, accepted + np.int64(600e6) * _US, handled)
    closed = later(handled, 10)
    evaluated = closed + (rng.exponential(24 * 3600e6, size=n)).astype(np.int64) * _US
    rated = public & (rng.random(n) < 0.7)

    status = np.full(n, "accepted", dtype=object)
    reached = lambda moment: moment <= now  # noqa: E731
    status[reached(filed)] = "filed"
    status[reached(dispatched)] = "dispatched"
    in_progress = reached(dispatched) & (rng.random(n) < 0.6)
    status[in_progress] = "in_progress"
    status[reached(handled)] = "handled"
    status[reached(closed)] = "closed"
    status[reached(evaluated) & rated] = "evaluated"
    on_hold = np.isin(status, ("dispatched", "in_progress")) & (rng.random(n) < 0.05)
    status[on_hold] = "on_hold"
    status[self_handled & reached(handled)] = "handled"
    status[self_handled & reached(closed)] = "closed"
    status[self_handled & ~reached(handled)] = "accepted"
    end_early = accepted + np.int64(1800e6) * _US
    status[rejected & reached(end_early)] = "rejected"
    status[voided & reached(end_early)] = "voided"
    gone = np.isin(status, ("rejected", "voided"))

    def upto(moment: np.ndarray, ok: np.ndarray) -> np.ndarray:
        return np.where(ok & reached(moment), moment, _NAT)

    alive = ~gone
    filed_at = upto(filed, alive & ~self_handled)
    dispatched_at = upto(dispatched, alive & ~self_handled)
    handled_at = upto(handled, alive & np.isin(status, ("handled", "closed", "evaluated")))
    closed_at = upto(closed, alive & np.isin(status, ("closed", "evaluated")))
    ended_at = np.where(gone, end_early, np.where(status == "evaluated", evaluated, _NAT)).astype(
        "datetime64[us]"
    )
    clock = ~np.isnat(dispatched_at)
    due = dispatched + (limit_s * 3.4e6).astype(np.int64) * _US
    yellow = dispatched + (limit_s * 0.8 * 3.4e6).astype(np.int64) * _US
    due_at = np.where(clock, due, _NAT)
    yellow_at = np.where(clock, yellow, _NAT)
    has_handled = ~np.isnat(handled_at)
    on_time = s_handle <= limit_s
    handled_on_time = np.where(has_handled, on_time | self_handled, None)
    closed_on_time = np.where(~np.isnat(closed_at), on_time | self_handled, None)
    s_dispatch = np.where(clock, rng.exponential(1800, size=n).astype(np.int64), -1)
    s_handle_col = np.where(has_handled, np.where(self_handled, 0, s_handle), -1)
    s_close = np.where(
        ~np.isnat(closed_at),
        s_handle_col + s_dispatch.clip(0) + rng.exponential(10800, size=n).astype(np.int64),
        -1,
    )
    satisfaction = np.where(
        status == "evaluated", rng.choice(5, size=n, p=(0.03, 0.04, 0.13, 0.3, 0.5)) + 1, -1
    )
    reworks = np.where(has_handled, rng.choice(3, size=n, p=(0.93, 0.06, 0.01)), 0)
    extensions = np.where(clock, (rng.random(n) < 0.04).astype(np.int64), 0)
    returns = np.where(clock, (rng.random(n) < 0.03).astype(np.int64), 0)
    urges = np.where(clock, rng.choice(3, size=n, p=(0.9, 0.08, 0.02)), 0)
    holds = np.where(on_hold | (clock & (rng.random(n) < 0.02)), 1, 0)
    running = np.isin(status, ("dispatched", "in_progress"))
    light = np.where(
        clock,
        np.where(
            running & (due_at <= now),
            "red",
            np.where(running & (yellow_at <= now), "yellow", np.where(on_time, "green", "red")),
        ),
        None,
    )
    escalation = np.where(running & (due_at <= now), 1, 0)
    updated = np.maximum.reduce(
        [
            accepted,
            np.where(np.isnat(filed_at), accepted, filed_at),
            np.where(np.isnat(dispatched_at), accepted, dispatched_at),
            np.where(np.isnat(handled_at), accepted, handled_at),
            np.where(np.isnat(closed_at), accepted, closed_at),
            np.where(np.isnat(ended_at), accepted, ended_at),
        ]
    )

    department = np.empty(n, dtype=object)
    workers = np.empty(n, dtype=object)
    for i in range(n):
        department[i] = geo.route(grids[i], matter[i])
        workers[i] = geo.workers.get(grids[i])
    verified_by = np.where(~np.isnat(closed_at), workers, None)

    descriptions = [None] * n
    names: list[str | None] = [None] * n
    phones: list[str | None] = [None] * n
    for i in range(n):
        options = texts[matter[i]]
        descriptions[i] = options[pyrng.randrange(len(options))]
        if public[i]:
            names[i] = f"{SURNAMES[pyrng.randrange(len(SURNAMES))]}先生"
            phones[i] = f"13{pyrng.randrange(10**9):09d}"
    ref = rng.random(n) < 0.3
    external_ref = [f"Y{i:08d}" if ref[i] else None for i in range(n)]
    conf = rng.uniform(0.35, 0.99, size=n).round(4)
    source = np.where(rng.random(n) < 0.25, "rule", np.where(rng.random(n) < 0.1, "clerk", "model"))
    conf = np.where(source == "model", conf, 1.0)
    appeal = np.where(
        public,
        np.asarray(APPEALS, dtype=object)[rng.choice(len(APPEALS), size=n, p=APPEAL_WEIGHTS)],
        None,
    )

    columns: dict[str, Any] = {
        "id": np.arange(1, n + 1),
        "channel": channel,
        "appeal_type": appeal,
        "urgency": np.where(rng.random(n) < 0.05, "urgent", "normal"),
        "description": descriptions,
        "status": status,
        "resume_to": np.where(on_hold, "in_progress", None),
        "extension_pending": running & (rng.random(n) < 0.02),
        "reworks": reworks,
        "returns": returns,
        "urges": urges,
        "extensions": extensions,
        "holds": holds,
        "self_handled": self_handled & reached(handled),
        "satisfaction": satisfaction,
        "matter_code": matter,
        "class_source": source,
        "class_confidence": conf,
        "suggestions": None,  # built per row from matter/confidence/source
        "lon": lon,
        "lat": lat,
        "address": None,
        "component_id": None,
        "location_source": "point",
        "grid_code": grids,
        "community_code": np.asarray([geo.community_of[g] for g in geo.grid_codes], dtype=object)[
            grid_i
        ],
        "street_code": np.asarray([geo.street_of[g] for g in geo.grid_codes], dtype=object)[grid_i],
        "district_code": geo.district_code,
        "reporter_name": names,
        "reporter_phone": phones,
        "external_ref": external_ref,
        "department_code": department,
        "grid_worker": workers,
        "merged_into": None,
        "accepted_by": np.asarray(("intake", "clerk02", "clerk03"), dtype=object)[
            rng.integers(0, 3, size=n)
        ],
        "filed_by": np.where(np.isnat(filed_at), None, "dispatcher"),
        "dispatched_by": np.where(np.isnat(dispatched_at), None, "dispatcher"),
        "verified_by": verified_by,
        "accepted_at": accepted,
        "filed_at": filed_at,
        "dispatched_at": dispatched_at,
        "handled_at": handled_at,
        "closed_at": closed_at,
        "ended_at": ended_at,
        "limit_text": np.where(
            clock, np.asarray([t for t, _ in LIMITS], dtype=object)[limit_i], None
        ),
        "limit_seconds": np.where(clock, limit_s, -1),
        "clock_started_at": dispatched_at,
        "pauses": None,  # built per row from handled_at
        "due_at": due_at,
        "yellow_at": yellow_at,
        "light": light,
        "escalation": escalation,
        "handled_on_time": handled_on_time,
        "closed_on_time": closed_on_time,
        "seconds_to_dispatch": s_dispatch,
        "seconds_to_handle": s_handle_col,
        "seconds_to_close": s_close,
        "updated_at": updated,
    }
    return YearOfCases(n, columns)


def _iso_strings(values: np.ndarray, sep: str, suffix: str) -> list[str | None]:
    """datetime64[us] → 'YYYY-MM-DD HH:MM:SS.ffffff' (+suffix); NaT → None."""
    as_text = np.datetime_as_string(values, unit="us")
    missing = np.isnat(values)
    out: list[str | None] = [
        None if gone else (t.replace("T", sep) + suffix)
        for t, gone in zip(as_text.tolist(), missing.tolist(), strict=True)
    ]
    return out


_DATETIMES = {c.name for c in cases.columns if c.type.__class__.__name__ == "UtcDateTime"}
_INTS_NULL_NEGATIVE = {
    "satisfaction",
    "limit_seconds",
    "seconds_to_dispatch",
    "seconds_to_handle",
    "seconds_to_close",
}
_BOOLS = {"extension_pending", "self_handled", "handled_on_time", "closed_on_time"}


def _column_lists(year: YearOfCases, lo: int, hi: int, dialect: str) -> list[list[Any]]:
    """Return the columns of rows [lo, hi) as Python lists ready for the driver."""
    n = hi - lo
    sep, suffix = (" ", "") if dialect == "sqlite" else ("T", "+00")
    out: list[list[Any]] = []
    cols = year.columns
    for name in _COLUMNS:
        value = cols[name]
        if name == "suggestions":
            matter, conf, source = (
                cols["matter_code"],
                cols["class_confidence"],
                cols["class_source"],
            )
            out.append(
                [
                    f'[{{"code": "{matter[i]}", "confidence": {conf[i]}, "source": "{source[i]}"}}]'
                    for i in range(lo, hi)
                ]
            )
        elif name == "pauses":
            handled = _iso_strings(cols["handled_at"][lo:hi], "T", "+00:00")
            out.append([f'[["{h}", null, "verify"]]' if h else "[]" for h in handled])
        elif name in _DATETIMES:
            out.append(_iso_strings(value[lo:hi], sep, suffix))
        elif value is None or isinstance(value, str):
            out.append([value] * n)
        elif isinstance(value, list):
            out.append(value[lo:hi])
        else:
            part = value[lo:hi]
            if name in _INTS_NULL_NEGATIVE:
                out.append([None if v < 0 else v for v in part.tolist()])
            elif name in _BOOLS and part.dtype != object:
                out.append([bool(v) for v in part.tolist()])
            else:
                out.append(part.tolist())
    if dialect == "postgresql":
        for name in _BOOLS:
            index = _COLUMNS.index(name)
            out[index] = [None if v is None else ("t" if v else "f") for v in out[index]]
    else:
        for name in _BOOLS:
            index = _COLUMNS.index(name)
            out[index] = [None if v is None else int(bool(v)) for v in out[index]]
    return out


def load_year_sqlite(path: Path, year: YearOfCases, batch: int = 50_000) -> dict[str, float]:
    """Insert the cases with ``executemany`` in batches, in one transaction; then ANALYZE.

    Returns the seconds spent in the driver ("insert", commit included) and in ANALYZE.
    """
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    sql = f"INSERT INTO cases ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
    spent = {"insert": 0.0, "after": 0.0}
    connection.execute("BEGIN IMMEDIATE")
    for lo in range(0, year.n, batch):
        hi = min(year.n, lo + batch)
        rows = list(zip(*_column_lists(year, lo, hi, "sqlite"), strict=True))
        started = time.perf_counter()
        connection.executemany(sql, rows)
        spent["insert"] += time.perf_counter() - started
    started = time.perf_counter()
    connection.execute("COMMIT")
    spent["insert"] += time.perf_counter() - started
    started = time.perf_counter()
    connection.execute("ANALYZE")
    spent["after"] = time.perf_counter() - started
    connection.close()
    return spent


def psycopg_url(url: str, database: str | None = None) -> str:
    """Return a libpq URL (optionally for another database on the same server)."""
    parsed = make_url(url).set(drivername="postgresql")
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return str(value)


def load_year_postgres(url: str, year: YearOfCases, batch: int = 50_000) -> dict[str, float]:
    """COPY the cases in one transaction, move the id sequence; then VACUUM ANALYZE.

    Returns the seconds spent in the driver ("insert": COPY writes and the commit) and in
    VACUUM ANALYZE.
    """
    import psycopg

    spent = {"insert": 0.0, "after": 0.0}
    with psycopg.connect(psycopg_url(url)) as connection:
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY cases ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
        ):
            for lo in range(0, year.n, batch):
                hi = min(year.n, lo + batch)
                columns = _column_lists(year, lo, hi, "postgresql")
                buffer = io.StringIO()
                for row in zip(*columns, strict=True):
                    buffer.write("\t".join(map(_copy_text, row)))
                    buffer.write("\n")
                data = buffer.getvalue()
                started = time.perf_counter()
                copy.write(data)
                spent["insert"] += time.perf_counter() - started
            started = time.perf_counter()
        spent["insert"] += time.perf_counter() - started  # the end of COPY
        started = time.perf_counter()
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"
        )
        connection.commit()
        spent["insert"] += time.perf_counter() - started
        connection.autocommit = True
        started = time.perf_counter()
        connection.execute("VACUUM ANALYZE cases")
        spent["after"] = time.perf_counter() - started
    return spent


def to_json(value: Any) -> str:
    """Compact JSON (for the summary file)."""
    return json.dumps(value, ensure_ascii=False, default=str)
