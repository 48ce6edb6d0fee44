"""Things and datastreams in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from cityops.kernel.errors import Conflict
from cityops.sensing.model import Datastream, Placement, Thing
from cityops.sensing.ports import NewDatastream, NewThing
from cityops.storage.schema_sensing import datastreams, things


def _thing(row: Any) -> Thing:
    return Thing(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        description=row["description"],
        lon=row["lon"],
        lat=row["lat"],
        placement=Placement(
            grid_code=row["grid_code"],
            community_code=row["community_code"],
            street_code=row["street_code"],
            district_code=row["district_code"],
        ),
        properties=dict(row["properties"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _stream(row: Any) -> Datastream:
    return Datastream(
        id=row["id"],
        key=row["key"],
        thing_id=row["thing_id"],
        metric=row["metric"],
        name=row["name"],
        description=row["description"],
        unit=row["unit"],
        minimum=row["minimum"],
        maximum=row["maximum"],
        interval_seconds=row["interval_seconds"],
        sensor=row["sensor"],
        properties=dict(row["properties"] or {}),
        created_at=row["created_at"],
        minute_rollups=bool(row["minute_rollups"]),
    )


def _placement_row(placement: Placement) -> dict[str, Any]:
    return {
        "grid_code": placement.grid_code,
        "community_code": placement.community_code,
        "street_code": placement.street_code,
        "district_code": placement.district_code,
    }


class SqlThingRepository:
    """Things by id and key."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, thing: NewThing) -> int:
        """Insert a thing and return its id; a repeated key raises Conflict."""
        row = {
            "key": thing.key,
            "name": thing.name,
            "description": thing.description,
            "lon": thing.lon,
            "lat": thing.lat,
            **_placement_row(thing.placement),
            "properties": dict(thing.properties),
            "created_at": thing.at,
            "updated_at": thing.at,
        }
        try:
            with self._connection.begin_nested():
                # Read the id inside the savepoint: SQLite cannot release it mid-statement.
                return int(
                    self._connection.execute(
                        insert(things).returning(things.c.id), row
                    ).scalar_one()
                )
        except IntegrityError:
            raise Conflict(f"a thing with key {thing.key!r} already exists") from None

    def update(self, thing: Thing) -> None:
        """Replace a thing's fields (by id)."""
        self._connection.execute(
            update(things)
            .where(things.c.id == thing.id)
            .values(
                name=thing.name,
                description=thing.description,
                lon=thing.lon,
                lat=thing.lat,
                properties=dict(thing.properties),
                updated_at=thing.updated_at,
                **_placement_row(thing.placement),
            )
        )

    def get(self, thing_id: int) -> Thing | None:
        """Return a thing by id."""
        row = self._connection.execute(select(things).where(things.c.id == thing_id)).mappings()
        found = row.first()
        return _thing(found) if found else None

    def by_key(self, key: str) -> Thing | None:
        """Return a thing by key."""
        row = self._connection.execute(select(things).where(things.c.key == key)).mappings()
        found = row.first()
        return _thing(found) if found else None

    def list(self, *, grid_prefix: str | None = None) -> list[Thing]:
        """Return things by id (those whose grid code starts with ``grid_prefix``)."""
        statement = select(things).order_by(things.c.id)
        if grid_prefix:
            statement = statement.where(things.c.grid_code.startswith(grid_prefix, autoescape=True))
        return [_thing(row) for row in self._connection.execute(statement).mappings()]


class SqlDatastreamRepository:
    """Datastreams by id, key and thing."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, stream: NewDatastream) -> int:
        """Insert a datastream and return its id; a repeated key raises Conflict."""
        row = {
            "key": stream.key,
            "thing_id": stream.thing_id,
            "metric": stream.metric,
            "name": stream.name,
            "description": stream.description,
            "unit": stream.unit,
            "minimum": stream.minimum,
            "maximum": stream.maximum,
            "interval_seconds": stream.interval_seconds,
            "minute_rollups": stream.minute_rollups,
            "sensor": stream.sensor,
            "properties": dict(stream.properties),
            "created_at": stream.at,
        }
        try:
            with self._connection.begin_nested():
                return int(
                    self._connection.execute(
                        insert(datastreams).returning(datastreams.c.id), row
                    ).scalar_one()
                )
        except IntegrityError:
            raise Conflict(f"a datastream with key {stream.key!r} already exists") from None

    def get(self, stream_id: int) -> Datastream | None:
        """Return a datastream by id."""
        rows = self._connection.execute(select(datastreams).where(datastreams.c.id == stream_id))
        found = rows.mappings().first()
        return _stream(found) if found else None

    def by_key(self, key: str) -> Datastream | None:
        """Return a datastream by key."""
        rows = self._connection.execute(select(datastreams).where(datastreams.c.key == key))
        found = rows.mappings().first()
        return _stream(found) if found else None

    def list(self, *, thing_id: int | None = None) -> list[Datastream]:
        """Return datastreams by id (of one thing)."""
        statement = select(datastreams).order_by(datastreams.c.id)
        if thing_id is not None:
            statement = statement.where(datastreams.c.thing_id == thing_id)
        return [_stream(row) for row in self._connection.execute(statement).mappings()]

    def thing_keys(self) -> dict[int, str]:
        """Return every thing's key by id."""
        rows = self._connection.execute(select(things.c.id, things.c.key))
        return {row.id: row.key for row in rows}
