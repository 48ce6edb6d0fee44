"""Reading divisions from GeoJSON, Shapefile and GeoPackage files, with a property mapping.

Coordinates must be longitude/latitude (WGS-84 or CGCS2000, which agree to well under a metre);
a file in a projected CRS is refused rather than guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely

from cityops.geo.geometry import from_geojson
from cityops.geo.model import DivisionInput, FeatureIssue
from cityops.kernel.errors import ValidationFailed

GEOGRAPHIC_CRS = ("EPSG:4326", "EPSG:4490", "OGC:CRS84", "CRS84")


@dataclass(frozen=True, slots=True)
class PropertyMapping:
    """Which feature properties hold the code, the name and the parent code."""

    code: str = "code"
    name: str = "name"
    parent: str | None = "parent_code"

    @classmethod
    def parse(cls, text: str | None) -> PropertyMapping:
        """Parse ``code=GRID_ID,name=NAME,parent=COMM_ID`` (missing keys keep defaults)."""
        if not text:
            return cls()
        values: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in ("code", "name", "parent") or not value.strip():
                raise ValidationFailed.single(
                    "mapping",
                    "mapping_format",
                    "use code=PROP,name=PROP,parent=PROP (any subset)",
                )
            values[key] = value.strip()
        return cls(
            code=values.get("code", "code"),
            name=values.get("name", "name"),
            parent=values.get("parent", "parent_code"),
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def inputs_from_features(
    features: list[Any], mapping: PropertyMapping
) -> tuple[list[DivisionInput], list[FeatureIssue]]:
    """Turn GeoJSON-like features into division inputs; malformed features become issues."""
    inputs: list[DivisionInput] = []
    issues: list[FeatureIssue] = []
    for index, feature in enumerate(features):
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            issues.append(
                FeatureIssue(
                    index, None, "feature", "feature_type", "each item must be a GeoJSON Feature"
                )
            )
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, Mapping):
            issues.append(
                FeatureIssue(index, None, "properties", "object", "properties must be an object")
            )
            continue
        code = _text(properties.get(mapping.code))
        if code is None:
            issues.append(
                FeatureIssue(
                    index,
                    None,
                    mapping.code,
                    "required",
                    f"the property {mapping.code!r} (the code) is missing",
                )
            )
            continue
        geometry = None
        raw = feature.get("geometry")
        if raw is not None:
            try:
                geometry = from_geojson(raw)
            except ValueError as error:
                issues.append(FeatureIssue(index, code, "geometry", "geometry_format", str(error)))
                continue
        inputs.append(
            DivisionInput(
                index=index,
                code=code,
                name=_text(properties.get(mapping.name)) or "",
                parent_code=_text(properties.get(mapping.parent)) if mapping.parent else None,
                geometry=geometry,
            )
        )
    return inputs, issues


def read_geojson(
    data: Any, mapping: PropertyMapping
) -> tuple[list[DivisionInput], list[FeatureIssue]]:
    """Read a parsed GeoJSON FeatureCollection."""
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise ValidationFailed.single(
            "file", "feature_collection", "expected a GeoJSON FeatureCollection"
        )
    features = data.get("features")
    if not isinstance(features, list):
        raise ValidationFailed.single("features", "array", "features must be an array")
    _check_crs_member(data.get("crs"))
    return inputs_from_features(features, mapping)


def _check_crs_member(crs: Any) -> None:
    # RFC 7946 dropped "crs"; older files still name one. Only geographic CRSs are accepted.
    if crs is None:
        return
    name = str((crs.get("properties") or {}).get("name", "")) if isinstance(crs, Mapping) else ""
    if not any(code.split(":")[-1] in name for code in GEOGRAPHIC_CRS):
        raise ValidationFailed.single(
            "crs",
            "geographic_crs",
            f"coordinates must be lon/lat (WGS-84 or CGCS2000); the file says {name or crs!r}",
        )


def read_file(
    path: Path, mapping: PropertyMapping, layer: str | None = None
) -> tuple[list[DivisionInput], list[FeatureIssue]]:
    """Read a GeoJSON, Shapefile (.shp) or GeoPackage (.gpkg) file."""
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValidationFailed.single(
                "file", "json", f"not valid UTF-8 JSON: {error}"
            ) from None
        return read_geojson(data, mapping)
    if suffix in (".shp", ".gpkg", ".zip"):
        return _read_with_ogr(path, mapping, layer)
    raise ValidationFailed.single(
        "file", "file_type", "use .geojson/.json, .shp (with .dbf, .shx, .prj) or .gpkg"
    )


def _read_with_ogr(
    path: Path, mapping: PropertyMapping, layer: str | None
) -> tuple[list[DivisionInput], list[FeatureIssue]]:
    import pyogrio

    try:
        meta, _fids, wkb, field_data = pyogrio.raw.read(path, layer=layer)
    except Exception as error:  # pyogrio raises several DataSource/Layer error types
        raise ValidationFailed.single(
            "file", "readable", f"cannot read {path.name}: {error}"
        ) from None
    crs = meta.get("crs")
    if crs and not any(crs.upper().endswith(code.split(":")[-1]) for code in GEOGRAPHIC_CRS):
        raise ValidationFailed.single(
            "crs",
            "geographic_crs",
            f"coordinates must be lon/lat (WGS-84 or CGCS2000); the file is in {crs}",
        )
    names = list(meta["fields"])
    features: list[Any] = []
    for row in range(len(wkb)):
        geometry = shapely.from_wkb(wkb[row]) if wkb[row] is not None else None
        properties = {name: _plain(field_data[i][row]) for i, name in enumerate(names)}
        features.append(
            {
                "type": "Feature",
                "properties": properties,
                "geometry": shapely.geometry.mapping(geometry) if geometry is not None else None,
            }
        )
    return inputs_from_features(features, mapping)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
