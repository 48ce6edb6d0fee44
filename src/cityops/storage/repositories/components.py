"""Components (管理部件) in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from cityops.catalog.components import Component
from cityops.storage.schema import components

_CHUNK = 500
_FIELDS = (
    "id",
    "class_code",
    "name",
    "department_code",
    "department_name",
    "status",
    "initial_date",
    "lon",
    "lat",
    "owner_code",
    "owner_name",
    "maintainer_code",
    "maintainer_name",
    "change_date",
    "data_source",
    "note",
    "grid_code",
    "street_code",
    "street_name",
    "community_code",
    "community_name",
)


def _component(row: Any) -> Component:
    return Component(**{name: row[name] for name in _FIELDS})


class SqlComponentRepository:
    """Components by id, area, grid and class."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get_many(self, ids: Sequence[str]) -> dict[str, Component]:
        """Return stored components by id."""
        found: dict[str, Component] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = self._connection.execute(
                select(components).where(components.c.id.in_(ids[start : start + _CHUNK]))
            ).mappings()
            found.update({row["id"]: _component(row) for row in rows})
        return found

    def upsert_many(self, items: Sequence[Component], at: datetime) -> None:
        """Replace (delete + insert) components in batches."""
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            self._connection.execute(
                delete(components).where(components.c.id.in_([c.id for c in chunk]))
            )
            self._connection.execute(
                insert(components),
                [
                    {
                        **{name: getattr(c, name) for name in _FIELDS},
                        "division_code": c.division_code,
                        "updated_at": at,
                    }
                    for c in chunk
                ],
            )

    def in_box(
        self,
        min_lon: float,
        min_lat: float,
        max_lon: float,
        max_lat: float,
        class_code: str | None,
        limit: int,
    ) -> list[Component]:
        """Return components inside a box."""
        query = select(components).where(
            components.c.lon.between(min_lon, max_lon), components.c.lat.between(min_lat, max_lat)
        )
        if class_code is not None:
            query = query.where(components.c.class_code == class_code)
        rows = self._connection.execute(query.order_by(components.c.id).limit(limit)).mappings()
        return [_component(row) for row in rows]

    def find(
        self, *, grid_code: str | None, class_code: str | None, limit: int, offset: int
    ) -> list[Component]:
        """Return components by grid and class."""
        query = select(components)
        if grid_code is not None:
            query = query.where(components.c.grid_code == grid_code)
        if class_code is not None:
            query = query.where(components.c.class_code == class_code)
        rows = self._connection.execute(
            query.order_by(components.c.id).limit(limit).offset(offset)
        ).mappings()
        return [_component(row) for row in rows]

    def count(self) -> int:
        """Return the number of components."""
        return int(
            self._connection.execute(select(func.count()).select_from(components)).scalar_one()
        )
