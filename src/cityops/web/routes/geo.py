"""Geography: locate points, read/import/export divisions and grids, grid responsibility."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cityops.auth.model import Principal
from cityops.geo.codes import Level
from cityops.geo.divisions import division_feature, feature_collection
from cityops.geo.files import PropertyMapping, read_geojson
from cityops.geo.locate import check_point
from cityops.geo.model import FeatureIssue
from cityops.kernel.errors import FieldIssue, ValidationFailed
from cityops.web.schemas import Code, UtcDatetime
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/geo", tags=["geo"])
GEOJSON = "application/geo+json"
DivisionCode = Annotated[str, Path(min_length=6, max_length=15, pattern=r"^[0-9A-Z]+$")]
MAX_POINTS_PER_REQUEST = 10_000


class LocationOut(BaseModel):
    """Where a point falls (nulls outside every grid)."""

    grid_id: str | None
    grid_name: str | None
    community: dict[str, str] | None
    street: dict[str, str] | None
    district: dict[str, str] | None


class PointsIn(BaseModel):
    """Points as ``[lon, lat]`` pairs."""

    points: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        max_length=MAX_POINTS_PER_REQUEST
    )


class LocationsOut(BaseModel):
    """One location per point, in order."""

    results: list[LocationOut]


class WorkerIn(BaseModel):
    """A grid worker to add."""

    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")]


class UnitIn(BaseModel):
    """The unit responsible in a grid for a matter class or a department (null clears it)."""

    key_kind: Annotated[str, Field(pattern=r"^(matter|department)$")]
    key: Code
    unit_code: Code | None


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not (values[0] <= values[2] and values[1] <= values[3]):
        raise ValidationFailed.single(
            "bbox", "bbox_format", "use min_lon,min_lat,max_lon,max_lat with min ≤ max"
        )
    check_point(values[0], values[1], field="bbox")
    check_point(values[2], values[3], field="bbox")
    return values


@router.get("/locate", response_model=LocationOut)
def locate(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    at: UtcDatetime | None = None,
) -> dict[str, object]:
    """Return the grid, community, street and district of a point (now, or at a past time)."""
    locations = services_of(request).locations
    found = (
        locations.locate(principal, lon, lat)
        if at is None
        else locations.locate_at(principal, lon, lat, at)
    )
    return found.as_json()


@router.post("/locate", response_model=LocationsOut)
def locate_many(
    body: PointsIn,
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
) -> dict[str, object]:
    """Locate up to 10,000 points in one call."""
    for i, (lon, lat) in enumerate(body.points):
        check_point(lon, lat, field=f"points[{i}]")
    found = services_of(request).locations.locate_many(
        principal, [p[0] for p in body.points], [p[1] for p in body.points]
    )
    return {"results": [f.as_json() for f in found]}


@router.get("/divisions", response_class=JSONResponse)
def list_divisions(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
    level: Level | None = None,
    parent_code: Annotated[str | None, Query(max_length=15, pattern=r"^[0-9A-Z]+$")] = None,
    code_prefix: Annotated[str | None, Query(max_length=15, pattern=r"^[0-9A-Z]+$")] = None,
    bbox: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=20_000)] = 5_000,
) -> JSONResponse:
    """Return current divisions as GeoJSON, filtered by level, parent, prefix and bbox."""
    found = services_of(request).divisions.find(
        principal,
        level=level,
        parent_code=parent_code,
        code_prefix=code_prefix,
        bbox=_bbox(bbox),
        limit=limit,
    )
    return JSONResponse(feature_collection(found), media_type=GEOJSON)


@router.get("/divisions/{code}", response_class=JSONResponse)
def get_division(
    code: DivisionCode,
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
    at: UtcDatetime | None = None,
) -> JSONResponse:
    """Return one division as a GeoJSON Feature (the current version, or the one at ``at``)."""
    found = services_of(request).divisions.get(principal, code, at)
    return JSONResponse(division_feature(found), media_type=GEOJSON)


@router.get("/divisions/{code}/history", response_class=JSONResponse)
def division_history(
    code: DivisionCode,
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
) -> JSONResponse:
    """Return every version of a division, oldest first, with valid_from/valid_to."""
    versions = services_of(request).divisions.history(principal, code)
    return JSONResponse(feature_collection(versions), media_type=GEOJSON)


def _issues_error(issues: list[FeatureIssue]) -> ValidationFailed:
    return ValidationFailed(
        [
            FieldIssue(
                f"features[{i.index}].{i.field}",
                i.rule,
                f"{i.code}: {i.message}" if i.code else i.message,
            )
            for i in issues
        ]
    )


@router.post("/divisions/import", status_code=201)
def import_divisions(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:write"))],
    collection: Annotated[dict[str, Any], Body(description="a GeoJSON FeatureCollection")],
    level: Level | None = None,
    mapping: Annotated[str | None, Query(max_length=200)] = None,
    skip_invalid: bool = False,
) -> dict[str, object]:
    """Import divisions or grids; atomic unless ``skip_invalid`` (then bad features are listed)."""
    inputs, issues = read_geojson(collection, PropertyMapping.parse(mapping))
    if issues and not skip_invalid:
        raise _issues_error(issues)
    report = services_of(request).divisions.import_divisions(
        principal, inputs, level=level, skip_invalid=skip_invalid
    )
    report.issues = issues + report.issues
    if not report.written:
        raise _issues_error(report.issues)
    return report.summary()


@router.get("/check")
def check(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
    parent_code: Annotated[str | None, Query(max_length=15, pattern=r"^[0-9A-Z]+$")] = None,
) -> dict[str, object]:
    """Report gaps and overlaps between sibling divisions and children outside their parent."""
    issues = services_of(request).divisions.check(principal, parent_code=parent_code)
    return {"issues": [i.as_json() for i in issues], "count": len(issues)}


@router.get("/grids/{code}/responsibility")
def responsibility(
    code: DivisionCode,
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
) -> dict[str, object]:
    """Return a grid's workers and responsible units."""
    return services_of(request).responsibility.get(principal, code).as_json()


@router.post("/grids/{code}/workers", status_code=201)
def add_worker(
    code: DivisionCode,
    body: WorkerIn,
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:write"))],
) -> dict[str, object]:
    """Assign a grid worker (a user with the patroller role)."""
    found = services_of(request).responsibility.assign_worker(principal, code, body.username)
    return found.as_json()


@router.delete("/grids/{code}/workers/{username}")
def remove_worker(
    code: DivisionCode,
    username: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")],
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:write"))],
) -> dict[str, object]:
    """Unassign a grid worker."""
    found = services_of(request).responsibility.assign_worker(
        principal, code, username, remove=True
    )
    return found.as_json()


@router.put("/grids/{code}/units")
def set_unit(
    code: DivisionCode,
    body: UnitIn,
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:write"))],
) -> dict[str, object]:
    """Set or clear the unit responsible in the grid for a matter class or a department."""
    found = services_of(request).responsibility.set_unit(
        principal, code, key_kind=body.key_kind, key=body.key, unit_code=body.unit_code
    )
    return found.as_json()
