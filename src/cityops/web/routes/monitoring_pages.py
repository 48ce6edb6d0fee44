"""Monitoring pages: the overview (监测总览), a device's page and the alert queue (告警).

The overview is a page of its own, ``/monitor``, rather than a panel inside ``/command``: the
command center's one map is about cases (shading, drill-down, case markers) and fills a wall
screen already, while monitoring needs a map of stations and divisions coloured by index, the
alert levels and the devices. Both pages share the look of the dashboard (cards, one map,
ECharts) and link to each other through the top bar.

Like the workspace pages these are shells: their scripts (``static/monitor.js`` with
``monitor_map.js``, ``device.js``, ``alerts.js``) read and act through the JSON API with the
browser's session cookie and the CSRF header, so the API checks every permission and scope (a
caller whose ``telemetry:read`` covers some grids sees those stations only). What a page offers
follows the caller's grants: the alert panel needs ``alerts:read``, the acknowledge and resolve
buttons ``alerts:manage``, the live updates ``events:read`` (without it the pages poll).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from cityops.auth.model import Principal
from cityops.web.routes.pages import redirect_to_login, render_page
from cityops.web.security import RequireOrAnonymous, services_of

router = APIRouter(include_in_schema=False)

# The scripts' messages: the catalogue keys under these prefixes are embedded in the page.
SCRIPT_MESSAGES = ("monitor.", "device.", "alerts.", "ws.failed", "ws.allowed")
# How often the pages read again when they cannot follow the live feed (no ``events:read``).
POLL_SECONDS = 30
# The overview reads the indices again this often (readings arrive all the time, events do not).
REFRESH_SECONDS = 60
# The alert queue's filters, as GET /api/v1/alerts reads them.
ALERT_STATUSES = ("open", "raised", "acknowledged", "resolved", "all")
ALERT_LEVELS = ("I", "II", "III", "IV")


def _page(request: Request, template: str, principal: Principal, **context: object) -> Response:
    services = services_of(request)
    can = sorted({p for g in principal.grants for p in g.permissions})
    with services.store.unit_of_work(read_only=True) as uow:
        newest_event = uow.outbox.last_event_id()  # live updates are what happens from now on
    return render_page(
        request,
        template,
        200,
        script_messages=SCRIPT_MESSAGES,
        can=can,
        events_after=newest_event,
        live="on" if "events:read" in can else "off",
        poll_seconds=POLL_SECONDS,
        refresh_seconds=REFRESH_SECONDS,
        map_tile_url=services.settings.map_tile_url or "",
        map_tile_attribution=services.settings.map_tile_attribution,
        **context,
    )


@router.get("/monitor", response_class=HTMLResponse)
def monitor(
    request: Request,
    principal: Annotated[Principal | None, Depends(RequireOrAnonymous("telemetry:read"))],
) -> Response:
    """Show the monitoring overview: AQI on the map, noise, water, traffic, alerts, devices."""
    if principal is None:
        return redirect_to_login(request)
    return _page(request, "monitor.html", principal)


@router.get("/devices/{key}", response_class=HTMLResponse)
def device(
    request: Request,
    key: Annotated[str, Path(min_length=1, max_length=64)],
    principal: Annotated[Principal | None, Depends(RequireOrAnonymous("telemetry:read"))],
) -> Response:
    """Show one device: its datastreams' latest values, online state and charts."""
    if principal is None:
        return redirect_to_login(request)
    # The script asks the API for the device; an unknown key is answered there.
    return _page(request, "device.html", principal, key=key)


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(
    request: Request,
    principal: Annotated[Principal | None, Depends(RequireOrAnonymous("alerts:read"))],
) -> Response:
    """Show the alert queue (告警) with filters, and acknowledge/resolve for alerts:manage."""
    if principal is None:
        return redirect_to_login(request)
    status = request.query_params.get("status", "open")
    level = request.query_params.get("level", "")
    return _page(
        request,
        "alerts.html",
        principal,
        chosen_status=status if status in ALERT_STATUSES else "open",
        chosen_level=level if level in ALERT_LEVELS else "",
    )
