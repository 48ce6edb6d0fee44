"""Time-series reads: latest values, raw ranges and rollup buckets (same SQL on both stores).

Rollups and latest values are answered from their tables *plus* the fold queue: readings stored
but not yet folded (:mod:`~cityops.storage.repositories.observation_rollups`) are grouped the same
way at read time and merged in, so an answer includes every committed reading however far the
fold is behind, and a reader never writes or waits for a fold. The queue is short while the fold
keeps up (a background fold is due at 100,000 readings or after 10 s, ``sensing/rollups.py``);
when the fold runs behind, reads pay for scanning it.

The minute level of a datastream that keeps no minute rows (one reporting once a minute or less
often: :func:`~cityops.sensing.model.keeps_minute_rollups`) is grouped from its raw readings,
which hold queued and folded readings alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import Connection, TextClause, bindparam, text

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.metrics import metric as catalogue_metric
from cityops.sensing.model import BAD
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


_RAW_MINUTE_STREAMS = text(
    "SELECT id, metric FROM datastreams WHERE id IN :ids AND NOT minute_rollups"
).bindparams(bindparam("ids", expanding=True))


@cache
def _raw_minutes(offset: int) -> TextClause:
    """Return the statement grouping raw good readings into minute buckets (as the fold does).

    For the datastreams that keep no minute rows. A minute of one reading (the usual case) is
    that reading; only fuller minutes look their first and last value up by key. The auxiliary
    sums are the ones ingest computes: 10^(L/10) for sound levels (``:energy``), sine and
    cosine for directions (``:vector``).
    """
    minute = LEVELS["minute"]
    lookup = (
        "SELECT o.result FROM observations o WHERE o.datastream_id = g.ds AND o.phenomenon_time"
    )
    return text(f"""
SELECT ds, bucket, n, total, mn, mx,
       ft, CASE WHEN n = 1 THEN mn ELSE ({lookup} = g.ft) END,
       lt, CASE WHEN n = 1 THEN mn ELSE ({lookup} = g.lt) END,
       a, b
FROM (
    SELECT datastream_id AS ds, phenomenon_time - (phenomenon_time + {offset}) % {minute} AS bucket,
           count(*) AS n, sum(result) AS total, min(result) AS mn, max(result) AS mx,
           min(phenomenon_time) AS ft, max(phenomenon_time) AS lt,
           sum(CASE WHEN datastream_id IN :energy THEN power(10, result / 10)
                    WHEN datastream_id IN :vector THEN sin(radians(result)) END) AS a,
           sum(CASE WHEN datastream_id IN :vector THEN cos(radians(result)) END) AS b
    FROM observations
    WHERE datastream_id IN :ids AND phenomenon_time >= :first AND phenomenon_time < :last
          AND quality <> {BAD}
    GROUP BY 1, 2
) AS g
WHERE bucket >= :start AND bucket < :end""").bindparams(
        bindparam("ids", expanding=True),
        bindparam("energy", expanding=True),
        bindparam("vector", expanding=True),
    )


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


def _aggregation(metric_key: str) -> str:
    """Return a metric's aggregation kind (the plain mean for a key the catalogue lacks)."""
    try:
        return catalogue_metric(metric_key).aggregation
    except ValidationFailed:
        return "mean"


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
        found: dict[tuple[int, int], Bucket] = {}
        rolled = list(stream_ids)
        if level == "minute":
            raw = self._raw_minute_streams(rolled)
            if raw:
                found.update(self._raw_minute_buckets(raw, start, end))
                rolled = [ident for ident in rolled if ident not in raw]
        if not rolled:
            return [found[key] for key in sorted(found)]
        params = {"ids": rolled, "start": start, "end": end}
        for row in self._connection.execute(_BUCKETS[level], params):
            found[(row[0], row[1])] = Bucket(*row)
        queued = self._connection.execute(_queued_buckets(level, self._offset), params)
        for row in queued:
            part = Bucket(*row)
            key = (part.datastream_id, part.start)
            stored = found.get(key)
            found[key] = part if stored is None else combine(stored, part)
        return [found[key] for key in sorted(found)]

    def _raw_minute_streams(self, stream_ids: list[int]) -> dict[int, str]:
        """Return the streams among these that keep no minute rows, with their metric."""
        rows = self._connection.execute(_RAW_MINUTE_STREAMS, {"ids": stream_ids})
        return {int(row[0]): str(row[1]) for row in rows}

    def _raw_minute_buckets(
        self, streams: dict[int, str], start: int, end: int
    ) -> dict[tuple[int, int], Bucket]:
        """Return minute buckets grouped from the raw readings (queued ones included)."""
        kinds = {ident: _aggregation(key) for ident, key in streams.items()}
        params = {
            "ids": list(streams),
            "energy": [ident for ident, kind in kinds.items() if kind == "energy_mean"],
            "vector": [ident for ident, kind in kinds.items() if kind == "vector_mean"],
            "first": start - LEVELS["minute"],
            "last": end + LEVELS["minute"],
            "start": start,
            "end": end,
        }
        rows = self._connection.execute(_raw_minutes(self._offset), params)
        return {(row[0], row[1]): Bucket(*row) for row in rows}

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
