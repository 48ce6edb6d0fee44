"""What the command center counts live: open cases and their lights per division, closures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal, select

from cityops.cases.queries import CaseFilter, OpenCounts, Visibility
from cityops.cases.workflow import OPEN, WITH_DEPARTMENT
from cityops.storage.repositories.case_filters import running, where
from cityops.storage.schema import cases

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
