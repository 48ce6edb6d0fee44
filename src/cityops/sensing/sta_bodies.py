"""Read the bodies of SensorThings creates and updates into checked inputs (deep insert included).

A body may create related entities inline (a Thing with its ``Locations`` and ``Datastreams``,
a Datastream with its ``Sensor`` and ``ObservedProperty``) or link existing ones as
``{"@iot.id": n}``; an inline object carrying ``@iot.id`` is a link and its other properties are
ignored, as clients send whole entities when they mean a link. Every error names the field
from the body's top (``Datastreams[0].ObservedProperty.name``) and the rule. ``@iot.selfLink``
and ``…@iot.navigationLink`` keys are ignored (clients echo them); any other unknown key is
refused (``unknown_property``), so a typo never passes unnoticed.

An ObservedProperty's metric is found by :func:`cityops.sensing.sta_metrics.find_metric`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.model import ENCODING_GEOJSON, OBSERVATION_TYPE
from cityops.sensing.sta_metrics import find_metric

_GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)


@dataclass(frozen=True, slots=True)
class Link:
    """A link to an existing entity by id."""

    id: int
    field: str


@dataclass(frozen=True, slots=True)
class SensorInput:
    """A Sensor to create."""

    name: str
    description: str
    encoding_type: str
    metadata: str
    properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ObservedPropertyInput:
    """An ObservedProperty to create, with the metric it stands for."""

    name: str
    definition: str
    description: str
    metric: str
    properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LocationInput:
    """A Location to create (and the things it locates, by link)."""

    name: str
    description: str
    encoding_type: str
    location: dict[str, Any]
    properties: dict[str, Any]
    things: tuple[Link, ...] = ()


@dataclass(frozen=True, slots=True)
class DatastreamInput:
    """A Datastream to create; links absent when the URL gives them."""

    field: str
    name: str
    description: str
    unit: dict[str, Any] | None
    observation_type: str
    properties: dict[str, Any]
    thing: Link | ThingInput | None
    sensor: Link | SensorInput | None
    observed_property: Link | ObservedPropertyInput | None


@dataclass(frozen=True, slots=True)
class ThingInput:
    """A Thing to create with its locations and datastreams."""

    field: str
    name: str
    description: str
    key: str | None
    properties: dict[str, Any]
    locations: tuple[Link | LocationInput, ...]
    datastreams: tuple[DatastreamInput, ...]


_ALLOWED = {
    "Things": {"name", "description", "properties", "Locations", "Datastreams"},
    "Locations": {"name", "description", "encodingType", "location", "properties", "Things"},
    "Sensors": {"name", "description", "encodingType", "metadata", "properties"},
    "ObservedProperties": {"name", "definition", "description", "properties"},
    "Datastreams": {"name", "description", "unitOfMeasurement", "observationType", "properties"}
    | {"Thing", "Sensor", "ObservedProperty", "phenomenonTime", "resultTime", "observedArea"},
}


def _at(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def check_keys(data: Mapping[str, Any], entity_set: str, prefix: str) -> None:
    """Refuse keys the entity does not have (links and echoes of links are fine)."""
    for key in data:
        if key.startswith("@iot.") or key.endswith(("@iot.navigationLink", "@iot.selfLink")):
            continue
        if key not in _ALLOWED[entity_set]:
            expected = ", ".join(sorted(_ALLOWED[entity_set]))
            raise ValidationFailed.single(
                _at(prefix, key), "unknown_property", f"{entity_set} have no {key!r}; {expected}"
            )


def text(
    data: Mapping[str, Any], name: str, limit: int, prefix: str, *, default: str | None = None
) -> str:
    """Return a text property (required when there is no default)."""
    value = data.get(name)
    if default is not None and (value is None or (isinstance(value, str) and not value.strip())):
        return default
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed.single(_at(prefix, name), "required", f"{name} is a non-empty text")
    if len(value) > limit:
        raise ValidationFailed.single(
            _at(prefix, name), "max_length", f"{name} is at most {limit} characters"
        )
    if "\x00" in value:  # no store keeps it faithfully; PostgreSQL refuses it
        raise ValidationFailed.single(_at(prefix, name), "no_nul", f"{name} contains NUL")
    return value.strip()


def json_object(data: Mapping[str, Any], name: str, prefix: str) -> dict[str, Any]:
    """Return an optional JSON object property ({} when absent)."""
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationFailed.single(_at(prefix, name), "object", f"{name} is a JSON object")
    return dict(value)


def link_or_object(value: Any, field: str) -> Link | Mapping[str, Any]:
    """Return a link ``{"@iot.id": n}`` or the inline entity's JSON."""
    if not isinstance(value, Mapping):
        raise ValidationFailed.single(field, "object", f"{field} is a JSON object")
    if "@iot.id" in value:
        ident = value["@iot.id"]
        if isinstance(ident, str) and ident.isdigit():
            ident = int(ident)
        if isinstance(ident, bool) or not isinstance(ident, int) or not 0 < ident < 2**63:
            raise ValidationFailed.single(_at(field, "@iot.id"), "id", "an id is a whole number")
        return Link(ident, field)
    return value


