"""Which create or update a SensorThings ``POST``, ``PATCH`` or ``PUT`` is, from its path.

``POST`` goes to an entity set (``/Things``) or to a navigation property of one entity, which
then links the new entity to it (``/Things(1)/Locations``, ``/Datastreams(5)/Observations``,
``/Sensors(2)/Datastreams``). ``PATCH``/``PUT`` go to one entity (``/Things(1)``).
HistoricalLocations and FeaturesOfInterest are derived and read-only; Observations cannot be
changed once stored; anything else is answered 405 with what would work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cityops.auth.model import Principal
from cityops.kernel.errors import ValidationFailed
from cityops.sensing.sta_bodies import (
    Link,
    datastream_input,
    location_input,
    observed_property_input,
    sensor_input,
    thing_input,
)
from cityops.sensing.sta_observation_writes import StaObservationWriter
from cityops.sensing.sta_paths import MethodNotAllowed, ResourcePath
from cityops.sensing.sta_updates import UPDATERS, new_values
from cityops.sensing.sta_writes import Creation, StaWriter

CREATABLE = ("Things", "Locations", "Datastreams", "Sensors", "ObservedProperties", "Observations")
_UNDER = {
    ("Things", "Locations"),
    ("Things", "Datastreams"),
    ("Locations", "Things"),
    ("Sensors", "Datastreams"),
    ("ObservedProperties", "Datastreams"),
    ("Datastreams", "Observations"),
}


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValidationFailed.single("body", "object", "send the entity as a JSON object")
    return body


def create(
    writer: StaWriter,
    observations: StaObservationWriter,
    principal: Principal,
    resource: ResourcePath,
    body: Any,
) -> tuple[str, int]:
    """Create what a POST describes; return the new entity's set and id."""
    target = resource.last.target
    parent = resource.steps[-2] if len(resource.steps) == 2 else None
    allowed = parent is None or (parent.target, resource.last.name) in _UNDER
    if (
        not resource.is_collection
        or resource.ref
        or len(resource.steps) > 2
        or not allowed
        or target not in CREATABLE
    ):
        raise MethodNotAllowed(
            f"POST creates {', '.join(CREATABLE)} (at /<set> or under a linked entity, such as "
            "/Things(1)/Datastreams); HistoricalLocations and FeaturesOfInterest are derived"
        )
    under = (parent.target, parent.id) if parent is not None and parent.id is not None else None
    if target == "Observations":
        stream = under[1] if under else None
        return "Observations", observations.create(principal, body, stream)
    data = _object(body)
    work = _creator(target, data, under)
    return target, writer.run(principal, work)


def _creator(
    target: str, data: Mapping[str, Any], under: tuple[str, int] | None
) -> Callable[[Creation], int]:
    """Return the create of ``target`` from ``data`` (linked to ``under``)."""
    parent_set, parent_id = under if under else ("", 0)
    if target == "Things":
        given = thing_input(data)
        extra = [parent_id] if parent_set == "Locations" else []
        return lambda work: work.thing(given, extra)
    if target == "Locations":
        location = location_input(data)

        def make_location(work: Creation) -> int:
            ident = work.location(location)
            if parent_set == "Things":
                work.relocate(work.thing_of(Link(parent_id, "Things")).id, [ident])
            return ident

        return make_location
    if target == "Sensors":
        sensor = sensor_input(data)
        return lambda work: work.sensor(sensor)
    if target == "ObservedProperties":
        observed = observed_property_input(data)
        return lambda work: work.observed_property(observed)
    stream = datastream_input(data)
    links = {
        "Things": {"thing": parent_id},
        "Sensors": {"sensor": parent_id},
        "ObservedProperties": {"observed_property": parent_id},
    }.get(parent_set, {})

    return lambda work: work.datastream(stream, **links)


def update(
    writer: StaWriter,
    principal: Principal,
    resource: ResourcePath,
    body: Any,
    current: Mapping[str, Any],
    *,
    json_patch: bool,
) -> tuple[str, int]:
    """Apply a PATCH or PUT to the entity whose JSON is ``current``; return its set and id."""
    target = resource.last.target
    ident = resource.last.id
    if len(resource.steps) != 1 or ident is None or resource.prop or resource.ref:
        raise MethodNotAllowed("PATCH and PUT change one entity: /<set>(<id>)")
    updater = UPDATERS.get(target)
    if updater is None:
        raise MethodNotAllowed(f"{target} cannot be changed; {', '.join(UPDATERS)} can")
    values = new_values(target, current, body, json_patch)
    writer.run(principal, lambda work: _updated(updater, work, ident, values))
    return target, ident


def _updated(
    updater: Callable[[Creation, int, Mapping[str, Any]], None],
    work: Creation,
    ident: int,
    values: Mapping[str, Any],
) -> int:
    updater(work, ident, values)
    return ident
