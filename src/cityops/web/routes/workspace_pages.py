"""Workspace pages: each role's queue (工作台), intake (受理), the case page, the public status.

The pages are shells: their scripts (``static/work.js``, ``intake.js``, ``case.js``) read and act
through this server's JSON API with the browser's session cookie and the CSRF header, so every
check stays where it is for API clients. What a page offers (tabs, bulk actions, buttons) follows
the caller's grants; the API refuses anything else anyway.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from cityops.auth.model import Principal
from cityops.cases.listing import ROLE_QUEUES
from cityops.cases.queries import Queue
from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.web.routes.pages import redirect_to_login, render_page
from cityops.web.security import RequireOrAnonymous, services_of

router = APIRouter(include_in_schema=False)

# The scripts' messages: the catalogue keys under these prefixes are embedded in the page.
SCRIPT_MESSAGES = ("ws.", "status.", "cmd.", "light.", "channel.", "urgency.", "queue.", "role.")
CHANNELS = ("hotline", "web", "app", "patroller", "sensor", "ai_detection", "enterprise")
APPEAL_TYPES = ("consult", "help", "complaint", "report", "suggestion")


def queues_of(principal: Principal) -> list[str]:
    """Return the queues of the principal's roles, in the order of their grants."""
    found: list[str] = []
    for grant in principal.grants:
        queue = ROLE_QUEUES.get(grant.role)
        if queue is not None and queue.value not in found:
            found.append(queue.value)
    return found or [Queue.COMMAND.value]


def _page(request: Request, template: str, principal: Principal, **context: object) -> Response:
    services = services_of(request)
    return render_page(
        request,
        template,
        200,
        script_messages=SCRIPT_MESSAGES,
        can=sorted({p for g in principal.grants for p in g.permissions}),
        map_tile_url=services.settings.map_tile_url or "",
        map_tile_attribution=services.settings.map_tile_attribution,
        **context,
    )


@router.get("/work", response_class=HTMLResponse)
def workspace(
    request: Request,
    principal: Annotated[Principal | None, Depends(RequireOrAnonymous("cases:read"))],
) -> Response:
    """Show the caller's work lists (工作台), one tab per role's queue."""
    if principal is None:
        return redirect_to_login(request)
    queues = queues_of(principal)
    asked = request.query_params.get("queue")
    return _page(
        request,
        "work.html",
        principal,
        queues=queues,
        queue=asked if asked in queues else queues[0],
    )


@router.get("/intake", response_class=HTMLResponse)
def intake_form(
    request: Request,
    principal: Annotated[Principal | None, Depends(RequireOrAnonymous("cases:create"))],
) -> Response:
    """Show the intake form (受理): text, place on the map, photos, live suggestions."""
    if principal is None:
        return redirect_to_login(request)
    return _page(request, "intake.html", principal, channels=CHANNELS, appeal_types=APPEAL_TYPES)


@router.get("/cases/{ref}", response_class=HTMLResponse)
def case_page(
    request: Request,
    ref: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal | None, Depends(RequireOrAnonymous("cases:read"))],
) -> Response:
    """Show one case: its state, deadline and light, place, photos, timeline and your moves."""
    if principal is None:
        return redirect_to_login(request)
    # The script asks the API for the case; an unknown or malformed number is answered there.
    return _page(request, "case.html", principal, ref=ref)


@router.get("/status", response_class=HTMLResponse)
def public_status(
    request: Request,
    number: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Show a citizen where their case is, by its number (no sign-in, nothing personal)."""
    if not number:
        return render_page(request, "status.html")
    try:
        found = services_of(request).public_status.lookup(number)
    except (NotFound, ValidationFailed):
        return render_page(request, "status.html", 404, number=number, missing=True)
    return render_page(request, "status.html", number=number, case=found)
