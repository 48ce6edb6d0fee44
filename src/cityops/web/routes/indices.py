"""City indices over HTTP: AQI, noise, water and traffic per station or division, for the map.

Every route needs ``telemetry:read``; a caller sees the stations of the grids its scope covers
(checked per datastream by the time-series service). Times take an offset (``Z`` or ``+08:00``);
a day is a local calendar day (``YYYY-MM-DD``). What each answer holds, and why, is in
docs/air-quality.md ("City indices from stored readings"); the computations are
:class:`cityops.sensing.indices.CityIndexService`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from cityops.auth.model import Principal
from cityops.kernel.errors import ValidationFailed
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/indices", tags=["indices"])
Read = Annotated[Principal, Depends(Require("telemetry:read"))]
Station = Annotated[str | None, Query(max_length=64)]
Division = Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$")]
GroupBy = Annotated[str, Query(max_length=16)]


def _aware(name: str, moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ValidationFailed.single(name, "offset", f"{name} needs a UTC offset or Z")
    return moment


@router.get("/air")
def air(
    request: Request,
    principal: Read,
    report: Annotated[str, Query(max_length=8)] = "hourly",
    at: datetime | None = None,
    day: date | None = None,
    station: Station = None,
    division: Division = None,
    group_by: GroupBy = "station",
    standard: Annotated[str, Query(max_length=16)] = "HJ633-2026",
) -> dict[str, Any]:
    """Return the AQI per station or division (HJ 633), the concentrations and their validity.

    ``report=hourly`` (实时报): the 1 h means of the hour ending at ``at`` (default: the last
    whole hour). ``report=daily`` (日报): the 24 h means and the O₃ daily maximum 8 h average of
    ``day`` (or the local day of ``at``; default yesterday). ``group_by``: station, grid,
    community, street or district; a division's concentrations are the means of its stations'.
    ``standard``: HJ633-2026 (default) or HJ633-2012.

    Answer: ``{"report", "standard", "at"|"day", "start", "end", "group_by", "items": [...]}``;
    each item has ``station`` (or ``division``, ``level``, ``stations``), its point and
    divisions, ``concentrations`` per indicator (null: not valid), ``validity`` per indicator
    (``valid``, ``hours``/``windows``/``stations``, ``required``), ``aqi`` (the AQI report:
    ``aqi`` and ``level`` null when NA, ``category``, ``color``, ``primary_pollutants``,
    ``iaqi``, ``missing``) and ``color`` for the map.
    """
    return services_of(request).indices.air(
        principal,
        report=report,
        at=_aware("at", at),
        day=day,
        station=station,
        division=division,
        group_by=group_by,
        standard=standard,
    )


@router.get("/noise")
def noise(
    request: Request,
    principal: Read,
    day: date | None = None,
    station: Station = None,
    division: Division = None,
    group_by: GroupBy = "station",
) -> dict[str, Any]:
    """Return day (Ld) and night (Ln) levels of a local day per monitor, against its zone.

    ``day`` defaults to yesterday. Answer: ``{"day", "start", "end", "group_by", "items"}``; a
    monitor's item has ``zone`` (``properties.noise_zone``, default 2), ``ld``, ``ln``, ``ldn``
    (dB(A), one decimal; null without readings in the period), ``hours`` per period, the
    ``assessment`` (limits, measured, over, complies) and ``exceedance`` per period (dB over
    the limit, 0 when it complies); a division's has ``ld_mean``, ``ln_mean`` and per period
    ``assessed``, ``compliant`` and ``rate``.
    """
    return services_of(request).indices.noise(
        principal,
        day=day,
        station=station,
        division=division,
        group_by=group_by,
    )


@router.get("/water")
def water(
    request: Request,
    principal: Read,
    at: datetime | None = None,
    day: date | None = None,
    station: Station = None,
    division: Division = None,
    group_by: GroupBy = "station",
) -> dict[str, Any]:
    """Return each water station's values and GB 3838 class (水质类别), or per division.

    No ``at``/``day``: the newest reading of each parameter; ``at``: the newest in the 24 whole
    hours before it; ``day``: the local day's means. A station's item has ``waterbody``,
    ``target_class`` (its properties), ``values`` per metric (``value``, ``time``), the
    ``assessment`` (``class``, ``deciding``, ``meets_target``, ``exceeding`` …) and ``color``;
    a division's has ``assessed``, ``classes`` (stations per class), ``good_share`` (I–III)
    and ``worst``.
    """
    return services_of(request).indices.water(
        principal,
        at=_aware("at", at),
        day=day,
        station=station,
        division=division,
        group_by=group_by,
    )


@router.get("/traffic")
def traffic(
    request: Request, principal: Read, at: datetime | None = None, division: Division = None
) -> dict[str, Any]:
    """Return each link's level and the network index (TPI, 0–10) of the 15 minutes before at.

    Links are things with a ``traffic_speed`` datastream and ``properties.road_class`` and
    ``properties.link_length_km``. Answer: ``{"at", "start", "profile", "verified", "links",
    "network", "reason"}``; ``verified`` is false while the thresholds come from an unverified
    profile; ``network`` is null (with a ``reason``) when no link has a speed.
    """
    return services_of(request).indices.traffic(principal, at=_aware("at", at), division=division)
