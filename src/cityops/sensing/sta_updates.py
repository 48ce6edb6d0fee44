"""SensorThings updates: ``PATCH`` (merge or JSON Patch) and ``PUT`` of one entity.

The body is either the properties to replace (``application/json``; ``PUT`` is read the same
way, as FROST does) or a JSON Patch (``application/json-patch+json``) run on the entity's
editable JSON. Either way the new values are checked as on create and written in one
transaction, audited with before and after. What may change:

* Things: name, description, properties (``properties.key`` is the cityops key: read-only), and
  their Locations by link or inline (recorded as HistoricalLocations; the point follows);
* Locations: name, description, encodingType, location (things standing there move with it),
  properties;
* Datastreams: name, description, properties, unitOfMeasurement and observationType (checked as
  on create), the Sensor, and the ObservedProperty when it stands for the same metric. The
  Thing cannot change (its readings are the thing's);
* Sensors and ObservedProperties: their properties (an ObservedProperty's metric is read-only).

Observations, HistoricalLocations and FeaturesOfInterest cannot be changed (405).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.sensing.sta_bodies import (
    Link,
    LocationInput,
    check_keys,
    geometry,
    json_object,
    link_or_object,
    location_input,
    text,
)
from cityops.sensing.sta_entities import point_of
from cityops.sensing.sta_metrics import check_unit
from cityops.sensing.sta_patch import apply_json_patch, changed
from cityops.sensing.sta_ports import DatastreamLinks, LocationRow, ObservedPropertyRow, SensorRow
from cityops.sensing.sta_writes import Creation

EDITABLE = {
    "Things": ("name", "description", "properties"),
    "Locations": ("name", "description", "encodingType", "location", "properties"),
    "Sensors": ("name", "description", "encodingType", "metadata", "properties"),
    "ObservedProperties": ("name", "definition", "description", "properties"),
    "Datastreams": ("name", "description", "unitOfMeasurement", "observationType", "properties"),
}
_LINKS = {"Things": ("Locations",), "Datastreams": ("Thing", "Sensor", "ObservedProperty")}


def new_values(
    entity_set: str, current: Mapping[str, Any], body: Any, json_patch: bool
) -> dict[str, Any]:
    """Return the entity's editable JSON after the update (links kept under their names)."""
    view = {k: current[k] for k in EDITABLE[entity_set] if k in current}
    if json_patch:
        return {**view, **changed(view, apply_json_patch(view, body))}
    if not isinstance(body, Mapping):
        raise ValidationFailed.single("body", "object", "send the properties to change")
    check_keys(body, entity_set, "")
    updates = {k: v for k, v in body.items() if k in EDITABLE[entity_set]}
    updates.update({k: v for k, v in body.items() if k in _LINKS.get(entity_set, ())})
    return {**view, **updates}


def _read_only(values: Mapping[str, Any], name: str, expected: Any, field: str) -> None:
    properties = values.get("properties")
    if isinstance(properties, Mapping) and properties.get(name, expected) != expected:
        raise ValidationFailed.single(field, "read_only", f"{name} cannot change here")


def update_thing(work: Creation, ident: int, values: Mapping[str, Any]) -> None:
    """Write a Thing's new values (and relink its Locations)."""
    before = work.uow.things.get(ident)
    if before is None:
        raise NotFound(f"no Things({ident})")
    work.thing_of(Link(ident, "Things"))
    _read_only(values, "key", before.key, "properties.key")
    properties = json_object(values, "properties", "")
    properties.pop("key", None)
    after = replace(
        before,
        name=text(values, "name", 100, ""),
        description=text(values, "description", 1000, "", default=""),
        properties=properties,
        updated_at=work.now,
    )
    work.uow.things.update(after)
    if "Locations" in values:
        items = values["Locations"]
        if not isinstance(items, list):
            raise ValidationFailed.single("Locations", "array", "Locations is a JSON array")
        ids = []
        for index, item in enumerate(items):
            found = link_or_object(item, f"Locations[{index}]")
            ids.append(_location(work, found, f"Locations[{index}]"))
        work.relocate(ident, ids)
    work.audit(None, "thing.update", "thing", ident, name=after.name)


def _location(work: Creation, found: Link | Mapping[str, Any], field: str) -> int:
    if isinstance(found, Link):
        if not work.uow.sta.locations([found.id]):
            raise ValidationFailed.single(f"{field}.@iot.id", "known_location", "no such Location")
        return found.id
    given: LocationInput = location_input(found, field)
    return work.location(given)


def update_location(work: Creation, ident: int, values: Mapping[str, Any]) -> None:
    """Write a Location's new values; things whose newest location it is move with it."""
    rows = work.uow.sta.locations([ident])
    if not rows:
        raise NotFound(f"no Locations({ident})")
    work.principal.require_somewhere("telemetry:write")
    after = LocationRow(
        ident,
        text(values, "name", 200, ""),
        text(values, "description", 2000, "", default=""),
        text(values, "encodingType", 100, "", default=rows[0].encoding_type),
        geometry(values.get("location"), "location"),
        json_object(values, "properties", ""),
    )
    work.uow.sta.update_location(after)
    if point_of(after.location) != point_of(rows[0].location):
        for thing_id, location_id in work.uow.sta.thing_locations():
            if location_id == ident:
                work.thing_of(Link(thing_id, "Things"))
                current = [loc for t, loc in work.uow.sta.thing_locations() if t == thing_id]
                if max(current) == ident:
                    _follow(work, thing_id, after)
    work.audit(None, "location.update", "location", ident, name=after.name)


