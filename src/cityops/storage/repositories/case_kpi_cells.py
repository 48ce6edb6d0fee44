"""KPI day cells: the cases' KPI counters pre-aggregated per local day and group, folded in lazily.

A year of KPIs over a million cases is a full scan of the cases table, seconds on either store.
So for each dimension of :data:`CELL_DIMENSIONS` there is one row per (local day of acceptance,
group) holding the additive counters of that day's cases and, per working-time measure, the
measured values packed as little-endian int32. A query then reads a few thousand rows: counts add
up, and averages and medians come out of the concatenated values exactly as the raw query's.
Only ``overdue_open`` depends on the moment of asking; it is counted live from the open cases.

Every change to a case stamps ``updated_at``. :meth:`SqlKpiCellRepository.fold` recomputes each
day that has a case stamped after ``folded_until`` and then sets ``folded_until`` to the fold's
moment minus :data:`COMMIT_MARGIN`. A case's day is that of its acceptance, which never changes
once written, so a change touches its own day only. A transaction that stamped its rows before
another's but committed after it is still folded in, as long as it commits within the margin
(case transactions take milliseconds) and the writers' clocks agree within it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection, delete, func, insert, literal, or_, select, text

from cityops.cases.queries import KpiCounters
from cityops.storage.repositories.case_kpis import (
    ADDITIVE,
    additive_counts,
    group_column,
    overdue_open,
)
from cityops.storage.schema import case_kpi_cells, case_kpi_state, cases

COMMIT_MARGIN = timedelta(minutes=2)
MEASURES = ("seconds_to_dispatch", "seconds_to_handle", "seconds_to_close")
_STATE_ID = 1
# Serialises folds on PostgreSQL (SQLite writers are serialised already); any constant works.
_FOLD_LOCK_KEY = 727_002
_PACKED = np.dtype("<i4")


def _dimensions() -> dict[str, Any]:
    c = cases.c
    return {
        "all": literal("all"),
        "department": c.department_code,
        "district": c.district_code,
        "street": c.street_code,
        "community": c.community_code,
        "channel": c.channel,
    }


CELL_DIMENSIONS = frozenset(_dimensions())


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), zone)
    return start, datetime.combine(day + timedelta(days=1), time(), zone)


class SqlKpiCellRepository:
    """Reads and folds the KPI day cells on one connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _state(self) -> tuple[str, datetime] | None:
        row = self._connection.execute(
            select(case_kpi_state.c.zone, case_kpi_state.c.folded_until).where(
                case_kpi_state.c.id == _STATE_ID
            )
        ).first()
        return None if row is None else (row[0], row[1])

    def stale(self, zone: ZoneInfo) -> bool:
        """Return True when a case changed since the last fold or the cells are of another zone."""
        state = self._state()
        if state is None or state[0] != zone.key:
            return True
        changed = select(cases.c.id).where(cases.c.updated_at > state[1]).limit(1)
        return self._connection.execute(changed).first() is not None

    def fold(self, zone: ZoneInfo, now: datetime) -> int:
        """Recompute the day cells whose cases changed; return how many days were recomputed."""
        if self._connection.dialect.name == "postgresql":
            self._connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FOLD_LOCK_KEY}
            )
        state = self._state()
        if state is None or state[0] != zone.key:
            self._connection.execute(delete(case_kpi_cells))
            days = self._all_days(zone)
        else:
            changed = select(cases.c.accepted_at).where(cases.c.updated_at > state[1])
            days = sorted(
                {row[0].astimezone(zone).date() for row in self._connection.execute(changed)}
            )
        for day in days:
            self._rebuild_day(day, zone)
        self._save_state(zone, now - COMMIT_MARGIN, exists=state is not None)
        return len(days)

    def _all_days(self, zone: ZoneInfo) -> list[date]:
        low, high = self._connection.execute(
            select(func.min(cases.c.accepted_at), func.max(cases.c.accepted_at))
        ).one()
        if low is None:
            return []
        first, last = low.astimezone(zone).date(), high.astimezone(zone).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def _save_state(self, zone: ZoneInfo, folded_until: datetime, *, exists: bool) -> None:
        values = {"zone": zone.key, "folded_until": folded_until}
        if exists:
            self._connection.execute(
                case_kpi_state.update().where(case_kpi_state.c.id == _STATE_ID).values(**values)
            )
        else:
            self._connection.execute(insert(case_kpi_state).values(id=_STATE_ID, **values))

    def _rebuild_day(self, day: date, zone: ZoneInfo) -> None:
        start, end = _day_bounds(day, zone)
        c = cases.c
        of_day = [c.accepted_at >= start, c.accepted_at < end, c.merged_into.is_(None)]
        self._connection.execute(delete(case_kpi_cells).where(case_kpi_cells.c.day == day))
        dimensions = _dimensions()
        values = self._measured_values(of_day, dimensions)
        counts = additive_counts()
        rows: list[dict[str, Any]] = []
        for dimension, column in dimensions.items():
            query = (
                select(column.label("group_key"), *(v.label(n) for n, v in counts.items()))
                .where(*of_day)
                .group_by(column)
            )
            for row in self._connection.execute(query).mappings():
                key = "" if row["group_key"] is None else str(row["group_key"])
                cell: dict[str, Any] = {"dimension": dimension, "day": day, "group_key": key}
                cell.update((name, int(row[name] or 0)) for name in counts)
                measured = values.get((dimension, key), {})
                for measure in MEASURES:
                    packed = np.asarray(measured.get(measure, ()), dtype=_PACKED)
                    cell[measure] = packed.tobytes()
                rows.append(cell)
        if rows:
            self._connection.execute(insert(case_kpi_cells), rows)

    def _measured_values(
        self, of_day: list[Any], dimensions: dict[str, Any]
    ) -> dict[tuple[str, str], dict[str, list[int]]]:
        """Return the working-time values of the day's cases by (dimension, group) and measure."""
        c = cases.c
        named = [name for name in dimensions if name != "all"]
        measured = or_(*(c[m].is_not(None) for m in MEASURES))
        query = select(*(dimensions[name] for name in named), *(c[m] for m in MEASURES)).where(
            *of_day, measured
        )
        found: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(
            lambda: {m: [] for m in MEASURES}
        )
        width = len(named)
        for row in self._connection.execute(query):
            keys = [("all", "all")]
            keys.extend(
                (name, "" if row[i] is None else str(row[i])) for i, name in enumerate(named)
            )
            for offset, measure in enumerate(MEASURES):
                value = row[width + offset]
                if value is not None:
                    for key in keys:
                        found[key][measure].append(int(value))
        return found

    def counters(
        self,
        group_by: str,
        first_day: date | None,
        end_day: date | None,
        zone: ZoneInfo,
        now: datetime,
    ) -> list[KpiCounters]:
        """Return the KPI counters per group for the cases accepted on [first_day, end_day)."""
        dimension = "all" if group_by == "month" else group_by
        cell = case_kpi_cells.c
        query = select(
            cell.day, cell.group_key, *(cell[name] for name in ADDITIVE + MEASURES)
        ).where(cell.dimension == dimension)
        if first_day is not None:
            query = query.where(cell.day >= first_day)
        if end_day is not None:
            query = query.where(cell.day < end_day)
        grouped: dict[str, list[Any]] = defaultdict(list)
        for row in self._connection.execute(query).all():
            key = f"{row[0]:%Y-%m}" if group_by == "month" else row[1]
            grouped[key].append(row[2:])
        period = (
            None if first_day is None else _day_bounds(first_day, zone)[0],
            None if end_day is None else _day_bounds(end_day, zone)[0],
        )
        overdue = self._overdue(group_by, period, zone, now)
        return [_combine(key, grouped[key], overdue.get(key, 0)) for key in sorted(grouped)]

    def _overdue(
        self,
        group_by: str,
        period: tuple[datetime | None, datetime | None],
        zone: ZoneInfo,
        now: datetime,
    ) -> Counter[str]:
        """Count the overdue open cases per group, live.

        Only the (status, due_at) index is offered to the engine: given the period too, it
        would rather walk the whole year by acceptance. Overdue cases are few; the period is
        applied here.
        """
        c = cases.c
        group = group_column(self._connection, group_by, zone).label("group_key")
        query = select(group, c.accepted_at).where(overdue_open(now), c.merged_into.is_(None))
        start, end = period
        found: Counter[str] = Counter()
        for key, accepted_at in self._connection.execute(query).all():
            if (start is None or accepted_at >= start) and (end is None or accepted_at < end):
                found["" if key is None else str(key)] += 1
        return found


def _combine(key: str, rows: Sequence[Any], overdue: int) -> KpiCounters:
    counters = KpiCounters(group=key, overdue_open=overdue)
    columns = list(zip(*rows, strict=True))
    for index, name in enumerate(ADDITIVE):
        setattr(counters, name, int(sum(columns[index])))
    for offset, measure in enumerate(MEASURES):
        values = _unpack(columns[len(ADDITIVE) + offset])
        if values.size:
            setattr(counters, f"avg_{measure}", float(values.mean()))
            setattr(counters, f"median_{measure}", float(np.median(values)))
    return counters


def _unpack(blobs: Iterable[bytes]) -> np.ndarray[Any, np.dtype[np.int64]]:
    joined = b"".join(bytes(blob) for blob in blobs)
    return np.frombuffer(joined, dtype=_PACKED).astype(np.int64)
