"""The JSON of SensorThings entities (OGC 18-088 §8.2, §9.2.2): properties, ids and links.

Every entity carries ``@iot.id``, ``@iot.selfLink`` (absolute) and ``<Nav>@iot.navigationLink``
for each navigation property. How cityops rows become SensorThings entities:

* a Thing is a thing; ``properties.key`` shows its cityops key (read-only);
* a Datastream is a datastream; ``unitOfMeasurement`` is its metric's canonical unit (readings
  are stored in it), ``observationType`` OM_Measurement unless declared, ``phenomenonTime``
  spans its good readings (from the day rollups), ``observedArea`` is its thing's point, and
  ``properties.key``/``properties.metric`` show the cityops key and metric (read-only);
* an ObservedProperty shows the catalogue metric it stands for in ``properties.metric``;
* an Observation's ``@iot.id`` packs its datastream and time, ``(datastream << 42) | ms``;
  ``phenomenonTime`` and ``resultTime`` are its time, ``resultQuality`` the quality flag;
* a FeatureOfInterest is a Location seen as the feature observed (same id; read-only).

Times are ISO 8601 in UTC with ``Z`` (milliseconds when not whole seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cityops.sensing.ingest import KEY_SHIFT
from cityops.sensing.metrics import unit_of_measurement
from cityops.sensing.model import (
    ENCODING_GEOJSON,
    OBSERVATION_TYPE,
    QUALITY_NAMES,
    Datastream,
    Thing,
    from_millis,
)
from cityops.sensing.ports import Reading
from cityops.sensing.sta_paths import ENTITY_SETS
from cityops.sensing.sta_ports import (
    DatastreamLinks,
    HistoricalLocationRow,
    LocationRow,
    ObservedPropertyRow,
    SensorRow,
)
from cityops.sensing.sta_query import DEFAULT_SCHEMA

TIME_MASK = (1 << KEY_SHIFT) - 1
CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
)


def observation_id(stream_id: int, millis: int) -> int:
    """Return an Observation's id: its datastream and time packed in one integer."""
    return (stream_id << KEY_SHIFT) | millis


def split_observation_id(ident: int) -> tuple[int, int]:
    """Return the (datastream id, time ms) an Observation id packs."""
    return ident >> KEY_SHIFT, ident & TIME_MASK


def iso(millis: int) -> str:
    """Return UTC epoch ms as ISO 8601 with ``Z``."""
    moment = from_millis(millis)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def self_link(base: str, entity_set: str, ident: int) -> str:
    """Return an entity's absolute URL."""
    return f"{base}/{entity_set}({ident})"


def _entity(base: str, entity_set: str, ident: int, fields: dict[str, Any]) -> dict[str, Any]:
    link = self_link(base, entity_set, ident)
    data: dict[str, Any] = {"@iot.id": ident, "@iot.selfLink": link, **fields}
    for name in DEFAULT_SCHEMA[entity_set].navigation:
        data[f"{name}@iot.navigationLink"] = f"{link}/{name}"
    return data


def service_root(base: str) -> dict[str, Any]:
    """Return the service root document (§9.2.1)."""
    return {
        "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_SETS],
        "serverSettings": {
            "conformance": list(CONFORMANCE),
            "cityops": {
                "createObservations": f"{base}/CreateObservations",
                "maxTop": 10_000,
                "defaultTop": 100,
                "readOnly": ["HistoricalLocations", "FeaturesOfInterest"],
            },
        },
    }


def point_of(geometry: Mapping[str, Any]) -> tuple[float, float] | None:
    """Return (lon, lat) of a GeoJSON Point (or a Feature with one), else None."""
    if geometry.get("type") == "Feature":
        inner = geometry.get("geometry")
        return point_of(inner) if isinstance(inner, Mapping) else None
    coordinates = geometry.get("coordinates")
    if geometry.get("type") != "Point" or not isinstance(coordinates, list | tuple):
        return None
    if len(coordinates) < 2 or not all(
        isinstance(c, int | float) and not isinstance(c, bool) for c in coordinates[:2]
    ):
        return None
    return float(coordinates[0]), float(coordinates[1])


