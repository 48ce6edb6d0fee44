"""The city's cases at a glance: the command center's cards and the numbers behind its map.

A card shows a figure of the period (today, the last 7 or 30 days, each ending with today) next
to the same figure of the period before it, or a count of now (open, yellow, red). The rates
follow the KPI definitions of :mod:`cityops.cases.kpis` over the cases *accepted* in the period;
``closed`` counts the cases *closed* in it, wherever they were accepted. Everything is limited
to one division when one is given (a drill-down) and to the reader's ``analytics:read`` scopes.
The charts of the same scope and period (trend, top classes, department leaderboard, channels)
are put together by :mod:`cityops.cases.situation_charts`; the map's markers, shading measures
and layers by :mod:`cityops.cases.situation_map`.
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
from cityops.cases.situation_map import (
    COMPONENTS_LIMIT,
    MAP_CASES_LIMIT,
    PLACES_LIMIT,
    case_markers,
    check_limit,
    check_place_kinds,
    child_areas,
    component_markers,
    parse_box,
    place_markers,
)
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
            areas = uow.cases.child_areas(division)
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
            "areas": child_areas(children, areas),
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

    def cases_on_map(
        self,
        principal: Principal,
        *,
        division_code: str | None = None,
        limit: int = MAP_CASES_LIMIT,
    ) -> dict[str, Any]:
        """Return the open cases of a scope as map markers, the most urgent first, capped.

        Only the cases the principal may find in the case search are shown (the ``cases:read``
        visibility of :mod:`cityops.cases.listing`); ``truncated`` says some were left out.
        """
        division = _check_division(division_code)
        check_limit(limit, MAP_CASES_LIMIT)
        principal.require_somewhere("analytics:read")
        principal.require_somewhere("cases:read")
        now = self._clock.now()
        with self._unit_of_work(read_only=True) as uow:
            seen = visibility(principal, "cases:read", uow.departments.list())
            found, total = uow.cases.open_on_map(seen, division, now, limit)
        return {
            "division": division,
            "at": now.astimezone(self._zone).isoformat(),
            **case_markers(found, total, limit, self._zone),
        }

    def components_in_box(
        self, principal: Principal, bbox: str, *, limit: int = COMPONENTS_LIMIT
    ) -> dict[str, Any]:
        """Return the components (管理部件) inside a small lon/lat box, capped."""
        box = parse_box(bbox)
        check_limit(limit, COMPONENTS_LIMIT)
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            found = uow.components.in_box(*box, None, limit + 1)
        return {"bbox": list(box), **component_markers(found, limit)}

    def places_in_box(
        self,
        principal: Principal,
        bbox: str,
        *,
        kinds: tuple[str, ...] = (),
        limit: int = PLACES_LIMIT,
    ) -> dict[str, Any]:
        """Return the gazetteer's points (POIs by default, addresses) inside a small box."""
        box = parse_box(bbox)
        wanted = check_place_kinds(kinds)
        check_limit(limit, PLACES_LIMIT)
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            found = uow.places.in_box(box, wanted, limit + 1)
        return {"bbox": list(box), **place_markers(found, limit)}
