"""SensorThings entities in SQL: sensors, observed properties, locations and their links.

The SensorThings columns of ``datastreams`` (sensor, observed property, declared type and unit)
are read and written here too; the datastream itself is :mod:`.sensing`'s. The same statements
run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cityops.kernel.errors import Conflict
from cityops.sensing.sta_ports import (
    DatastreamLinks,
    HistoricalLocationRow,
    LocationRow,
    ObservedPropertyRow,
    SensorRow,
)
from cityops.storage.schema_sensing import (
    datastreams,
    historical_locations,
    locations,
    obs_pending,
    observed_properties,
    rollups_day,
    sensors,
    thing_locations,
    things,
)

_MAX_IDS = 10_000  # ids per IN list, below every driver's parameter limit


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + _MAX_IDS] for i in range(0, len(unique), _MAX_IDS)]


class SqlStaRepository:
    """SensorThings rows over one connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _rows(self, table: Any, ids: Sequence[int] | None) -> list[Any]:
        if ids is None:
            statement = select(table).order_by(table.c.id)
            return list(self._connection.execute(statement).mappings())
        found: list[Any] = []
        for chunk in _chunks(ids):
            statement = select(table).where(table.c.id.in_(chunk)).order_by(table.c.id)
            found.extend(self._connection.execute(statement).mappings())
        return found

    def sensors(self, ids: Sequence[int] | None = None) -> list[SensorRow]:
        """Return sensors by id (all when ``ids`` is None)."""
        return [
            SensorRow(
                r["id"],
                r["name"],
                r["description"],
                r["encoding_type"],
                r["metadata"],
                dict(r["properties"] or {}),
            )
            for r in self._rows(sensors, ids)
        ]

    def observed_properties(self, ids: Sequence[int] | None = None) -> list[ObservedPropertyRow]:
        """Return observed properties by id (all when ``ids`` is None)."""
        return [
            ObservedPropertyRow(
                r["id"],
                r["name"],
                r["definition"],
                r["description"],
                r["metric"],
                dict(r["properties"] or {}),
            )
            for r in self._rows(observed_properties, ids)
        ]

    def locations(self, ids: Sequence[int] | None = None) -> list[LocationRow]:
        """Return locations by id (all when ``ids`` is None)."""
        return [
            LocationRow(
                r["id"],
                r["name"],
                r["description"],
                r["encoding_type"],
                dict(r["location"] or {}),
                dict(r["properties"] or {}),
            )
            for r in self._rows(locations, ids)
        ]

    def thing_locations(self) -> list[tuple[int, int]]:
        """Return every (thing id, location id) link."""
        statement = select(thing_locations.c.thing_id, thing_locations.c.location_id).order_by(
            thing_locations.c.thing_id, thing_locations.c.location_id
        )
        return [(row[0], row[1]) for row in self._connection.execute(statement)]

    def historical_locations(self) -> list[HistoricalLocationRow]:
        """Return every historical location by id."""
        statement = select(historical_locations).order_by(historical_locations.c.id)
        return [
            HistoricalLocationRow(r["id"], r["thing_id"], r["location_id"], r["time"])
            for r in self._connection.execute(statement).mappings()
        ]

    def datastream_links(self, ids: Sequence[int] | None = None) -> dict[int, DatastreamLinks]:
        """Return the SensorThings links of datastreams by id."""
        columns = (
            datastreams.c.id,
            datastreams.c.sensor_id,
            datastreams.c.observed_property_id,
            datastreams.c.observation_type,
            datastreams.c.unit_of_measurement,
        )
        statements = (
            [select(*columns)]
            if ids is None
            else [select(*columns).where(datastreams.c.id.in_(c)) for c in _chunks(ids)]
        )
        found: dict[int, DatastreamLinks] = {}
        for statement in statements:
            for row in self._connection.execute(statement):
                unit = row[4]
                found[row[0]] = DatastreamLinks(
                    row[0], row[1], row[2], row[3], dict(unit) if unit else None
                )
        return found

    def unlinked_datastreams(self) -> list[tuple[int, str, str]]:
        """Return (id, metric, sensor text) of datastreams missing a sensor or property link."""
        statement = (
            select(datastreams.c.id, datastreams.c.metric, datastreams.c.sensor)
            .where(
                or_(
                    datastreams.c.sensor_id.is_(None),
                    datastreams.c.observed_property_id.is_(None),
                )
            )
            .order_by(datastreams.c.id)
        )
        return [(row[0], row[1], row[2]) for row in self._connection.execute(statement)]

    def time_spans(self, ids: Sequence[int] | None = None) -> dict[int, tuple[int, int]]:
        """Return each datastream's first and last good reading time (day rollups and queue)."""
        statement = select(
            rollups_day.c.datastream_id,
            func.min(rollups_day.c.first_time),
            func.max(rollups_day.c.last_time),
        ).group_by(rollups_day.c.datastream_id)
        queued = select(
            obs_pending.c.datastream_id,
            func.min(obs_pending.c.phenomenon_time),
            func.max(obs_pending.c.phenomenon_time),
        ).group_by(obs_pending.c.datastream_id)
        if ids is not None:
            wanted = sorted(set(ids))
            statement = statement.where(rollups_day.c.datastream_id.in_(wanted))
            queued = queued.where(obs_pending.c.datastream_id.in_(wanted))
        spans = {row[0]: (row[1], row[2]) for row in self._connection.execute(statement)}
        # Readings not yet folded into the day rollups widen the span too.
        for stream, first, last in self._connection.execute(queued):
            known = spans.get(stream)
            spans[stream] = (
                (first, last)
                if known is None
                else (
                    min(known[0], first),
                    max(known[1], last),
                )
            )
        return spans

    def _insert(self, table: Any, row: Mapping[str, Any]) -> int:
        with self._connection.begin_nested():
            statement = insert(table).returning(table.c.id)
            return int(self._connection.execute(statement, dict(row)).scalar_one())

    def add_sensor(self, row: SensorRow) -> int:
        """Insert a sensor and return its id."""
        return self._insert(sensors, _sensor_values(row))

    def add_observed_property(self, row: ObservedPropertyRow) -> int:
        """Insert an observed property and return its id."""
        return self._insert(observed_properties, _property_values(row))

    def add_location(self, row: LocationRow) -> int:
        """Insert a location and return its id."""
        return self._insert(locations, _location_values(row))

    def add_historical_location(self, thing_id: int, location_id: int, time: int) -> int:
        """Record that a thing is at a location from ``time`` on."""
        values = {"thing_id": thing_id, "location_id": location_id, "time": time}
        return self._insert(historical_locations, values)

    def set_thing_key(self, thing_id: int, key: str) -> None:
        """Give a thing its cityops key."""
        try:
            with self._connection.begin_nested():
                self._connection.execute(
                    update(things).where(things.c.id == thing_id).values(key=key)
                )
        except IntegrityError:
            raise Conflict(f"a thing with key {key!r} already exists") from None

    def set_thing_locations(self, thing_id: int, location_ids: Sequence[int]) -> None:
        """Make ``location_ids`` the thing's current locations."""
        self._connection.execute(
            delete(thing_locations).where(thing_locations.c.thing_id == thing_id)
        )
        rows = [{"thing_id": thing_id, "location_id": i} for i in sorted(set(location_ids))]
        if rows:
            self._connection.execute(insert(thing_locations), rows)

    def update_sensor(self, row: SensorRow) -> None:
        """Replace a sensor's fields."""
        self._update(sensors, row.id, _sensor_values(row))

    def update_observed_property(self, row: ObservedPropertyRow) -> None:
        """Replace an observed property's fields."""
        self._update(observed_properties, row.id, _property_values(row))

    def update_location(self, row: LocationRow) -> None:
        """Replace a location's fields."""
        self._update(locations, row.id, _location_values(row))

    def set_datastream_links(self, links: DatastreamLinks) -> None:
        """Replace a datastream's SensorThings links and declarations."""
        unit = links.unit_of_measurement
        self._update(
            datastreams,
            links.datastream_id,
            {
                "sensor_id": links.sensor_id,
                "observed_property_id": links.observed_property_id,
                "observation_type": links.observation_type,
                "unit_of_measurement": dict(unit) if unit is not None else None,
            },
        )

    def update_datastream_text(
        self, stream_id: int, name: str, description: str, properties: Mapping[str, Any]
    ) -> None:
        """Replace a datastream's name, description and properties."""
        values = {"name": name, "description": description, "properties": dict(properties)}
        self._update(datastreams, stream_id, values)

    def _update(self, table: Any, ident: int, values: Mapping[str, Any]) -> None:
        self._connection.execute(update(table).where(table.c.id == ident).values(**values))


def _sensor_values(row: SensorRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "encoding_type": row.encoding_type,
        "metadata": row.metadata,
        "properties": dict(row.properties),
    }


def _property_values(row: ObservedPropertyRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "definition": row.definition,
        "description": row.description,
        "metric": row.metric,
        "properties": dict(row.properties),
    }


def _location_values(row: LocationRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "encoding_type": row.encoding_type,
        "location": dict(row.location),
        "properties": dict(row.properties),
    }
