"""The city's cases at a glance: the command center's cards and the numbers behind its map.

A card shows a figure of the period (today, the last 7 or 30 days, each ending with today) next
to the same figure of the period before it, or a count of now (open, yellow, red). The rates
follow the KPI definitions of :mod:`cityops.cases.kpis` over the cases *accepted* in the period;
``closed`` counts the cases *closed* in it, wherever they were accepted. Everything is limited
to one division when one is given (a drill-down) and to the reader's ``analytics:read`` scopes.
The charts of the same scope and period (trend, top classes, department leaderboard, channels)
are put together by :mod:`cityops.cases.situation_charts`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cityops.auth.model import Principal
from cityops.cases.listing import CaseListService
from cityops.cases.ports import CasesUnitOfWork
from cityops.cases.queries import CaseFilter, visibility
from cityops.cases.situation_charts import channels, leaderboard, top_classes, trend, trend_edges
from cityops.kernel.clock import Clock
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory

PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}
_DIVISION_LENGTHS = (6, 9, 12, 15)


def period_bounds(
    period: str, now: datetime, zone: ZoneInfo
) -> tuple[datetime, datetime, datetime]:
    """Return (start of the previous period, start, end) of a period that ends with today."""
    if period not in PERIOD_DAYS:
        raise ValidationFailed.single("period", "one_of", f"use one of {', '.join(PERIOD_DAYS)}")
    days = PERIOD_DAYS[period]
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    end = datetime.combine(tomorrow, time(), zone)
    start = datetime.combine(tomorrow - timedelta(days=days), time(), zone)
    previous = datetime.combine(tomorrow - timedelta(days=2 * days), time(), zone)
    return previous, start, end


def _check_division(code: str | None) -> str | None:
    if code is None or code == "":
        return None
    if not (code.isdigit() and len(code) in _DIVISION_LENGTHS):
        raise ValidationFailed.single(
            "division",
            "division_code",
            "a district (6), street (9), community (12) or grid (15) code",
        )
    return code


def _figures(kpis: dict[str, Any]) -> dict[str, Any]:
    group = kpis["groups"][0] if kpis["groups"] else None
    if group is None:
        return {
            "accepted": 0,
            "closing_rate": None,
            "on_time_closing_rate": None,
            "median_hours_to_close": None,
            "satisfaction": None,
        }
    return {
        "accepted": group["counts"]["accepted"],
        "closing_rate": group["rates"]["closing_rate"],
        "on_time_closing_rate": group["rates"]["on_time_closing_rate"],
        "median_hours_to_close": group["working_hours"]["median_close"],
        "satisfaction": group["satisfaction"],
    }


class SituationService:
    """Cards and per-division counts for the command center, within the reader's scopes."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[CasesUnitOfWork],
        clock: Clock,
        case_lists: CaseListService,
        zone: ZoneInfo,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._case_lists = case_lists
        self._zone = zone

    def summary(
        self, principal: Principal, *, division_code: str | None = None, period: str = "day"
    ) -> dict[str, Any]:
        """Return the cards of the period and the open cases per division one level down."""
        division = _check_division(division_code)
        now = self._clock.now()
        previous, start, end = period_bounds(period, now, self._zone)
        principal.require_somewhere("analytics:read")
        scope = CaseFilter(division_code=division)
        figures = {}
        for name, (low, high) in {"current": (start, end), "previous": (previous, start)}.items():
            kpis = self._case_lists.kpis(
                principal, group_by="all", start=low, end=high, case_filter=scope
            )
            figures[name] = _figures(kpis)
        with self._unit_of_work(read_only=True) as uow:
            seen = visibility(principal, "analytics:read", uow.departments.list())
            for name, (low, high) in {
                "current": (start, end),
                "previous": (previous, start),
            }.items():
                figures[name]["closed"] = uow.cases.closed_between(seen, division, low, high, now)
            children = uow.cases.open_counts(seen, division, now)
        cards: dict[str, dict[str, Any]] = {
            name: {"value": figures["current"][name], "previous": figures["previous"][name]}
            for name in figures["current"]
        }
        cards["open"] = {"value": sum(c.open for c in children)}
        cards["due_soon"] = {"value": sum(c.yellow for c in children)}
        cards["overdue"] = {"value": sum(c.red for c in children)}
        return {
            "division": division,
            "period": {
                "name": period,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "previous_from": previous.isoformat(),
            },
            "at": now.astimezone(self._zone).isoformat(),
            "cards": cards,
            "children": [
                {"code": c.code, "open": c.open, "yellow": c.yellow, "red": c.red} for c in children
            ],
        }

    def charts(
        self, principal: Principal, *, division_code: str | None = None, period: str = "day"
    ) -> dict[str, Any]:
        """Return the charts of a scope: trend, top classes, leaderboard, channels."""
        division = _check_division(division_code)
        now = self._clock.now()
        _, start, end = period_bounds(period, now, self._zone)
        principal.require_somewhere("analytics:read")
        unit, edges = trend_edges(period, now, self._zone)
        with self._unit_of_work(read_only=True) as uow:
            departments = uow.departments.list()
            seen = visibility(principal, "analytics:read", departments)
            accepted = uow.cases.accepted_per_bucket(seen, division, edges, now)
            closed = uow.cases.closed_per_bucket(seen, division, edges, now)
            classes = uow.cases.accepted_by("matter", seen, division, start, end, now)
            by_channel = uow.cases.accepted_by("channel", seen, division, start, end, now)
            counts = uow.cases.department_counts(seen, division, start, end, now)
        return {
            "division": division,
            "period": {"name": period, "from": start.isoformat(), "to": end.isoformat()},
            "at": now.astimezone(self._zone).isoformat(),
            "series": trend(unit, edges, accepted, closed, self._zone),
            "top_classes": top_classes(classes),
            "channels": channels(by_channel),
            "departments": leaderboard(counts, {d.code: d for d in departments}),
        }
