"""The audit log (admins) and the domain-event feed (integrators, analysts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from cityops.auth.model import Principal
from cityops.kernel.audit import AuditFilter
from cityops.web.schemas import AuditEntryOut, AuditPage, EventOut, EventPage, UtcDatetime
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1", tags=["audit"])
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
FilterText = Annotated[str | None, Query(max_length=128, pattern=_PRINTABLE)]
MAX_ID = 2**62


@router.get("/audit", response_model=AuditPage)
def read_audit(
    request: Request,
    principal: Annotated[Principal, Depends(Require("audit:read"))],
    actor: FilterText = None,
    action: FilterText = None,
    object_type: FilterText = None,
    object_id: FilterText = None,
    since: UtcDatetime | None = None,
    until: UtcDatetime | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Read the audit log, newest first, filtered by actor, action, object or time."""
    entries = services_of(request).audit.query(
        principal,
        AuditFilter(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            since=since,
            until=until,
            before_id=before_id,
            limit=limit,
        ),
    )
    next_before = entries[-1].id if len(entries) == limit else None
    return AuditPage(items=[AuditEntryOut.of(e) for e in entries], next_before_id=next_before)


@router.get("/events", response_model=EventPage, tags=["events"])
def read_events(
    request: Request,
    principal: Annotated[Principal, Depends(Require("events:read"))],
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    """Read domain events after an id, oldest first (poll with ``after=last_id``)."""
    with services_of(request).store.unit_of_work(read_only=True) as uow:
        events = uow.outbox.events_after(after, limit)
    return EventPage(
        items=[EventOut.of(e) for e in events], last_id=events[-1].id if events else after
    )
