"""Telemetry: devices and datastreams, the observation batch door, time-series queries.

``POST /api/v1/observations`` takes a JSON array, ``{"observations": [...]}`` or CSV lines
(``text/csv``: ``datastream,time,value[,quality]``), at most 10,000 items. The body is parsed with
orjson and checked item by item without a pydantic model per item: a batch is data, not a form.
The answer (200) says how many were stored, already known and refused, with each refusal's
position, field and rule; when every item is refused it is a 422 problem naming them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cityops.auth.model import Principal
from cityops.kernel.errors import FieldIssue, ValidationFailed
from cityops.sensing.decode import MAX_BATCH, csv_items
from cityops.sensing.metrics import metrics
from cityops.sensing.timeseries import Selection
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1", tags=["telemetry"])
MAX_BODY_BYTES = 16 * 1024 * 1024
Read = Annotated[Principal, Depends(Require("telemetry:read"))]
Write = Annotated[Principal, Depends(Require("telemetry:write"))]


def _items(body: bytes, content_type: str) -> list[Any]:
    """Return the batch's items from a JSON or CSV body."""
    if len(body) > MAX_BODY_BYTES:
        raise ValidationFailed.single("body", "max_bytes", f"at most {MAX_BODY_BYTES:,} bytes")
    if content_type.startswith("text/csv") or content_type.startswith("text/plain"):
        try:
            return csv_items(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise ValidationFailed.single("body", "utf8", "CSV must be UTF-8") from None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ValidationFailed.single("body", "json", f"not JSON: {error}") from None
    if isinstance(data, dict):
        data = data.get("observations")
    if not isinstance(data, list):
        raise ValidationFailed.single(
            "observations", "array", 'send a JSON array or {"observations": [...]}'
        )
    return data


@router.post("/observations")
async def post_observations(request: Request, principal: Write) -> Response:
    """Store a batch of readings (JSON or CSV); each item is accepted or refused on its own."""
    body = await request.body()
    items = _items(body, request.headers.get("content-type", "application/json"))
    if len(items) > MAX_BATCH:
        raise ValidationFailed.single(
            "observations", "max_items", f"at most {MAX_BATCH:,} items, got {len(items):,}"
        )
    report = await run_in_threadpool(services_of(request).ingest.ingest, principal, items)
    if items and report.rejected == len(items):
        raise ValidationFailed(
            [FieldIssue(e.field, e.rule, e.message) for e in report.errors[:100]]
        )
    return Response(orjson.dumps(report.as_json()), media_type="application/json")


@router.get("/metrics")
def list_metrics(principal: Read) -> list[dict[str, Any]]:
    """Return the metric catalogue: keys, names, canonical units, ranges, rollup rules."""
    return [
        {
            "key": m.key,
            "name_zh": m.name_zh,
            "name_en": m.name_en,
            "domain": m.domain,
            "unit": m.unit,
            "symbol": m.symbol,
            "minimum": m.minimum,
            "maximum": m.maximum,
            "aggregation": m.aggregation,
            "units": list(m.units),
            "standards": list(m.standards),
        }
        for m in metrics()
    ]


@router.post("/things", status_code=201)
def register_thing(
    request: Request, principal: Write, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Register a device: ``key``, ``name``, optional ``lon``/``lat``, ``properties``."""
    return services_of(request).devices.register_thing(principal, body).as_json()


@router.get("/things")
def list_things(
    request: Request,
    principal: Read,
    division: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$")] = None,
) -> list[dict[str, Any]]:
    """Return the devices (under a division code prefix)."""
    return [
        t.as_json() for t in services_of(request).devices.things(principal, grid_prefix=division)
    ]


@router.get("/things/{ref}")
def get_thing(
    request: Request, principal: Read, ref: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    """Return a device with its datastreams, their newest readings and online state."""
    thing, streams = services_of(request).devices.thing(principal, ref)
    return {
        **thing.as_json(),
        "online": any(s.online for s in streams),
        "datastreams": [s.as_json() for s in streams],
    }


@router.put("/things/{ref}/location")
def move_thing(
    request: Request,
    principal: Write,
    ref: Annotated[str, Path(max_length=64)],
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Move a device: ``{"lon": …, "lat": …}`` (placed on the grid again)."""
    point: list[float] = []
    for name in ("lon", "lat"):
        value = body.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationFailed.single(name, "number", f"{name} is a number")
        point.append(float(value))
    moved = services_of(request).devices.move_thing(principal, ref, point[0], point[1])
    return moved.as_json()


@router.post("/things/{ref}/datastreams", status_code=201)
def add_datastream(
    request: Request,
    principal: Write,
    ref: Annotated[str, Path(max_length=64)],
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Add a datastream: ``metric`` (catalogue key), optional ``key``, range, interval."""
    return services_of(request).devices.add_datastream(principal, ref, body).as_json()


@router.get("/datastreams")
def list_datastreams(request: Request, principal: Read) -> list[dict[str, Any]]:
    """Return every datastream with its newest reading and online state."""
    return [s.as_json() for s in services_of(request).devices.datastreams(principal)]


def _selection(
    datastream: list[str] | None, metric: str | None, thing: str | None, division: str | None
) -> Selection:
    return Selection(
        datastreams=tuple(datastream or ()), metric=metric, thing=thing, division=division
    )


@router.get("/timeseries/latest")
def latest_values(
    request: Request,
    principal: Read,
    datastream: Annotated[list[str] | None, Query()] = None,
    metric: Annotated[str | None, Query(max_length=32)] = None,
    thing: Annotated[str | None, Query(max_length=64)] = None,
    division: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$")] = None,
) -> list[dict[str, Any]]:
    """Return the newest reading of each selected datastream."""
    selection = _selection(datastream, metric, thing, division)
    return services_of(request).timeseries.latest(principal, selection)


@router.get("/timeseries")
def timeseries(
    request: Request,
    principal: Read,
    datastream: Annotated[list[str] | None, Query()] = None,
    metric: Annotated[str | None, Query(max_length=32)] = None,
    thing: Annotated[str | None, Query(max_length=64)] = None,
    division: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$")] = None,
    start: datetime | None = None,
    end: datetime | None = None,
    interval: Annotated[str | None, Query(max_length=8)] = None,
    functions: Annotated[str, Query(max_length=100)] = "avg",
    group_by: Annotated[str, Query(max_length=16)] = "datastream",
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> dict[str, Any]:
    """Return raw readings, or aggregates per ``interval`` (1m, 15m, 1h, 1d, 1w) and group.

    ``functions``: avg, min, max, count, sum, first, last, p50, p90, p95, p98, p99 (comma
    separated); ``group_by``: datastream, grid, community, street, district or all.
    """
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and moment.tzinfo is None:
            raise ValidationFailed.single(name, "offset", f"{name} needs a UTC offset or Z")
    return services_of(request).timeseries.query(
        principal,
        _selection(datastream, metric, thing, division),
        start=start,
        end=end,
        interval=interval,
        functions=[f.strip() for f in functions.split(",") if f.strip()],
        group_by=group_by,
        limit=limit,
    )
