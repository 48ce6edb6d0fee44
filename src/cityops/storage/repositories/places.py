"""The gazetteer's places in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely
from sqlalchemy import Connection, delete, func, insert, select

from cityops.geo.gazetteer import NamedPlace
from cityops.geo.places import PlacePoint
from cityops.storage.schema import places

_CHUNK = 500


class SqlPlaceRepository:
    """Roads, addresses and points of interest, keyed by their source key."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def keys(self) -> dict[str, NamedPlace]:
        """Return every stored place by key."""
        return {p.key: p for p in self.all()}

    def all(self) -> list[NamedPlace]:
        """Return every place."""
        rows = self._connection.execute(select(places).order_by(places.c.id)).mappings()
        return [_place(row) for row in rows]

    def upsert_many(self, items: Sequence[NamedPlace]) -> None:
        """Replace places by key, in batches."""
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            self._connection.execute(
                delete(places).where(places.c.source_key.in_([p.key for p in chunk]))
            )
            self._connection.execute(
                insert(places),
                [
                    {
                        "kind": p.kind,
                        "name": p.name,
                        "aliases": list(p.aliases),
                        "geometry": shapely.to_wkb(p.geometry),
                        "lon": p.lon,
                        "lat": p.lat,
                        "source_key": p.key,
                    }
                    for p in chunk
                ],
            )

    def in_box(
        self, box: tuple[float, float, float, float], kinds: Sequence[str], limit: int
    ) -> list[PlacePoint]:
        """Return up to ``limit`` places of ``kinds`` whose point lies in a lon/lat box, by id."""
        p = places.c
        min_lon, min_lat, max_lon, max_lat = box
        query = (
            select(p.id, p.kind, p.name, p.lon, p.lat)
            .where(
                p.kind.in_(list(kinds)),
                p.lon.between(min_lon, max_lon),
                p.lat.between(min_lat, max_lat),
            )
            .order_by(p.id)
            .limit(limit)
        )
        return [
            PlacePoint(int(row.id), str(row.kind), str(row.name), float(row.lon), float(row.lat))
            for row in self._connection.execute(query)
        ]

    def revision(self) -> tuple[int, int]:
        """Return (highest id, count): changes whenever places change."""
        row = self._connection.execute(
            select(func.coalesce(func.max(places.c.id), 0), func.count()).select_from(places)
        ).one()
        return int(row[0]), int(row[1])


def _place(row: Any) -> NamedPlace:
    return NamedPlace(
        key=row["source_key"],
        kind=row["kind"],
        name=row["name"],
        aliases=tuple(row["aliases"] or ()),
        geometry=shapely.from_wkb(row["geometry"]),
    )
