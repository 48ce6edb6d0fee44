"""Time-series reads: latest values, raw ranges and rollup buckets (same SQL on both stores)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, text

from cityops.sensing.ports import Bucket, Reading
from cityops.storage.repositories.observations import ROLLUP_TABLES

_LATEST_ALL = text("SELECT datastream_id, phenomenon_time, result, quality FROM stream_latest")
_LATEST_SOME = text(
    "SELECT datastream_id, phenomenon_time, result, quality FROM stream_latest "
    "WHERE datastream_id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def _range_sql(order: str) -> str:
    return (
        "SELECT datastream_id, phenomenon_time, result, quality FROM observations "
        "WHERE datastream_id IN :ids AND phenomenon_time >= :start AND phenomenon_time < :end "
        f"ORDER BY datastream_id, phenomenon_time {order} LIMIT :limit"
    )


_RANGE = {
    order: text(_range_sql(order)).bindparams(bindparam("ids", expanding=True))
    for order in ("ASC", "DESC")
}
_BUCKETS = {
    level: text(
        "SELECT datastream_id, bucket, n, total, minimum, maximum, first_time, first_value, "
        f"last_time, last_value, aux_a, aux_b FROM {table} "
        "WHERE datastream_id IN :ids AND bucket >= :start AND bucket < :end "
        "ORDER BY datastream_id, bucket"
    ).bindparams(bindparam("ids", expanding=True))
    for level, table in ROLLUP_TABLES.items()
}
_COUNT = text("SELECT count(*) FROM observations")


class SqlObservationReads:
    """Reads of observations and rollups over one connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def latest(self, stream_ids: Sequence[int] | None = None) -> list[Reading]:
        """Return the newest good reading of each stream (all streams when ``None``)."""
        if stream_ids is not None and not stream_ids:
            return []
        statement = _LATEST_ALL if stream_ids is None else _LATEST_SOME
        params = {} if stream_ids is None else {"ids": list(stream_ids)}
        return [Reading(*row) for row in self._connection.execute(statement, params)]

    def readings(
        self,
        stream_ids: Sequence[int],
        start: int,
        end: int,
        *,
        limit: int,
        newest_first: bool = False,
    ) -> list[Reading]:
        """Return raw readings in ``[start, end)`` (epoch ms), by stream then time."""
        if not stream_ids:
            return []
        statement = _RANGE["DESC" if newest_first else "ASC"]
        rows = self._connection.execute(
            statement, {"ids": list(stream_ids), "start": start, "end": end, "limit": limit}
        )
        return [Reading(*row) for row in rows]

    def buckets(self, level: str, stream_ids: Sequence[int], start: int, end: int) -> list[Bucket]:
        """Return the rollup buckets of a level (minute, hour, day) starting in ``[start, end)``."""
        if not stream_ids:
            return []
        rows = self._connection.execute(
            _BUCKETS[level], {"ids": list(stream_ids), "start": start, "end": end}
        )
        return [Bucket(*row) for row in rows]

    def count(self) -> int:
        """Return how many readings are stored."""
        return int(self._connection.execute(_COUNT).scalar_one())
