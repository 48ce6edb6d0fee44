"""The OGC SensorThings API v1.1 at ``/sta/v1.1/``: read and create, with PATCH and PUT.

Everything below the service root is one resource path (``Things(1)/Datastreams``), so one route
per method takes the path whole and :class:`cityops.sensing.sta_service.StaService` resolves it.
Reads need ``telemetry:read``, writes ``telemetry:write``; SensorThings clients send an
``X-API-Key`` (or a bearer token). A create answers 201 with the new entity and its URL in
``Location``; ``CreateObservations`` answers 201 with a selfLink or an error per row; errors are
problem+json naming the field (or the query option) and the rule. Links in the answers are
absolute, built from the request's own URL. The resource-path routes are left out of the
OpenAPI description (a path converter it cannot express; 18-088 describes them): the service
root and ``CreateObservations`` are in it.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cityops.auth.model import Principal
from cityops.kernel.errors import ValidationFailed
from cityops.sensing.sta_paths import MethodNotAllowed
from cityops.web.security import Require, services_of

ROOT = "/sta/v1.1"
router = APIRouter(prefix=ROOT, tags=["sensorthings"])
MAX_BODY_BYTES = 16 * 1024 * 1024
JSON_PATCH = "application/json-patch+json"
Read = Annotated[Principal, Depends(Require("telemetry:read"))]
Write = Annotated[Principal, Depends(Require("telemetry:write"))]
ResourcePathText = Annotated[str, Path(max_length=2000, description="e.g. Things(1)/Datastreams")]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + ROOT


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def _params(request: Request) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in params and name.startswith("$"):
            raise ValidationFailed.single(name, "duplicate", f"{name} is given more than once")
        params.setdefault(name, value)
    return params


async def _body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ValidationFailed.single("body", "max_bytes", f"at most {MAX_BODY_BYTES:,} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ValidationFailed.single("body", "json", f"not JSON: {error}") from None


@router.get("")
def service_root(request: Request, principal: Read) -> Response:
    """Return the service root: the entity sets and the server's conformance classes."""
    return _json(services_of(request).sta.root(_base(request)))


@router.post("/CreateObservations", status_code=201)
async def create_observations(request: Request, principal: Write) -> Response:
    """Store Observations given as dataArray groups; answer a selfLink or an error per row."""
    body = await _body(request)
    service = services_of(request).sta
    links = await run_in_threadpool(service.create_observations, principal, body, _base(request))
    return _json(links, 201)


@router.get("/{path:path}", include_in_schema=False)
async def read(request: Request, principal: Read, path: ResourcePathText) -> Response:
    """Read a collection, an entity, a property (``/$value``) or links (``/$ref``).

    Collections take $filter, $orderby, $top, $skip, $count, $select, $expand and, on
    Observations, $resultFormat=dataArray.
    """
    service = services_of(request).sta
    answer = await run_in_threadpool(
        service.read, principal, path, _params(request), _base(request)
    )
    if answer.raw is not None:
        return Response(answer.raw, media_type="text/plain; charset=utf-8")
    return _json(answer.body)


@router.post("/{path:path}", include_in_schema=False, status_code=201)
async def create(request: Request, principal: Write, path: ResourcePathText) -> Response:
    """Create an entity (deep insert included); ``Location`` names it."""
    body = await _body(request)
    service = services_of(request).sta
    link, entity = await run_in_threadpool(service.create, principal, path, body, _base(request))
    return _json(entity, 201, {"Location": link})


async def _update(request: Request, principal: Principal, path: str, *, put: bool) -> Response:
    content_type = request.headers.get("content-type", "application/json")
    json_patch = not put and content_type.split(";")[0].strip() == JSON_PATCH
    body = await _body(request)
    service = services_of(request).sta
    entity = await run_in_threadpool(
        lambda: service.update(principal, path, body, _base(request), json_patch=json_patch)
    )
    return _json(entity)


@router.patch("/{path:path}", include_in_schema=False)
async def patch(request: Request, principal: Write, path: ResourcePathText) -> Response:
    """Change an entity: the properties to replace (JSON) or a JSON Patch (RFC 6902)."""
    return await _update(request, principal, path, put=False)


@router.put("/{path:path}", include_in_schema=False)
async def put(request: Request, principal: Write, path: ResourcePathText) -> Response:
    """Change an entity with a whole body (read like a PATCH of the properties it gives)."""
    return await _update(request, principal, path, put=True)


@router.delete("/{path:path}", include_in_schema=False)
def delete(principal: Write, path: ResourcePathText) -> Response:
    """Refuse deleting (405): readings and devices are kept."""
    raise MethodNotAllowed("this server does not delete SensorThings entities")