def geometry(value: Any, field: str) -> dict[str, Any]:
    """Check a GeoJSON geometry or Feature (type and coordinates present)."""
    if not isinstance(value, Mapping):
        raise ValidationFailed.single(field, "geojson", "location is a GeoJSON geometry")
    inner = value.get("geometry") if value.get("type") == "Feature" else value
    if not isinstance(inner, Mapping) or inner.get("type") not in _GEOMETRY_TYPES:
        raise ValidationFailed.single(
            field, "geojson", f"a GeoJSON geometry has a type of {', '.join(_GEOMETRY_TYPES)}"
        )
    key = "geometries" if inner.get("type") == "GeometryCollection" else "coordinates"
    if not isinstance(inner.get(key), list):
        raise ValidationFailed.single(field, "geojson", f"a GeoJSON geometry has {key}")
    if inner["type"] == "Point":
        point = inner["coordinates"]
        if len(point) < 2 or not all(
            isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
            for c in point
        ):
            raise ValidationFailed.single(field, "geojson", "a Point has [lon, lat] numbers")
        if not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90):
            raise ValidationFailed.single(field, "range", "lon in [-180, 180], lat in [-90, 90]")
    return dict(value)


def sensor_input(data: Mapping[str, Any], prefix: str = "") -> SensorInput:
    """Read a Sensor."""
    check_keys(data, "Sensors", prefix)
    metadata = text(data, "metadata", 4000, prefix, default="")
    return SensorInput(
        name=text(data, "name", 200, prefix),
        description=text(data, "description", 2000, prefix, default=""),
        encoding_type=text(data, "encodingType", 100, prefix, default="text/plain"),
        metadata=metadata,
        properties=json_object(data, "properties", prefix),
    )


def observed_property_input(data: Mapping[str, Any], prefix: str = "") -> ObservedPropertyInput:
    """Read an ObservedProperty and find its metric."""
    check_keys(data, "ObservedProperties", prefix)
    properties = json_object(data, "properties", prefix)
    found = find_metric(data, prefix)
    properties.pop("metric", None)
    return ObservedPropertyInput(
        name=text(data, "name", 200, prefix),
        definition=text(data, "definition", 500, prefix, default=""),
        description=text(data, "description", 2000, prefix, default=""),
        metric=found,
        properties=properties,
    )


def location_input(data: Mapping[str, Any], prefix: str = "") -> LocationInput:
    """Read a Location (its Things only as links)."""
    check_keys(data, "Locations", prefix)
    things: list[Link] = []
    for index, item in enumerate(_array(data, "Things", prefix)):
        found = link_or_object(item, f"{_at(prefix, 'Things')}[{index}]")
        if not isinstance(found, Link):
            raise ValidationFailed.single(
                found_field(prefix, "Things", index), "link", "link Things by @iot.id"
            )
        things.append(found)
    return LocationInput(
        name=text(data, "name", 200, prefix),
        description=text(data, "description", 2000, prefix, default=""),
        encoding_type=text(data, "encodingType", 100, prefix, default=ENCODING_GEOJSON),
        location=geometry(data.get("location"), _at(prefix, "location")),
        properties=json_object(data, "properties", prefix),
        things=tuple(things),
    )


