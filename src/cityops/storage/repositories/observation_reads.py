"""Time-series reads: latest values, raw ranges and rollup buckets (same SQL on both stores).

Rollups and latest values are answered from their tables *plus* the fold queue: readings stored
but not yet folded (:mod:`~cityops.storage.repositories.observation_rollups`) are grouped the same
way at read time and merged in, so an answer includes every committed reading however far the
fold is behind, and a reader never writes or waits for a fold. The queue is short while the fold
keeps up (a background fold is due at 100,000 readings or after 10 s, ``sensing/rollups.py``);
when the fold runs behind, reads pay for scanning it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import Connection, TextClause, bindparam, text

from cityops.sensing.ports import Bucket, Reading
from cityops.storage.repositories.observation_rollups import LEVELS, ROLLUP_TABLES

_LATEST_ALL = text("SELECT datastream_id, phenomenon_time, result, quality FROM stream_latest")
_LATEST_SOME = text(
    "SELECT datastream_id, phenomenon_time, result, quality FROM stream_latest "
    "WHERE datastream_id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def _queued_latest_sql(where: str) -> str:
    return (
        "SELECT ds, t, v, q FROM (SELECT datastream_id AS ds, phenomenon_time AS t, "
        "result AS v, quality AS q, row_number() OVER (PARTITION BY datastream_id "
        f"ORDER BY phenomenon_time DESC) AS newest FROM obs_pending {where}) AS ranked "
        "WHERE newest = 1"
    )


_QUEUED_LATEST_ALL = text(_queued_latest_sql(""))
_QUEUED_LATEST_SOME = text(_queued_latest_sql("WHERE datastream_id IN :ids")).bindparams(
    bindparam("ids", expanding=True)
)


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
_QUEUED = text("SELECT count(*) FROM (SELECT 1 FROM obs_pending LIMIT :n) AS q")
_QUEUED_PART = text(
    "SELECT count(*) FROM (SELECT 1 FROM obs_pending WHERE datastream_id % :parts = :part "
    "LIMIT :n) AS q"
)


@cache
def _queued_buckets(level: str, offset: int) -> TextClause:
    """Return the statement that groups the queue's readings into one level's buckets."""
    size = LEVELS[level]
    return text(f"""
SELECT ds, bucket, count(*), sum(v), min(v), max(v),
       min(t), max(CASE WHEN first_rank = 1 THEN v END),
       max(t), max(CASE WHEN last_rank = 1 THEN v END), sum(a), sum(b)
FROM (
    SELECT ds, t, v, a, b, bucket,
           row_number() OVER (PARTITION BY ds, bucket ORDER BY t) AS first_rank,
           row_number() OVER (PARTITION BY ds, bucket ORDER BY t DESC) AS last_rank
    FROM (
        SELECT datastream_id AS ds, phenomenon_time AS t, result AS v, aux_a AS a, aux_b AS b,
               phenomenon_time - (phenomenon_time + {offset}) % {size} AS bucket
        FROM obs_pending WHERE datastream_id IN :ids
    ) AS queued
    WHERE bucket >= :start AND bucket < :end
) AS ranked
GROUP BY ds, bucket""").bindparams(bindparam("ids", expanding=True))


def _sum(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else a + b


def combine(a: Bucket, b: Bucket) -> Bucket:
    """Return one bucket holding the readings of two parts of the same (stream, bucket)."""
    first = a if a.first_time <= b.first_time else b
    last = a if a.last_time >= b.last_time else b
    return Bucket(
        a.datastream_id,
        a.start,
        a.n + b.n,
        a.total + b.total,
        min(a.minimum, b.minimum),
        max(a.maximum, b.maximum),
        first.first_time,
        first.first_value,
        last.last_time,
        last.last_value,
        _sum(a.aux_a, b.aux_a),
        _sum(a.aux_b, b.aux_b),
    )


class SqlObservationReads:
    """Reads of observations and rollups over one connection."""

    def __init__(self, connection: Connection, offset_ms: int = 0) -> None:
        self._connection = connection
        self._offset = offset_ms  # the city's UTC offset: day buckets start at its midnight

    def latest(self, stream_ids: Sequence[int] | None = None) -> list[Reading]:
        """Return the newest good reading of each stream (all streams when ``None``)."""
        if stream_ids is not None and not stream_ids:
            return []
        params = {} if stream_ids is None else {"ids": list(stream_ids)}
        stored = _LATEST_ALL if stream_ids is None else _LATEST_SOME
        queued = _QUEUED_LATEST_ALL if stream_ids is None else _QUEUED_LATEST_SOME
        newest = {row[0]: Reading(*row) for row in self._connection.execute(stored, params)}
        for row in self._connection.execute(queued, params):
            found = newest.get(row[0])
            if found is None or row[1] > found.time:
                newest[row[0]] = Reading(*row)
        return list(newest.values())

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
        """Return the rollup buckets of a level (minute, hour, day) starting in ``[start, end)``.

        Each (stream, bucket) comes once, folded and queued readings together, ordered by
        stream and bucket start.
        """
        if not stream_ids:
            return []
        params = {"ids": list(stream_ids), "start": start, "end": end}
        found = {
            (row[0], row[1]): Bucket(*row)
            for row in self._connection.execute(_BUCKETS[level], params)
        }
        queued = self._connection.execute(_queued_buckets(level, self._offset), params)
        for row in queued:
            part = Bucket(*row)
            key = (part.datastream_id, part.start)
            stored = found.get(key)
            found[key] = part if stored is None else combine(stored, part)
        return [found[key] for key in sorted(found)]

    def count(self) -> int:
        """Return how many readings are stored."""
        return int(self._connection.execute(_COUNT).scalar_one())

    def queued(self, at_least: int = 1, part: int = 0, parts: int = 1) -> bool:
        """Return whether ``at_least`` readings wait in the fold queue (counting stops there).

        With ``parts`` > 1, of the datastreams whose id is ``part`` modulo ``parts``.
        """
        n = max(1, int(at_least))
        if parts > 1:
            params = {"n": n, "part": int(part), "parts": int(parts)}
            return int(self._connection.execute(_QUEUED_PART, params).scalar_one()) >= n
        return int(self._connection.execute(_QUEUED, {"n": n}).scalar_one()) >= n
