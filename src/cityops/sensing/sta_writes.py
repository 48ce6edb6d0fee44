"""SensorThings creates: entities with deep insert, in one transaction, checked and audited.

A create either stores everything its body describes (a Thing with its Locations and
Datastreams, a Datastream with a new Sensor and ObservedProperty) or nothing. The rules that
bind SensorThings to cityops:

* a Thing gets the cityops key ``properties.key`` when given, else ``STA-<id>``; its point and
  grid placement follow its newest Location with a Point, and each Location it is given is
  recorded as a HistoricalLocation (a Thing's Locations are its current ones);
* a Datastream takes its metric from its ObservedProperty, its unit must be the metric's
  canonical one (:func:`~cityops.sensing.sta_bodies.check_unit`), its valid range is the
  metric's and its key ``<thing key>/<metric>`` (``-2``, ``-3`` … when taken);
* writing needs ``telemetry:write`` where the thing stands (its grid).

Observations are not created here: they go through the ingest service like every other door
(:mod:`cityops.sensing.sta_observation_writes`). Updates are :mod:`cityops.sensing.sta_updates`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from cityops.auth.audit import make_entry
from cityops.auth.model import Grant, Principal
from cityops.auth.scopes import ResourceScope
from cityops.kernel.clock import Clock
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing.devices import KEY, Placer
from cityops.sensing.metrics import metric as catalogue_metric
from cityops.sensing.model import Placement, Thing, to_millis
from cityops.sensing.ports import NewDatastream, NewThing
from cityops.sensing.sta_bodies import (
    DatastreamInput,
    Link,
    LocationInput,
    ObservedPropertyInput,
    SensorInput,
    ThingInput,
)
from cityops.sensing.sta_entities import point_of
from cityops.sensing.sta_links import link_datastreams, locate_things, stale_things
from cityops.sensing.sta_metrics import check_unit
from cityops.sensing.sta_ports import (
    DatastreamLinks,
    LocationRow,
    ObservedPropertyRow,
    SensorRow,
    StaUnitOfWork,
)

DEFAULT_INTERVAL_SECONDS = 60


def _known(field: str, entity: str, ident: int) -> ValidationFailed:
    rule = "known_" + {"Things": "thing", "Sensors": "sensor", "Locations": "location"}.get(
        entity, "observed_property"
    )
    return ValidationFailed.single(f"{field}.@iot.id", rule, f"no {entity}({ident})")


class Creation:
    """The creates of one transaction (deep insert shares it)."""

    def __init__(
        self, uow: StaUnitOfWork, principal: Principal, clock: Clock, place: Placer
    ) -> None:
        self.uow = uow
        self.principal = principal
        self.clock = clock
        self.place = place
        self.now = clock.now()

    def audit(self, grant: Grant | None, action: str, kind: str, ident: int, **data: Any) -> None:
        """Append an audit entry to this transaction."""
        self.uow.audit.append(
            make_entry(
                self.clock,
                self.principal,
                grant,
                action=action,
                object_type=kind,
                object_id=str(ident),
                after=data or None,
            )
        )

    def thing_of(self, link: Link) -> Thing:
        """Return a linked thing the caller may write to."""
        thing = self.uow.things.get(link.id)
        if thing is None:
            raise _known(link.field, "Things", link.id)
        self.principal.authorize("telemetry:write", ResourceScope(thing.placement.grid_code))
        return thing

    # --- things and locations ---------------------------------------------------------------

    def thing(self, given: ThingInput, extra_locations: Sequence[int] = ()) -> int:
        """Create a thing with its locations and datastreams; return its id."""
        key = given.key
        if key is not None and not KEY.fullmatch(key):
            raise ValidationFailed.single(
                f"{given.field + '.' if given.field else ''}properties.key",
                "pattern",
                "letters, digits and . _ : - only, at most 64, starting with a letter or digit",
            )
        location_ids = [self._location_id(item) for item in given.locations]
        location_ids.extend(extra_locations)
        point = self._newest_point(location_ids)
        placement = self.place(*point) if point else None
        grant = self.principal.authorize(
            "telemetry:write", ResourceScope(placement.grid_code if placement else None)
        )
        thing_id = self.uow.things.add(
            NewThing(
                key=key or f"STA-new-{secrets.token_hex(8)}",
                name=given.name,
                description=given.description,
                lon=point[0] if point else None,
                lat=point[1] if point else None,
                placement=placement or Placement(),
                properties=given.properties,
                at=self.now,
            )
        )
        if key is None:
            self.uow.sta.set_thing_key(thing_id, f"STA-{thing_id}")
        if location_ids:
            self.relocate(thing_id, location_ids)
        self.audit(grant, "thing.register", "thing", thing_id, key=key or f"STA-{thing_id}")
        for stream in given.datastreams:
            self.datastream(stream, thing=thing_id)
        return thing_id

    def _location_id(self, item: Link | LocationInput) -> int:
        if isinstance(item, Link):
            if not self.uow.sta.locations([item.id]):
                raise _known(item.field, "Locations", item.id)
            return item.id
        return self.location(item)

    def _newest_point(self, location_ids: Sequence[int]) -> tuple[float, float] | None:
        rows = {row.id: row for row in self.uow.sta.locations(list(location_ids))}
        for ident in reversed(location_ids):
            point = point_of(rows[ident].location) if ident in rows else None
            if point is not None:
                return point
        return None

    def location(self, given: LocationInput) -> int:
        """Create a location (and move the things it links to it); return its id."""
        self.principal.require_somewhere("telemetry:write")
        location_id = self.uow.sta.add_location(
            LocationRow(
                0,
                given.name,
                given.description,
                given.encoding_type,
                given.location,
                given.properties,
            )
        )
        self.audit(None, "location.add", "location", location_id, name=given.name)
        for link in given.things:
            self.relocate(self.thing_of(link).id, [location_id])
        return location_id

    def relocate(self, thing_id: int, location_ids: Sequence[int]) -> None:
        """Make these the thing's current locations, record them, follow the newest point."""
        self.uow.sta.set_thing_locations(thing_id, location_ids)
        for location_id in location_ids:
            self.uow.sta.add_historical_location(thing_id, location_id, to_millis(self.now))
        point = self._newest_point(location_ids)
        thing = self.uow.things.get(thing_id)
        if point is None or thing is None or (thing.lon, thing.lat) == point:
            return
        placement = self.place(*point)
        self.principal.authorize("telemetry:write", ResourceScope(placement.grid_code))
        moved = replace(thing, lon=point[0], lat=point[1], placement=placement, updated_at=self.now)
        self.uow.things.update(moved)

    # --- sensors, observed properties, datastreams ------------------------------------------

    def sensor(self, given: SensorInput) -> int:
        """Create a sensor; return its id."""
        self.principal.require_somewhere("telemetry:write")
        ident = self.uow.sta.add_sensor(
            SensorRow(
                0,
                given.name,
                given.description,
                given.encoding_type,
                given.metadata,
                given.properties,
            )
        )
        self.audit(None, "sensor.add", "sensor", ident, name=given.name)
        return ident

    def observed_property(self, given: ObservedPropertyInput) -> int:
        """Create an observed property; return its id."""
        self.principal.require_somewhere("telemetry:write")
        ident = self.uow.sta.add_observed_property(
            ObservedPropertyRow(
                0, given.name, given.definition, given.description, given.metric, given.properties
            )
        )
        self.audit(None, "observed_property.add", "observed_property", ident, metric=given.metric)
        return ident

    def datastream(
        self,
        given: DatastreamInput,
        *,
        thing: int | None = None,
        sensor: int | None = None,
        observed_property: int | None = None,
    ) -> int:
        """Create a datastream; the URL's links win over none in the body."""
        field = f"{given.field}." if given.field else ""
        owner = self._thing_for(given, thing, field)
        sensor_id = sensor or self._sensor_id(given.sensor, field)
        property_row = self._property_for(given.observed_property, observed_property, field)
        metric = catalogue_metric(property_row.metric)
        check_unit(given.unit, metric.key, given.field)
        interval = given.properties.get("interval_seconds", DEFAULT_INTERVAL_SECONDS)
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValidationFailed.single(
                f"{field}properties.interval_seconds", "range", "a whole number of seconds ≥ 1"
            )
        grant = self.principal.authorize(
            "telemetry:write", ResourceScope(owner.placement.grid_code)
        )
        sensor_row = self.uow.sta.sensors([sensor_id])
        properties = {k: v for k, v in given.properties.items() if k not in ("key", "metric")}
        stream_id = self.uow.datastreams.add(
            NewDatastream(
                key=self._free_key(f"{owner.key}/{metric.key}"),
                thing_id=owner.id,
                metric=metric.key,
                name=given.name,
                description=given.description,
                unit=metric.unit,
                minimum=metric.minimum,
                maximum=metric.maximum,
                interval_seconds=min(interval, 604_800),
                sensor=sensor_row[0].name[:100] if sensor_row else "",
                properties=properties,
                at=self.now,
            )
        )
        self.uow.sta.set_datastream_links(
            DatastreamLinks(
                stream_id, sensor_id, property_row.id, given.observation_type, given.unit
            )
        )
        self.audit(grant, "datastream.add", "datastream", stream_id, metric=metric.key)
        return stream_id

    def _thing_for(self, given: DatastreamInput, thing: int | None, field: str) -> Thing:
        if thing is not None:
            found = self.uow.things.get(thing)
            if found is None:
                raise _known(f"{field}Thing", "Things", thing)
            return found
        if given.thing is None:
            raise ValidationFailed.single(
                f"{field}Thing", "required", "link the Datastream's Thing"
            )
        if isinstance(given.thing, Link):
            return self.thing_of(given.thing)
        created = self.uow.things.get(self.thing(given.thing))
        assert created is not None
        return created

    def _sensor_id(self, given: Link | SensorInput | None, field: str) -> int:
        if given is None:
            raise ValidationFailed.single(f"{field}Sensor", "required", "link or give the Sensor")
        if isinstance(given, Link):
            if not self.uow.sta.sensors([given.id]):
                raise _known(given.field, "Sensors", given.id)
            return given.id
        return self.sensor(given)

    def _property_for(
        self, given: Link | ObservedPropertyInput | None, url: int | None, field: str
    ) -> ObservedPropertyRow:
        ident: int | None = url
        if ident is None:
            if given is None:
                raise ValidationFailed.single(
                    f"{field}ObservedProperty", "required", "link or give the ObservedProperty"
                )
            ident = given.id if isinstance(given, Link) else self.observed_property(given)
        rows = self.uow.sta.observed_properties([ident])
        if not rows:
            where = given.field if isinstance(given, Link) else f"{field}ObservedProperty"
            raise _known(where, "ObservedProperties", ident)
        return rows[0]

    def _free_key(self, wanted: str) -> str:
        key, n = wanted, 1
        while self.uow.datastreams.by_key(key) is not None:
            n += 1
            key = f"{wanted}-{n}"
        return key


class StaWriter:
    """Runs creates in their transaction and links what ``/api/v1`` registered."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[StaUnitOfWork],
        clock: Clock,
        place: Placer,
        *,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._place = place
        self._on_change = on_change

    def run(self, principal: Principal, work: Callable[[Creation], int]) -> int:
        """Run creates in one transaction; return what ``work`` returns."""
        with self._unit_of_work() as uow:
            ident = work(Creation(uow, principal, self._clock, self._place))
            uow.commit()
        self._on_change()
        return ident

    def link_missing(self, *, datastreams: bool, things: bool) -> None:
        """Give ``/api/v1`` datastreams a Sensor and ObservedProperty, and things a Location."""
        if datastreams:
            with self._unit_of_work(read_only=True) as uow:
                missing = bool(uow.sta.unlinked_datastreams())
            if missing:
                with self._unit_of_work() as uow:
                    link_datastreams(uow)
                    uow.commit()
        if things:
            with self._unit_of_work(read_only=True) as uow:
                stale = stale_things(uow)
            if stale:
                with self._unit_of_work() as uow:
                    locate_things(uow, stale_things(uow), to_millis(self._clock.now()))
                    uow.commit()