def thing_json(base: str, thing: Thing) -> dict[str, Any]:
    """Return a Thing."""
    return _entity(
        base,
        "Things",
        thing.id,
        {
            "name": thing.name,
            "description": thing.description,
            "properties": {**thing.properties, "key": thing.key},
        },
    )


def location_json(base: str, row: LocationRow) -> dict[str, Any]:
    """Return a Location."""
    return _entity(
        base,
        "Locations",
        row.id,
        {
            "name": row.name,
            "description": row.description,
            "encodingType": row.encoding_type,
            "location": dict(row.location),
            "properties": dict(row.properties),
        },
    )


def feature_json(base: str, row: LocationRow) -> dict[str, Any]:
    """Return the FeatureOfInterest a Location is."""
    return _entity(
        base,
        "FeaturesOfInterest",
        row.id,
        {
            "name": row.name,
            "description": row.description,
            "encodingType": row.encoding_type or ENCODING_GEOJSON,
            "feature": dict(row.location),
            "properties": dict(row.properties),
        },
    )


def historical_location_json(base: str, row: HistoricalLocationRow) -> dict[str, Any]:
    """Return a HistoricalLocation."""
    return _entity(base, "HistoricalLocations", row.id, {"time": iso(row.time)})


def sensor_json(base: str, row: SensorRow) -> dict[str, Any]:
    """Return a Sensor."""
    return _entity(
        base,
        "Sensors",
        row.id,
        {
            "name": row.name,
            "description": row.description,
            "encodingType": row.encoding_type,
            "metadata": row.metadata,
            "properties": dict(row.properties),
        },
    )


def observed_property_json(base: str, row: ObservedPropertyRow) -> dict[str, Any]:
    """Return an ObservedProperty."""
    return _entity(
        base,
        "ObservedProperties",
        row.id,
        {
            "name": row.name,
            "definition": row.definition,
            "description": row.description,
            "properties": {**row.properties, "metric": row.metric},
        },
    )


def datastream_json(
    base: str,
    stream: Datastream,
    links: DatastreamLinks | None,
    span: tuple[int, int] | None,
    point: tuple[float, float] | None,
) -> dict[str, Any]:
    """Return a Datastream."""
    unit = links.unit_of_measurement if links is not None else None
    fields: dict[str, Any] = {
        "name": stream.name,
        "description": stream.description,
        "unitOfMeasurement": dict(unit) if unit else unit_of_measurement(stream.metric),
        "observationType": (links.observation_type if links else None) or OBSERVATION_TYPE,
    }
    if point is not None:
        fields["observedArea"] = {"type": "Point", "coordinates": [point[0], point[1]]}
    if span is not None:
        fields["phenomenonTime"] = f"{iso(span[0])}/{iso(span[1])}"
        fields["resultTime"] = fields["phenomenonTime"]
    fields["properties"] = {**stream.properties, "key": stream.key, "metric": stream.metric}
    return _entity(base, "Datastreams", stream.id, fields)


def observation_json(base: str, reading: Reading) -> dict[str, Any]:
    """Return an Observation."""
    ident = observation_id(reading.datastream_id, reading.time)
    when = iso(reading.time)
    return _entity(
        base,
        "Observations",
        ident,
        {
            "phenomenonTime": when,
            "resultTime": when,
            "result": reading.value,
            "resultQuality": QUALITY_NAMES.get(reading.quality, str(reading.quality)),
        },
    )


def select_fields(data: Mapping[str, Any], select: tuple[str, ...]) -> dict[str, Any]:
    """Return an entity's JSON cut to ``$select``; everything when ``select`` is empty.

    ``id`` stands for ``@iot.id`` (with the selfLink); a navigation property gives its link.
    """
    if not select:
        return dict(data)
    kept: dict[str, Any] = {}
    for name in select:
        if name == "id":
            kept["@iot.id"] = data.get("@iot.id")
            kept["@iot.selfLink"] = data.get("@iot.selfLink")
        elif name in data:
            kept[name] = data[name]
        elif f"{name}@iot.navigationLink" in data:
            kept[f"{name}@iot.navigationLink"] = data[f"{name}@iot.navigationLink"]
    return kept
