"""Give what ``/api/v1`` registered its SensorThings links, the first time a read needs them.

Datastreams registered through ``/api/v1/things/{key}/datastreams`` name a metric but no Sensor
or ObservedProperty: each gets the ObservedProperty of its metric (created once per metric,
named after it) and a Sensor named after its ``sensor`` text (``unspecified sensor`` when
empty). Things registered or moved through ``/api/v1`` have a point but no Location showing it:
each gets a Location with that Point, made its current one and recorded as a HistoricalLocation.
These are short writes before the read, done only when something is missing.
"""

from __future__ import annotations

from cityops.sensing.metrics import metric as catalogue_metric
from cityops.sensing.model import ENCODING_GEOJSON, Thing
from cityops.sensing.sta_entities import point_of
from cityops.sensing.sta_ports import (
    DatastreamLinks,
    LocationRow,
    ObservedPropertyRow,
    SensorRow,
    StaUnitOfWork,
)

_UNSPECIFIED_SENSOR = "unspecified sensor"


def link_datastreams(uow: StaUnitOfWork) -> None:
    """Link every datastream missing a Sensor or ObservedProperty (inside ``uow``)."""
    properties: dict[str, int] = {}
    for row in sorted(uow.sta.observed_properties(), key=lambda r: r.id, reverse=True):
        properties[row.metric] = row.id
    sensors = {row.name: row.id for row in sorted(uow.sta.sensors(), key=lambda r: -r.id)}
    links = uow.sta.datastream_links()
    for stream_id, metric_key, sensor_text in uow.sta.unlinked_datastreams():
        metric = catalogue_metric(metric_key)
        if metric.key not in properties:
            properties[metric.key] = uow.sta.add_observed_property(
                ObservedPropertyRow(
                    0,
                    metric.name_en,
                    f"urn:cityops:metric:{metric.key}",
                    metric.name_zh,
                    metric.key,
                    {},
                )
            )
        name = sensor_text or _UNSPECIFIED_SENSOR
        if name not in sensors:
            sensors[name] = uow.sta.add_sensor(
                SensorRow(0, name, "registered through /api/v1", "text/plain", "", {})
            )
        old = links.get(stream_id)
        uow.sta.set_datastream_links(
            DatastreamLinks(
                stream_id,
                (old.sensor_id if old else None) or sensors[name],
                (old.observed_property_id if old else None) or properties[metric.key],
                old.observation_type if old else None,
                old.unit_of_measurement if old else None,
            )
        )


def stale_things(uow: StaUnitOfWork) -> list[Thing]:
    """Return the things with a point that no current Location of theirs shows."""
    current: dict[int, list[int]] = {}
    for thing_id, location_id in uow.sta.thing_locations():
        current.setdefault(thing_id, []).append(location_id)
    located = [t for t in uow.things.list() if t.lon is not None and t.lat is not None]
    wanted = {loc for t in located for loc in current.get(t.id, [])}
    rows = {row.id: row for row in uow.sta.locations(sorted(wanted))} if wanted else {}
    stale: list[Thing] = []
    for thing in located:
        points = [
            point_of(rows[i].location) for i in sorted(current.get(thing.id, [])) if i in rows
        ]
        shown = [p for p in points if p is not None]
        if current.get(thing.id) and not shown:
            continue  # located by an area only: the point came from elsewhere
        if not shown or shown[-1] != (thing.lon, thing.lat):
            stale.append(thing)
    return stale


def locate_things(uow: StaUnitOfWork, things: list[Thing], now: int) -> None:
    """Give each thing a Location at its point, current from ``now`` (UTC epoch ms)."""
    for thing in things:
        location_id = uow.sta.add_location(
            LocationRow(
                0,
                thing.name,
                f"{thing.key} (from /api/v1)",
                ENCODING_GEOJSON,
                {"type": "Point", "coordinates": [thing.lon, thing.lat]},
                {},
            )
        )
        uow.sta.set_thing_locations(thing.id, [location_id])
        uow.sta.add_historical_location(thing.id, location_id, now)
