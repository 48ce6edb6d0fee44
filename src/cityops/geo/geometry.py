"""Geometry checks and measures: polygons in lon/lat (WGS-84 / CGCS2000), geodesic areas."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

_GEOD = Geod(ellps="WGS84")
_M_PER_DEGREE = 111_320.0  # CGCS2000's ellipsoid differs from WGS-84's by < 0.1 mm
POLYGONAL = ("Polygon", "MultiPolygon")


def geometry_problem(geometry: BaseGeometry | None) -> tuple[str, str] | None:
    """Return ``(rule, message)`` for an unusable division geometry, or None when it is fine.

    Nothing is repaired: an invalid polygon is reported with shapely's reason.
    """
    if geometry is None:
        return "geometry_required", "the feature has no geometry"
    if geometry.geom_type not in POLYGONAL:
        return "geometry_type", f"must be a Polygon or MultiPolygon, not {geometry.geom_type}"
    if geometry.is_empty:
        return "geometry_empty", "the polygon is empty"
    min_x, min_y, max_x, max_y = geometry.bounds
    if min_x < -180 or max_x > 180 or min_y < -90 or max_y > 90:
        return "coordinates_range", "coordinates must be longitude, latitude in degrees"
    if not shapely.is_valid(geometry):
        return "geometry_invalid", f"invalid polygon: {shapely.is_valid_reason(geometry)}"
    return None


def area_m2(geometry: BaseGeometry) -> float:
    """Return the geodesic area in square metres."""
    area, _perimeter = _GEOD.geometry_area_perimeter(geometry)
    return abs(float(area))


def planar_area_m2(geometry: BaseGeometry) -> float:
    """Return the area in square metres on a local flat projection (good for small shapes)."""
    lat = math.radians((geometry.bounds[1] + geometry.bounds[3]) / 2)
    return float(geometry.area) * _M_PER_DEGREE**2 * math.cos(lat)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Return the geodesic distance between two points in metres."""
    _az1, _az2, metres = _GEOD.inv(lon1, lat1, lon2, lat2)
    return float(metres)


def checksum(geometry: BaseGeometry, *parts: str | None) -> str:
    """Return a fingerprint of a geometry (to 1e-7°, about 1 cm) and some attributes."""
    normal = shapely.normalize(rounded(geometry, 7))
    digest = hashlib.sha256(shapely.to_wkb(normal, hex=False))
    for part in parts:
        digest.update(b"\x00" + (part or "").encode("utf-8"))
    return digest.hexdigest()


def from_geojson(data: Any) -> BaseGeometry:
    """Build a geometry from a GeoJSON geometry object (raises ValueError if malformed)."""
    if not isinstance(data, dict) or "type" not in data:
        raise ValueError("not a GeoJSON geometry")
    try:
        return shape(data)
    except (KeyError, TypeError, IndexError, AttributeError, shapely.errors.ShapelyError) as error:
        raise ValueError(f"malformed GeoJSON geometry: {error}") from None


def to_geojson(geometry: BaseGeometry, precision: int = 7) -> dict[str, Any]:
    """Return a GeoJSON geometry object with coordinates rounded to ``precision`` decimals."""
    return dict(mapping(rounded(geometry, precision)))


def rounded(geometry: BaseGeometry, decimals: int) -> BaseGeometry:
    """Return the geometry with every coordinate rounded (topology is not touched)."""
    return shapely.transform(geometry, lambda coords: np.round(coords, decimals))
