"""The command center's situation over HTTP: cards, open cases per division, charts, the map."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from cityops.auth.model import Principal
from cityops.cases.situation_map import COMPONENTS_LIMIT, MAP_CASES_LIMIT, PLACES_LIMIT
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/situation", tags=["command center"])
Analyst = Annotated[Principal, Depends(Require("analytics:read"))]
Division = Annotated[
    str | None,
    Query(max_length=15, description="a district, street, community or grid code to drill into"),
]
Period = Annotated[str, Query(description="day, week (7 days) or month (30 days)")]


@router.get("")
def situation(
    request: Request,
    principal: Analyst,
    division: Division = None,
    period: Period = "day",
) -> dict[str, Any]:
    """Cards of the period beside the previous one, and open cases per division one level down.

    Cards: new, closed, open, due soon, overdue, 结案率, 按期结案率, median hours to close,
    satisfaction. ``children``: open, yellow and red cases per child division that has any;
    ``areas``: every child division's ``area_m2`` and open cases per km² (``open_per_km2``).
    """
    return services_of(request).situation.summary(principal, division_code=division, period=period)


@router.get("/charts")
def situation_charts(
    request: Request,
    principal: Analyst,
    division: Division = None,
    period: Period = "day",
) -> dict[str, Any]:
    """Return the command center's charts of a scope and period.

    ``series``: cases accepted per hour over the last 24 hours (period ``day``) or per local day
    over the last 30 days, per channel and in all, with the cases closed and closed on time;
    ``top_classes``: the 10 matter classes with the most cases accepted in the period, named;
    ``departments``: open and overdue (red) cases now, closed in the period and 按期结案率 of
    the cases accepted in the period, best rate first; ``channels``: cases accepted per channel.
    """
    return services_of(request).situation.charts(principal, division_code=division, period=period)


@router.get("/cases")
def situation_cases(
    request: Request,
    principal: Analyst,
    division: Division = None,
    limit: Annotated[
        int, Query(ge=1, le=MAP_CASES_LIMIT, description="at most this many markers")
    ] = MAP_CASES_LIMIT,
) -> dict[str, Any]:
    """Return the open cases of the scope as map markers, the most urgent first.

    Each item: ``number``, ``lon``, ``lat``, the live ``light`` (``red``, ``yellow``, ``green``,
    or ``null`` before dispatch), ``matter`` (code and name), ``status`` and ``status_label``.
    Only cases with a point that you may find in the case search (``cases:read`` scopes);
    red first, then yellow, green and none, newest first within a light. ``truncated`` is true
    when more than ``limit`` match (``total`` says how many).
    """
    return services_of(request).situation.cases_on_map(
        principal, division_code=division, limit=limit
    )


Bbox = Annotated[
    str,
    Query(
        max_length=100,
        description="min_lon,min_lat,max_lon,max_lat; at most 0.1° a side",
    ),
]


@router.get("/components")
def situation_components(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
    bbox: Bbox,
    limit: Annotated[int, Query(ge=1, le=COMPONENTS_LIMIT)] = COMPONENTS_LIMIT,
) -> dict[str, Any]:
    """Return the components (管理部件) inside a small box for the map's layer, by id, capped."""
    return services_of(request).situation.components_in_box(principal, bbox, limit=limit)


@router.get("/places")
def situation_places(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
    bbox: Bbox,
    kind: Annotated[
        list[str] | None, Query(description="poi (the default) and/or address; repeatable")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PLACES_LIMIT)] = PLACES_LIMIT,
) -> dict[str, Any]:
    """Return the gazetteer's points (POIs, addresses) inside a small box, by id, capped."""
    return services_of(request).situation.places_in_box(
        principal, bbox, kinds=tuple(kind or ()), limit=limit
    )