def found_field(prefix: str, name: str, index: int) -> str:
    """Return the field of an array item (``Datastreams[2]``)."""
    return f"{_at(prefix, name)}[{index}]"


def _array(data: Mapping[str, Any], name: str, prefix: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationFailed.single(_at(prefix, name), "array", f"{name} is a JSON array")
    return value


def _linked(data: Mapping[str, Any], name: str, prefix: str) -> Link | Mapping[str, Any] | None:
    value = data.get(name)
    return None if value is None else link_or_object(value, _at(prefix, name))


def datastream_input(data: Mapping[str, Any], prefix: str = "") -> DatastreamInput:
    """Read a Datastream with its inline or linked Thing, Sensor and ObservedProperty."""
    check_keys(data, "Datastreams", prefix)
    thing = _linked(data, "Thing", prefix)
    sensor = _linked(data, "Sensor", prefix)
    observed = _linked(data, "ObservedProperty", prefix)
    unit = data.get("unitOfMeasurement")
    if unit is not None and not isinstance(unit, Mapping):
        raise ValidationFailed.single(
            _at(prefix, "unitOfMeasurement"), "object", "unitOfMeasurement is a JSON object"
        )
    kind = data.get("observationType") or OBSERVATION_TYPE
    if kind not in (OBSERVATION_TYPE, "OM_Measurement"):
        raise ValidationFailed.single(
            _at(prefix, "observationType"),
            "one_of",
            f"readings are numbers: observationType is {OBSERVATION_TYPE}",
        )
    return DatastreamInput(
        field=prefix,
        name=text(data, "name", 100, prefix),
        description=text(data, "description", 1000, prefix, default=""),
        unit=dict(unit) if unit is not None else None,
        observation_type=OBSERVATION_TYPE,
        properties=json_object(data, "properties", prefix),
        thing=thing if isinstance(thing, Link | None) else thing_input(thing, _at(prefix, "Thing")),
        sensor=sensor
        if isinstance(sensor, Link | None)
        else sensor_input(sensor, _at(prefix, "Sensor")),
        observed_property=observed
        if isinstance(observed, Link | None)
        else observed_property_input(observed, _at(prefix, "ObservedProperty")),
    )


def thing_input(data: Mapping[str, Any], prefix: str = "") -> ThingInput:
    """Read a Thing with its inline or linked Locations and inline Datastreams."""
    check_keys(data, "Things", prefix)
    properties = json_object(data, "properties", prefix)
    key = properties.pop("key", None)
    if key is not None and not isinstance(key, str):
        raise ValidationFailed.single(
            _at(prefix, "properties.key"), "text", "the cityops key is a text"
        )
    locations: list[Link | LocationInput] = []
    for index, item in enumerate(_array(data, "Locations", prefix)):
        field = found_field(prefix, "Locations", index)
        found = link_or_object(item, field)
        locations.append(found if isinstance(found, Link) else location_input(found, field))
    streams = [
        datastream_input(
            _object(item, found_field(prefix, "Datastreams", i)),
            found_field(prefix, "Datastreams", i),
        )
        for i, item in enumerate(_array(data, "Datastreams", prefix))
    ]
    for stream in streams:
        if stream.thing is not None:
            raise ValidationFailed.single(
                _at(stream.field, "Thing"), "nested", "a Thing's Datastreams belong to it"
            )
    return ThingInput(
        field=prefix,
        name=text(data, "name", 100, prefix),
        description=text(data, "description", 1000, prefix, default=""),
        key=key,
        properties=properties,
        locations=tuple(locations),
        datastreams=tuple(streams),
    )


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or "@iot.id" in value:
        raise ValidationFailed.single(
            field, "object", "give the new Datastream inline (linking one moves it: refused)"
        )
    return value
