"""The command center's situation over HTTP: cards, open cases per division, the charts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from cityops.auth.model import Principal
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/situation", tags=["command center"])


@router.get("")
def situation(
    request: Request,
    principal: Annotated[Principal, Depends(Require("analytics:read"))],
    division: Annotated[
        str | None,
        Query(
            max_length=15, description="a district, street, community or grid code to drill into"
        ),
    ] = None,
    period: Annotated[str, Query(description="day, week (7 days) or month (30 days)")] = "day",
) -> dict[str, Any]:
    """Cards of the period beside the previous one, and open cases per division one level down.

    Cards: new, closed, open, due soon, overdue, 结案率, 按期结案率, median hours to close,
    satisfaction.
    """
    return services_of(request).situation.summary(principal, division_code=division, period=period)


@router.get("/charts")
def situation_charts(
    request: Request,
    principal: Annotated[Principal, Depends(Require("analytics:read"))],
    division: Annotated[
        str | None,
        Query(
            max_length=15, description="a district, street, community or grid code to drill into"
        ),
    ] = None,
    period: Annotated[str, Query(description="day, week (7 days) or month (30 days)")] = "day",
) -> dict[str, Any]:
    """Return the command center's charts of a scope and period.

    ``series``: cases accepted per hour over the last 24 hours (period ``day``) or per local day
    over the last 30 days, per channel and in all, with the cases closed and closed on time;
    ``top_classes``: the 10 matter classes with the most cases accepted in the period, named;
    ``departments``: open and overdue (red) cases now, closed in the period and 按期结案率 of
    the cases accepted in the period, best rate first; ``channels``: cases accepted per channel.
    """
    return services_of(request).situation.charts(principal, division_code=division, period=period)
