"""KPI counters per group in one aggregate query (GB/T 30428.4-style counts and working times)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from cityops.cases.queries import KpiCounters
from cityops.cases.workflow import Status
from cityops.storage.repositories.case_filters import running
from cityops.storage.schema import KPI_ADDITIVE_COUNTERS, cases

# Every counter but overdue_open adds up; that one depends on the moment of asking.
ADDITIVE = KPI_ADDITIVE_COUNTERS
_COUNTED = (*ADDITIVE, "overdue_open")
_TIMED = ("seconds_to_dispatch", "seconds_to_handle", "seconds_to_close")


def months_between(low: datetime, high: datetime, zone: tzinfo) -> list[tuple[datetime, str]]:
    """Return the local months from low's to high's, each with its first instant."""
    first = low.astimezone(zone).date().replace(day=1)
    last = high.astimezone(zone).date().replace(day=1)
    found = []
    while first <= last:
        found.append((datetime.combine(first, time(), zone), f"{first:%Y-%m}"))
        first = (first + timedelta(days=32)).replace(day=1)
    return found


def _month_column(connection: Connection, zone: tzinfo) -> Any:
    """Return the local month of acceptance: a CASE over the month starts the data spans."""
    c = cases.c
    # min/max of an indexed column alone are index look-ups, whatever the period.
    low, high = connection.execute(select(func.min(c.accepted_at), func.max(c.accepted_at))).one()
    if low is None:
        return literal("")
    months = months_between(low, high, zone)
    whens = [(c.accepted_at >= start, label) for start, label in reversed(months[1:])]
    return case(*whens, else_=months[0][1]) if whens else literal(months[0][1])


def group_column(connection: Connection, group_by: str, zone: tzinfo) -> Any:
    """Return the expression a KPI query groups by."""
    c = cases.c
    columns: dict[str, Any] = {
        "department": c.department_code,
        "district": c.district_code,
        "street": c.street_code,
        "community": c.community_code,
        "grid": c.grid_code,
        "channel": c.channel,
        "matter": c.matter_code,
        "intake": c.accepted_by,
        "dispatcher": c.dispatched_by,
        "patroller": c.verified_by,
    }
    if group_by in columns:
        return columns[group_by]
    if group_by == "month":
        return _month_column(connection, zone)
    return literal("all")


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _median(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.percentile_cont(0.5).within_group(column)
    return func.median(column)


def additive_counts() -> dict[str, Any]:
    """Return the counters that add up across days and groups, as SQL aggregates."""
    c = cases.c
    return {
        "accepted": func.count(),
        "filed": _count(c.filed_at.is_not(None)),
        "dispatched": _count(c.dispatched_at.is_not(None)),
        # 处置 counts the departments' work: self-handled cases (自处理) were never dispatched.
        "handled": _count(and_(c.handled_at.is_not(None), c.dispatched_at.is_not(None))),
        "handled_on_time": _count(and_(c.handled_on_time.is_(True), c.dispatched_at.is_not(None))),
        "to_close": _count(
            and_(
                or_(c.filed_at.is_not(None), c.self_handled.is_(True)),
                c.status != Status.VOIDED.value,
            )
        ),
        "closed": _count(c.closed_at.is_not(None)),
        "closed_on_time": _count(c.closed_on_time.is_(True)),
        "reworked": _count(c.reworks > 0),
        "extended": _count(c.extensions > 0),
        "returned": _count(c.returns > 0),
        "held": _count(c.holds > 0),
        "self_handled": _count(c.self_handled.is_(True)),
        "evaluated": func.count(c.satisfaction),
        "satisfaction_sum": func.coalesce(func.sum(c.satisfaction), 0),
        "satisfied": _count(c.satisfaction >= 4),
    }


def overdue_open(now: datetime) -> ColumnElement[bool]:
    """Open cases whose running clock is past the deadline now (never pre-aggregated)."""
    return and_(running(), cases.c.due_at <= now)


def kpi_counters(
    connection: Connection, conditions: list[Any], group_by: str, now: datetime, zone: tzinfo
) -> list[KpiCounters]:
    """Return one KpiCounters per group, ordered by group."""
    c = cases.c
    dialect = connection.dialect.name
    group = group_column(connection, group_by, zone).label("group_key")
    counted = additive_counts()
    counted["overdue_open"] = _count(overdue_open(now))
    columns = [group, *(value.label(name) for name, value in counted.items())]
    for name in _TIMED:
        column = c[name]
        columns.append(func.avg(column).label(f"avg_{name}"))
        columns.append(_median(column, dialect).label(f"median_{name}"))
    query = select(*columns).where(*conditions).group_by(group).order_by(group)
    found = []
    for row in connection.execute(query).mappings():
        key = row["group_key"]
        counters = KpiCounters(group="" if key is None else str(key))
        for name in _COUNTED:
            setattr(counters, name, int(row[name] or 0))
        for name in _TIMED:
            for prefix in ("avg_", "median_"):
                value = row[prefix + name]
                setattr(counters, prefix + name, None if value is None else float(value))
        found.append(counters)
    return found