def _follow(work: Creation, thing_id: int, location: LocationRow) -> None:
    point = point_of(location.location)
    thing = work.uow.things.get(thing_id)
    if point is None or thing is None:
        return
    placement = work.place(*point)
    work.uow.things.update(
        replace(thing, lon=point[0], lat=point[1], placement=placement, updated_at=work.now)
    )


def update_sensor(work: Creation, ident: int, values: Mapping[str, Any]) -> None:
    """Write a Sensor's new values."""
    rows = work.uow.sta.sensors([ident])
    if not rows:
        raise NotFound(f"no Sensors({ident})")
    work.principal.require_somewhere("telemetry:write")
    metadata = text(values, "metadata", 4000, "", default="")
    work.uow.sta.update_sensor(
        SensorRow(
            ident,
            text(values, "name", 200, ""),
            text(values, "description", 2000, "", default=""),
            text(values, "encodingType", 100, "", default=rows[0].encoding_type),
            metadata,
            json_object(values, "properties", ""),
        )
    )
    work.audit(None, "sensor.update", "sensor", ident)


def update_observed_property(work: Creation, ident: int, values: Mapping[str, Any]) -> None:
    """Write an ObservedProperty's new values (its metric stays)."""
    rows = work.uow.sta.observed_properties([ident])
    if not rows:
        raise NotFound(f"no ObservedProperties({ident})")
    work.principal.require_somewhere("telemetry:write")
    _read_only(values, "metric", rows[0].metric, "properties.metric")
    properties = json_object(values, "properties", "")
    properties.pop("metric", None)
    work.uow.sta.update_observed_property(
        ObservedPropertyRow(
            ident,
            text(values, "name", 200, ""),
            text(values, "definition", 500, "", default=""),
            text(values, "description", 2000, "", default=""),
            rows[0].metric,
            properties,
        )
    )
    work.audit(None, "observed_property.update", "observed_property", ident)


def update_datastream(work: Creation, ident: int, values: Mapping[str, Any]) -> None:
    """Write a Datastream's new values and links."""
    stream = work.uow.datastreams.get(ident)
    if stream is None:
        raise NotFound(f"no Datastreams({ident})")
    work.thing_of(Link(stream.thing_id, "Thing"))
    _read_only(values, "key", stream.key, "properties.key")
    _read_only(values, "metric", stream.metric, "properties.metric")
    links = work.uow.sta.datastream_links([ident]).get(ident)
    thing = values.get("Thing")
    if thing is not None and _linked_id(thing, "Thing") != stream.thing_id:
        raise ValidationFailed.single("Thing", "read_only", "a Datastream's Thing cannot change")
    sensor_id = links.sensor_id if links else None
    if values.get("Sensor") is not None:
        sensor_id = _linked_id(values["Sensor"], "Sensor")
        if not work.uow.sta.sensors([sensor_id]):
            raise ValidationFailed.single("Sensor.@iot.id", "known_sensor", "no such Sensor")
    property_id = links.observed_property_id if links else None
    if values.get("ObservedProperty") is not None:
        property_id = _linked_id(values["ObservedProperty"], "ObservedProperty")
        found = work.uow.sta.observed_properties([property_id])
        if not found:
            raise ValidationFailed.single(
                "ObservedProperty.@iot.id", "known_observed_property", "no such ObservedProperty"
            )
        if found[0].metric != stream.metric:
            raise ValidationFailed.single(
                "ObservedProperty",
                "same_metric",
                f"the readings are {stream.metric}; link an ObservedProperty of that metric",
            )
    unit = values.get("unitOfMeasurement")
    if unit is not None and not isinstance(unit, Mapping):
        raise ValidationFailed.single("unitOfMeasurement", "object", "a JSON object")
    check_unit(unit, stream.metric, "")
    kind = values.get("observationType")
    if kind not in (None, "OM_Measurement") and not str(kind).endswith("OM_Measurement"):
        raise ValidationFailed.single("observationType", "one_of", "readings are measurements")
    properties = json_object(values, "properties", "")
    for name in ("key", "metric"):
        properties.pop(name, None)
    work.uow.sta.update_datastream_text(
        ident,
        text(values, "name", 100, ""),
        text(values, "description", 1000, "", default=""),
        properties,
    )
    work.uow.sta.set_datastream_links(
        DatastreamLinks(
            ident,
            sensor_id,
            property_id,
            links.observation_type if links else None,
            dict(unit) if unit is not None else None,
        )
    )
    work.audit(None, "datastream.update", "datastream", ident)


def _linked_id(value: Any, field: str) -> int:
    found = link_or_object(value, field)
    if not isinstance(found, Link):
        raise ValidationFailed.single(field, "link", 'link it as {"@iot.id": n}')
    return found.id


UPDATERS = {
    "Things": update_thing,
    "Locations": update_location,
    "Sensors": update_sensor,
    "ObservedProperties": update_observed_property,
    "Datastreams": update_datastream,
}
