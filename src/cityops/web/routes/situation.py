"""The command center's situation over HTTP: cards and open cases per division."""

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
