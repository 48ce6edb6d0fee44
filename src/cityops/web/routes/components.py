"""Components (管理部件) and the gazetteer: import, read, nearest, resolve text to a place."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from cityops.auth.model import Principal
from cityops.catalog.components import ComponentImportReport
from cityops.catalog.reference import component_classes, matter_classes
from cityops.geo.places import PlaceImportReport
from cityops.kernel.errors import FieldIssue, ValidationFailed
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1", tags=["components", "places"])
ClassCode = Annotated[str | None, Query(pattern=r"^[0-9]{5}$")]
MAX_ROWS = 50_000


def _rows_from_body(body: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
    """Accept a GeoJSON FeatureCollection of points or a plain JSON array of rows."""
    if isinstance(body, list):
        rows = body
    elif body.get("type") == "FeatureCollection" and isinstance(body.get("features"), list):
        rows = []
        for feature in body["features"]:
            if not isinstance(feature, dict):
                rows.append({})
                continue
            properties = dict(feature.get("properties") or {})
            geometry = feature.get("geometry") or {}
            if isinstance(geometry, dict) and geometry.get("type") == "Point":
                coordinates = geometry.get("coordinates") or [None, None]
                properties.setdefault("lon", coordinates[0] if coordinates else None)
                properties.setdefault("lat", coordinates[1] if len(coordinates) > 1 else None)
            else:
                properties.setdefault("geometry", geometry or None)
            rows.append(properties)
    else:
        raise ValidationFailed.single("body", "rows", "send a JSON array or a FeatureCollection")
    if len(rows) > MAX_ROWS:
        raise ValidationFailed.single("body", "max_items", f"at most {MAX_ROWS:,} rows")
    return [r if isinstance(r, dict) else {} for r in rows]


def _summary_or_refusal(report: ComponentImportReport | PlaceImportReport) -> dict[str, Any]:
    """Return the import's summary, or a 422 naming every refused row when nothing was written."""
    if not report.written:
        raise ValidationFailed(
            [FieldIssue(f"rows[{i.row}].{i.field}", i.rule, i.message) for i in report.issues]
        )
    return report.summary()


@router.get("/catalog/components", tags=["catalog"])
def list_component_classes(
    principal: Annotated[Principal, Depends(Require("geo:read"))],
) -> list[dict[str, Any]]:
    """Return the GB/T 47678.5-2026 component classes (153)."""
    return [
        {"code": c.code, "name": c.name, "major_code": c.major_code, "major_name": c.major_name}
        for c in component_classes().values()
    ]


@router.get("/catalog/matters", tags=["catalog"])
def list_matter_classes(
    principal: Annotated[Principal, Depends(Require("geo:read"))],
) -> list[dict[str, Any]]:
    """Return the GB/T 47678.5-2026 matter classes (250)."""
    return [
        {
            "code": m.code,
            "name": m.name,
            "major_code": m.major_code,
            "major_name": m.major_name,
            "component_code": m.component_code or None,
        }
        for m in matter_classes().values()
    ]


@router.post("/components/import", status_code=201)
def import_components(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:write"))],
    body: Annotated[dict[str, Any] | list[Any], Body()],
    skip_invalid: bool = False,
) -> dict[str, Any]:
    """Import components (rows with 表2 attributes and lon/lat); atomic unless skip_invalid."""
    report = services_of(request).components.import_rows(
        principal, _rows_from_body(body), skip_invalid=skip_invalid
    )
    return _summary_or_refusal(report)


@router.get("/components")
def list_components(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
    grid_code: Annotated[str | None, Query(pattern=r"^[0-9A-Z]{15}$")] = None,
    class_code: ClassCode = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    """List components by grid and class."""
    found = services_of(request).components.find(
        principal, grid_code=grid_code, class_code=class_code, limit=limit, offset=offset
    )
    return [c.as_json() for c in found]


@router.get("/components/nearest")
def nearest_components(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    class_code: ClassCode = None,
    within_m: Annotated[float, Query(gt=0, le=5000)] = 100.0,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
) -> list[dict[str, Any]]:
    """Return the nearest components ("which manhole cover is this report about?")."""
    found = services_of(request).components.nearest(
        principal, lon, lat, class_code=class_code, within_m=within_m, limit=limit
    )
    return [{**c.as_json(), "distance_m": round(d, 1)} for c, d in found]


@router.get("/components/{component_id}")
def get_component(
    component_id: Annotated[str, Path(pattern=r"^[0-9]{17}$")],
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
) -> dict[str, Any]:
    """Return one component."""
    return services_of(request).components.get(principal, component_id).as_json()


@router.post("/places/import", status_code=201)
def import_places(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:write"))],
    body: Annotated[dict[str, Any] | list[Any], Body()],
    skip_invalid: bool = False,
) -> dict[str, Any]:
    """Import roads (lines), addresses and POIs (points) into the gazetteer."""
    report = services_of(request).gazetteer.import_rows(
        principal, _rows_from_body(body), skip_invalid=skip_invalid
    )
    return _summary_or_refusal(report)


@router.get("/places/resolve")
def resolve_place(
    request: Request,
    principal: Annotated[Principal, Depends(Require("geo:read"))],
    text: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")],
) -> dict[str, Any]:
    """Resolve location text to a point, a confidence and a grid — or not found + candidates."""
    resolution, location = services_of(request).gazetteer.resolve(principal, text)
    return {**resolution.as_json(), "location": location.as_json() if location else None}
