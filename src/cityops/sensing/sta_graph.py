"""One request's view of the SensorThings entities, loaded on first use, navigable both ways.

The view is limited to what the caller may read, and each entity is rendered as JSON once.

The small entity sets are read whole (a city has thousands of devices, not millions), which is
what lets ``$filter`` run in Python on them. Observations are never loaded here: the service
asks the store for the page it needs. A caller whose ``telemetry:read`` is not city-wide sees
the things of its grids, their datastreams, historical locations and observations, the
locations linked to them or to nothing, and every sensor and observed property.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from cityops.auth.model import Principal
from cityops.auth.scopes import ResourceScope
from cityops.sensing.model import Datastream, Thing
from cityops.sensing.sta_entities import (
    datastream_json,
    feature_json,
    historical_location_json,
    location_json,
    observation_json,
    observed_property_json,
    point_of,
    sensor_json,
    split_observation_id,
    thing_json,
)
from cityops.sensing.sta_ports import (
    DatastreamLinks,
    HistoricalLocationRow,
    LocationRow,
    ObservedPropertyRow,
    SensorRow,
    StaUnitOfWork,
)

Json = dict[str, Any]


class Graph:
    """The entities one request may see, over one open unit of work."""

    def __init__(self, uow: StaUnitOfWork, principal: Principal, base: str) -> None:
        self._uow = uow
        self._principal = principal
        self.base = base
        self.everything = principal.can("telemetry:read")
        self._json: dict[tuple[str, int], Json | None] = {}

    # --- the sets -------------------------------------------------------------------------------

    @cached_property
    def things(self) -> dict[int, Thing]:
        """Visible things by id."""
        return {
            t.id: t
            for t in self._uow.things.list()
            if self.everything
            or self._principal.can("telemetry:read", ResourceScope(t.placement.grid_code))
        }

    @cached_property
    def datastreams(self) -> dict[int, Datastream]:
        """Visible datastreams by id."""
        found = self._uow.datastreams.list()
        return {s.id: s for s in found if self.everything or s.thing_id in self.things}

    @cached_property
    def links(self) -> dict[int, DatastreamLinks]:
        """Datastreams' SensorThings links by datastream id."""
        return self._uow.sta.datastream_links()

    @cached_property
    def spans(self) -> dict[int, tuple[int, int]]:
        """Datastreams' first and last reading times."""
        return self._uow.sta.time_spans()

    @cached_property
    def sensors(self) -> dict[int, SensorRow]:
        """Sensors by id."""
        return {s.id: s for s in self._uow.sta.sensors()}

    @cached_property
    def observed_properties(self) -> dict[int, ObservedPropertyRow]:
        """Observed properties by id."""
        return {p.id: p for p in self._uow.sta.observed_properties()}

    @cached_property
    def thing_locations(self) -> list[tuple[int, int]]:
        """(thing, location) links of visible things."""
        pairs = self._uow.sta.thing_locations()
        return [(t, loc) for t, loc in pairs if self.everything or t in self.things]

    @cached_property
    def historical(self) -> dict[int, HistoricalLocationRow]:
        """Visible historical locations by id."""
        rows = self._uow.sta.historical_locations()
        return {h.id: h for h in rows if self.everything or h.thing_id in self.things}

    @cached_property
    def locations(self) -> dict[int, LocationRow]:
        """Visible locations by id: linked to a visible thing, or to none."""
        rows = self._uow.sta.locations()
        if self.everything:
            return {row.id: row for row in rows}
        seen = {loc for _, loc in self.thing_locations}
        seen.update(h.location_id for h in self.historical.values())
        linked = {loc for _, loc in self._uow.sta.thing_locations()}
        linked.update(h.location_id for h in self._uow.sta.historical_locations())
        return {row.id: row for row in rows if row.id in seen or row.id not in linked}

    @cached_property
    def _current(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for thing, location in self.thing_locations:
            found[thing].append(location)
        return found

    def ids(self, entity_set: str) -> list[int]:
        """Return every visible id of a small entity set, in id order."""
        sources: dict[str, Mapping[int, Any]] = {
            "Things": self.things,
            "Locations": self.locations,
            "FeaturesOfInterest": self.locations,
            "HistoricalLocations": self.historical,
            "Datastreams": self.datastreams,
            "Sensors": self.sensors,
            "ObservedProperties": self.observed_properties,
        }
        return sorted(sources[entity_set])

    # --- JSON -----------------------------------------------------------------------------------

    def entity(self, entity_set: str, ident: int) -> Json | None:
        """Return an entity's JSON, or None when it does not exist or is not visible."""
        key = (entity_set, ident)
        if key not in self._json:
            self._json[key] = self._render(entity_set, ident)
        found = self._json[key]
        return None if found is None else dict(found)

    def _render(self, entity_set: str, ident: int) -> Json | None:
        base = self.base
        if entity_set == "Observations":
            stream_id, millis = split_observation_id(ident)
            if stream_id not in self.datastreams:
                return None
            reading = self._uow.sta_observations.get(stream_id, millis)
            return None if reading is None else observation_json(base, reading)
        if entity_set == "Datastreams":
            stream = self.datastreams.get(ident)
            if stream is None:
                return None
            thing = self.things.get(stream.thing_id)
            point = (thing.lon, thing.lat) if thing and thing.lon is not None else None
            coordinates = None if point is None or point[1] is None else (point[0], point[1])
            links, span = self.links.get(ident), self.spans.get(ident)
            return datastream_json(base, stream, links, span, coordinates)
        renderers: dict[str, Any] = {
            "Things": (self.things, thing_json),
            "Locations": (self.locations, location_json),
            "FeaturesOfInterest": (self.locations, feature_json),
            "HistoricalLocations": (self.historical, historical_location_json),
            "Sensors": (self.sensors, sensor_json),
            "ObservedProperties": (self.observed_properties, observed_property_json),
        }
        rows, render = renderers[entity_set]
        row = rows.get(ident)
        return None if row is None else dict(render(base, row))

    # --- navigation -----------------------------------------------------------------------------

    def related(self, entity_set: str, ident: int, navigation: str) -> list[int]:
        """Return the ids a navigation property leads to (not for Observations)."""
        key = (entity_set, navigation)
        if key == ("Things", "Locations"):
            return sorted(loc for loc in self._current.get(ident, []) if loc in self.locations)
        if key == ("Things", "HistoricalLocations"):
            return sorted(h.id for h in self.historical.values() if h.thing_id == ident)
        if key == ("Things", "Datastreams"):
            return sorted(s.id for s in self.datastreams.values() if s.thing_id == ident)
        if key == ("Locations", "Things"):
            return sorted(t for t, loc in self.thing_locations if loc == ident)
        if key == ("Locations", "HistoricalLocations"):
            return sorted(h.id for h in self.historical.values() if h.location_id == ident)
        if entity_set == "HistoricalLocations":
            row = self.historical.get(ident)
            if row is None:
                return []
            return [row.thing_id] if navigation == "Thing" else [row.location_id]
        if entity_set == "Datastreams":
            return self._from_datastream(ident, navigation)
        if entity_set in ("Sensors", "ObservedProperties"):
            field = "sensor_id" if entity_set == "Sensors" else "observed_property_id"
            return sorted(
                s for s in self.datastreams if getattr(self.links.get(s), field, None) == ident
            )
        if entity_set == "Observations":
            stream_id = split_observation_id(ident)[0]
            if navigation == "Datastream":
                return [stream_id] if stream_id in self.datastreams else []
            return self.feature_of(stream_id)
        return []

    def _from_datastream(self, ident: int, navigation: str) -> list[int]:
        stream = self.datastreams.get(ident)
        if stream is None:
            return []
        links = self.links.get(ident)
        found = {
            "Thing": stream.thing_id,
            "Sensor": links.sensor_id if links else None,
            "ObservedProperty": links.observed_property_id if links else None,
        }.get(navigation)
        return [] if found is None else [found]

    def feature_of(self, stream_id: int) -> list[int]:
        """Return the FeatureOfInterest of a datastream's readings: its thing's newest location."""
        stream = self.datastreams.get(stream_id)
        current = self._current.get(stream.thing_id, []) if stream else []
        return [max(current)] if current else []

    def streams_at(self, location_ids: Sequence[int]) -> tuple[int, ...]:
        """Return the datastreams of the things whose newest location is one of these."""
        wanted = set(location_ids)
        return tuple(sorted(s for s in self.datastreams if set(self.feature_of(s)) & wanted))

    def navigate(self, entity_set: str, entity: Mapping[str, Any], navigation: str) -> list[Json]:
        """Return the related entities' JSON (what the filter evaluator walks)."""
        target = _TARGETS[(entity_set, navigation)]
        found = (
            self.entity(target, i) for i in self.related(entity_set, entity["@iot.id"], navigation)
        )
        return [f for f in found if f is not None]

    def point(self, location: LocationRow) -> tuple[float, float] | None:
        """Return a location's point, if it is one."""
        return point_of(location.location)


_TARGETS: dict[tuple[str, str], str] = {
    ("Things", "Locations"): "Locations",
    ("Things", "HistoricalLocations"): "HistoricalLocations",
    ("Things", "Datastreams"): "Datastreams",
    ("Locations", "Things"): "Things",
    ("Locations", "HistoricalLocations"): "HistoricalLocations",
    ("HistoricalLocations", "Thing"): "Things",
    ("HistoricalLocations", "Locations"): "Locations",
    ("Datastreams", "Thing"): "Things",
    ("Datastreams", "Sensor"): "Sensors",
    ("Datastreams", "ObservedProperty"): "ObservedProperties",
    ("Sensors", "Datastreams"): "Datastreams",
    ("ObservedProperties", "Datastreams"): "Datastreams",
    ("Observations", "Datastream"): "Datastreams",
    ("Observations", "FeatureOfInterest"): "FeaturesOfInterest",
}
