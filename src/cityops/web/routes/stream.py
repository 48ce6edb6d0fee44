"""The live event feed as Server-Sent Events, resumable from the last event id.

``GET /api/v1/events/stream`` sends every domain event after ``Last-Event-ID`` (the header a
browser's EventSource sends when it reconnects) or ``?after=``, as ``id:``/``event:``/``data:``
frames, then keeps the connection open and sends new events as they are committed (checked every
``poll`` seconds), with a comment line as a heartbeat so proxies keep the connection. ``?limit=``
ends the stream after that many events and ``?idle=`` after that many seconds without one (for
scripts and tests); a browser leaves both unset.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from cityops.auth.model import Principal
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.events import StoredEvent
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1", tags=["events"])
MAX_ID = 2**62
BATCH = 200
HEARTBEAT_SECONDS = 15.0
RETRY_MILLISECONDS = 2000


def frame(event: StoredEvent) -> str:
    """Return one SSE frame for an event."""
    data = {
        "id": event.id,
        "type": event.type,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "payload": event.payload,
        "occurred_at": event.occurred_at.isoformat(),
    }
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _start(after: int | None, last_event_id: str | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        value = last_event_id.strip()
        if not value.isascii() or not value.isdigit() or int(value) > MAX_ID:
            raise ValidationFailed.single("Last-Event-ID", "event_id", "a whole event id")
        return int(value)
    return after or 0


@router.get("/events/stream", response_class=StreamingResponse)
async def stream_events(
    request: Request,
    principal: Annotated[Principal, Depends(Require("events:read"))],
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Start after this id")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="Stop after N events")] = None,
    idle: Annotated[float | None, Query(gt=0, le=3600, description="Stop after N idle seconds")] = (
        None
    ),
    poll: Annotated[float, Query(ge=0.05, le=10)] = 0.25,
) -> StreamingResponse:
    """Stream domain events (text/event-stream); reconnecting resumes after Last-Event-ID."""
    services = services_of(request)
    cursor = _start(after, last_event_id)

    def read(position: int) -> list[StoredEvent]:
        with services.store.unit_of_work(read_only=True) as uow:
            return uow.outbox.events_after(position, BATCH)

    async def frames() -> AsyncIterator[str]:
        position, sent = cursor, 0
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        quiet_since = last_beat = time.monotonic()
        while True:
            events = await run_in_threadpool(read, position)
            for event in events:
                yield frame(event)
                position, sent = event.id, sent + 1
                if limit is not None and sent >= limit:
                    return
            now = time.monotonic()
            if events:
                quiet_since = last_beat = now
                continue
            if idle is not None and now - quiet_since >= idle:
                return
            if now - last_beat >= HEARTBEAT_SECONDS:
                last_beat = now
                yield ": heartbeat\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(poll)

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
