"""What the command center reads live: open cases and lights per division, closures, charts, map.

The charts' counts read ranges of the indexed times (``accepted_at``, ``closed_at``) or the open
statuses (``status``), never the whole table. A trend buckets a range by a CASE over the bucket
edges: exact for any time zone (local days, DST included) and the same SQL on both stores. The
map reads the open cases as markers (the same live light as the counts), the child divisions'
areas, and the gazetteer's points inside a small box.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, and_, case, func, literal, select

from cityops.cases.queries import CaseFilter, OpenCounts, Visibility
from cityops.cases.situation_charts import BucketCount, DepartmentCounts
from cityops.cases.situation_map import LIGHT_ORDER, MapCase
from cityops.cases.workflow import OPEN, WITH_DEPARTMENT
from cityops.storage.repositories.case_filters import running, where
from cityops.storage.repositories.case_kpis import additive_counts
from cityops.storage.schema import cases, divisions

# The column of the divisions one level below a division of this code length.
_CHILD_COLUMN = {
    0: "district_code",
    6: "street_code",
    9: "community_code",
    12: "grid_code",
    15: "grid_code",
}


def _light_now(now: datetime) -> Any:
    """Return the light of an open case now: live while its clock runs, else the last one."""
    c = cases.c
    frozen = and_(
        c.status.in_([s.value for s in OPEN - WITH_DEPARTMENT]), c.clock_started_at.is_not(None)
    )
    return case(
        (and_(running(), c.due_at <= now), literal("red")),
        (and_(running(), c.yellow_at <= now), literal("yellow")),
        (running(), literal("green")),
        (frozen, c.light),
        else_=literal(""),
    )


def open_counts(
    connection: Connection, visibility: Visibility, division_code: str | None, now: datetime
) -> list[OpenCounts]:
    """Count open cases, yellow and red ones, per division one level below ``division_code``."""
    child = cases.c[_CHILD_COLUMN[len(division_code or "")]].label("child")
    light = _light_now(now).label("light")
    conditions = where(
        CaseFilter(statuses=tuple(sorted(OPEN)), division_code=division_code), visibility, now
    )
    inner = select(child, light).where(*conditions).subquery()
    query = (
        select(
            inner.c.child,
            func.count(),
            func.coalesce(func.sum(case((inner.c.light == "yellow", 1), else_=0)), 0),
            func.coalesce(func.sum(case((inner.c.light == "red", 1), else_=0)), 0),
        )
        .group_by(inner.c.child)
        .order_by(inner.c.child)
    )
    return [
        OpenCounts(code or "", int(total), int(yellow), int(red))
        for code, total, yellow, red in connection.execute(query)
    ]


def closed_between(
    connection: Connection,
    visibility: Visibility,
    division_code: str | None,
    start: datetime,
    end: datetime,
    now: datetime,
) -> int:
    """Count the cases closed (结案) in [start, end), wherever they were accepted."""
    c = cases.c
    conditions = where(CaseFilter(division_code=division_code), visibility, now)
    query = select(func.count()).where(*conditions, c.closed_at >= start, c.closed_at < end)
    return int(connection.execute(query).scalar_one())


def _bucket(column: Any, edges: Sequence[datetime]) -> Any:
    """Return the index of the bucket a time falls in (the range is limited by the caller)."""
    whens = [(column >= edge, index) for index, edge in reversed(list(enumerate(edges[1:-1], 1)))]
    return case(*whens, else_=0) if whens else literal(0)


def accepted_per_bucket(
    connection: Connection,
    visibility: Visibility,
    division_code: str | None,
    edges: Sequence[datetime],
    now: datetime,
) -> list[BucketCount]:
    """Count the cases accepted in each bucket between the edges, per channel."""
    c = cases.c
    conditions = where(CaseFilter(division_code=division_code), visibility, now)
    inner = (
        select(_bucket(c.accepted_at, edges).label("bucket"), c.channel)
        .where(*conditions, c.accepted_at >= edges[0], c.accepted_at < edges[-1])
        .subquery()
    )
    # Grouping by the subquery's column: PostgreSQL cannot match a CASE of bound parameters.
    query = select(inner.c.bucket, inner.c.channel, func.count()).group_by(
        inner.c.bucket, inner.c.channel
    )
    return [
        BucketCount(int(index), str(channel), int(count))
        for index, channel, count in connection.execute(query)
    ]


def closed_per_bucket(
    connection: Connection,
    visibility: Visibility,
    division_code: str | None,
    edges: Sequence[datetime],
    now: datetime,
) -> list[BucketCount]:
    """Count the cases closed in each bucket between the edges, and those closed on time."""
    c = cases.c
    conditions = where(CaseFilter(division_code=division_code), visibility, now)
    on_time = case((c.closed_on_time.is_(True), 1), else_=0)
    inner = (
        select(_bucket(c.closed_at, edges).label("bucket"), on_time.label("on_time"))
        .where(*conditions, c.closed_at >= edges[0], c.closed_at < edges[-1])
        .subquery()
    )
    query = select(inner.c.bucket, func.count(), func.sum(inner.c.on_time)).group_by(inner.c.bucket)
    return [
        BucketCount(int(index), "", int(count), int(on_time or 0))
        for index, count, on_time in connection.execute(query)
    ]


def accepted_by(
    connection: Connection,
    column: Literal["channel", "matter"],
    visibility: Visibility,
    division_code: str | None,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[tuple[str, int]]:
    """Count the cases accepted in [start, end) per channel or matter class (none left out)."""
    c = cases.c
    key = c.channel if column == "channel" else c.matter_code
    conditions = where(CaseFilter(division_code=division_code), visibility, now)
    query = (
        select(key, func.count())
        .where(*conditions, c.accepted_at >= start, c.accepted_at < end, key.is_not(None))
        .group_by(key)
    )
    return [(str(code), int(count)) for code, count in connection.execute(query)]


def department_counts(
    connection: Connection,
    visibility: Visibility,
    division_code: str | None,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[DepartmentCounts]:
    """Per department: open and red now, closed in [start, end), on-time counters of the period.

    Three grouped reads, each on its own index (open statuses, closed_at, accepted_at), merged
    here: one query OR-ing the three would read the whole table.
    """
    c = cases.c
    scope = CaseFilter(division_code=division_code)
    department = c.department_code
    found: dict[str, dict[str, int]] = {}

    def add(rows: Any, *names: str) -> None:
        for code, *values in rows:
            counts = found.setdefault(str(code), {})
            for name, value in zip(names, values, strict=True):
                counts[name] = int(value or 0)

    light = _light_now(now).label("light")
    open_conditions = where(
        CaseFilter(statuses=tuple(sorted(OPEN)), division_code=division_code), visibility, now
    )
    inner = (
        select(department.label("department"), light)
        .where(*open_conditions, department.is_not(None))
        .subquery()
    )
    add(
        connection.execute(
            select(
                inner.c.department,
                func.count(),
                func.coalesce(func.sum(case((inner.c.light == "red", 1), else_=0)), 0),
            ).group_by(inner.c.department)
        ),
        "open",
        "red",
    )
    conditions = where(scope, visibility, now)
    add(
        connection.execute(
            select(department, func.count())
            .where(*conditions, c.closed_at >= start, c.closed_at < end, department.is_not(None))
            .group_by(department)
        ),
        "closed",
    )
    counted = additive_counts()
    add(
        connection.execute(
            select(department, counted["to_close"], counted["closed_on_time"])
            .where(
                *conditions, c.accepted_at >= start, c.accepted_at < end, department.is_not(None)
            )
            .group_by(department)
        ),
        "to_close",
        "closed_on_time",
    )
    return [DepartmentCounts(code, **counts) for code, counts in sorted(found.items())]


def open_on_map(
    connection: Connection,
    visibility: Visibility,
    division_code: str | None,
    now: datetime,
    limit: int,
) -> tuple[list[MapCase], int]:
    """Return up to ``limit`` placed open cases, most urgent first, and how many there are.

    Most urgent: red, yellow, green, no light (the live light of :func:`_light_now`); newest
    first within a light. The count is read only when there are more than ``limit``.
    """
    c = cases.c
    conditions = where(
        CaseFilter(statuses=tuple(sorted(OPEN)), division_code=division_code), visibility, now
    )
    conditions += [c.lon.is_not(None), c.lat.is_not(None)]
    light = _light_now(now).label("light")
    inner = (
        select(c.id, c.accepted_at, c.lon, c.lat, c.status, c.matter_code, light)
        .where(*conditions)
        .subquery()
    )
    rank = case(
        *[(inner.c.light == name, index) for index, name in enumerate(LIGHT_ORDER)],
        else_=len(LIGHT_ORDER),
    )
    query = select(inner).order_by(rank, inner.c.id.desc()).limit(limit + 1)
    found = [
        MapCase(
            int(row.id),
            row.accepted_at,
            float(row.lon),
            float(row.lat),
            str(row.status),
            str(row.light) if row.light else None,
            row.matter_code,
        )
        for row in connection.execute(query)
    ]
    if len(found) <= limit:
        return found, len(found)
    total = connection.execute(select(func.count()).select_from(cases).where(*conditions))
    return found[:limit], int(total.scalar_one())


def child_areas(connection: Connection, division_code: str | None) -> dict[str, float]:
    """Return code → area in m² of the current divisions one level below ``division_code``.

    Districts when no division is given; a grid (the lowest level) is its own only child.
    """
    d = divisions.c
    query = select(d.code, d.area_m2).where(d.valid_to.is_(None))
    if division_code is None:
        query = query.where(d.level == "district")
    elif len(division_code) >= 15:
        query = query.where(d.code == division_code)
    else:
        query = query.where(d.parent_code == division_code)
    return {str(code): float(area) for code, area in connection.execute(query)}
