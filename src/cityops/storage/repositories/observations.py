"""Observations: the bulk write with its rollups, and the time-series reads.

A batch goes in three steps, all inside the caller's transaction:

1. it is loaded into a temporary staging table (PostgreSQL: ``COPY``; SQLite: one
   ``executemany``), with each row's auxiliary sums for energy and vector means;
2. rows whose (datastream, time) the store already has are dropped from staging (a repeated
   reading is a no-op: idempotent), the rest go into ``observations``;
3. the new rows' aggregates are merged into the minute, hour and day rollups (count, sum, min,
   max, first and last reading, auxiliary sums: all mergeable, so late and out-of-order readings
   correct their buckets by adding to them) and into ``stream_latest``; ``bad`` readings are stored
   but left out of both.

On PostgreSQL steps 2 and 3 are one statement (data-modifying CTEs); SQLite runs them one after
the other. The batch arrives free of repeated keys (the ingest service keeps the first).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection

from cityops.sensing.model import BAD, ObservationBatch, WriteResult
from cityops.storage.observation_partitions import ObservationPartitions

LEVELS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
ROLLUP_TABLES = {"minute": "rollups_minute", "hour": "rollups_hour", "day": "rollups_day"}

_STAGING_COLUMNS = (
    "ds BIGINT, t BIGINT, v DOUBLE PRECISION, q SMALLINT, a DOUBLE PRECISION, b DOUBLE PRECISION"
)
_PG_STAGING = (
    "SET LOCAL client_min_messages = warning; "
    f"CREATE TEMP TABLE IF NOT EXISTS obs_staging ({_STAGING_COLUMNS}) ON COMMIT DELETE ROWS"
)


def _rollup_sql(table: str, size: int, source: str, dialect: str, offset: int) -> str:
    """Return the statement that merges ``source``'s good rows into one rollup level.

    Each bucket's first and last readings are picked with window functions; on conflict the
    stored bucket is merged with the new one (counts and sums add, extremes compare). Buckets
    start at ``t - (t + offset) % size``: days begin at the city's midnight, not UTC's.
    """
    bucket = f"(t - (t + {offset}) % {size})"
    smaller = "LEAST" if dialect == "postgresql" else "MIN"
    larger = "GREATEST" if dialect == "postgresql" else "MAX"
    return f"""
INSERT INTO {table} (datastream_id, bucket, n, total, minimum, maximum,
                     first_time, first_value, last_time, last_value, aux_a, aux_b)
SELECT ds, bucket, count(*), sum(v), min(v), max(v),
       min(t), max(CASE WHEN first_rank = 1 THEN v END),
       max(t), max(CASE WHEN last_rank = 1 THEN v END), sum(a), sum(b)
FROM (
    SELECT ds, {bucket} AS bucket, t, v, a, b,
           row_number() OVER (PARTITION BY ds, {bucket} ORDER BY t) AS first_rank,
           row_number() OVER (PARTITION BY ds, {bucket} ORDER BY t DESC) AS last_rank
    FROM {source} WHERE q <> {BAD}
) AS ranked
GROUP BY ds, bucket
ON CONFLICT (datastream_id, bucket) DO UPDATE SET
    n = {table}.n + excluded.n,
    total = {table}.total + excluded.total,
    minimum = {smaller}({table}.minimum, excluded.minimum),
    maximum = {larger}({table}.maximum, excluded.maximum),
    first_value = CASE WHEN excluded.first_time < {table}.first_time
                       THEN excluded.first_value ELSE {table}.first_value END,
    first_time = {smaller}({table}.first_time, excluded.first_time),
    last_value = CASE WHEN excluded.last_time > {table}.last_time
                      THEN excluded.last_value ELSE {table}.last_value END,
    last_time = {larger}({table}.last_time, excluded.last_time),
    aux_a = {table}.aux_a + excluded.aux_a,
    aux_b = {table}.aux_b + excluded.aux_b"""


def _latest_sql(source: str) -> str:
    return f"""
INSERT INTO stream_latest (datastream_id, phenomenon_time, result, quality)
SELECT ds, t, v, q FROM (
    SELECT ds, t, v, q, row_number() OVER (PARTITION BY ds ORDER BY t DESC) AS newest
    FROM {source} WHERE q <> {BAD}
) AS ranked WHERE newest = 1
ON CONFLICT (datastream_id) DO UPDATE SET
    phenomenon_time = excluded.phenomenon_time, result = excluded.result,
    quality = excluded.quality
WHERE excluded.phenomenon_time > stream_latest.phenomenon_time"""


@cache
def _sqlite_statements(offset: int) -> list[str]:
    return [
        *(
            _rollup_sql(ROLLUP_TABLES[level], size, "temp.obs_staging", "sqlite", offset)
            for level, size in LEVELS.items()
        ),
        _latest_sql("temp.obs_staging"),
    ]


def _merge_clause(table: str, dialect: str) -> str:
    """Return the ON CONFLICT clause that merges a new bucket into the stored one."""
    smaller = "LEAST" if dialect == "postgresql" else "MIN"
    larger = "GREATEST" if dialect == "postgresql" else "MAX"
    return f"""
ON CONFLICT (datastream_id, bucket) DO UPDATE SET
    n = {table}.n + excluded.n,
    total = {table}.total + excluded.total,
    minimum = {smaller}({table}.minimum, excluded.minimum),
    maximum = {larger}({table}.maximum, excluded.maximum),
    first_value = CASE WHEN excluded.first_time < {table}.first_time
                       THEN excluded.first_value ELSE {table}.first_value END,
    first_time = {smaller}({table}.first_time, excluded.first_time),
    last_value = CASE WHEN excluded.last_time > {table}.last_time
                      THEN excluded.last_value ELSE {table}.last_value END,
    last_time = {larger}({table}.last_time, excluded.last_time),
    aux_a = {table}.aux_a + excluded.aux_a,
    aux_b = {table}.aux_b + excluded.aux_b"""


_COLUMNS = (
    "(datastream_id, bucket, n, total, minimum, maximum, "
    "first_time, first_value, last_time, last_value, aux_a, aux_b)"
)


@cache
def _postgresql_statement(offset: int, aux: bool) -> str:
    """Return the whole write after COPY, as one statement.

    New rows are grouped once per minute; hours, days and the latest values are grouped from
    those minute groups. First and last readings are ``min``/``max`` of ``ARRAY[time, value]``
    (arrays compare element by element): a hash aggregate, where window functions would sort.
    The auxiliary sums are read back from staging only when the batch has any (``aux``).
    """
    if aux:
        source, a, b = "fresh f JOIN obs_staging s ON s.ds = f.ds AND s.t = f.t", "s.a", "s.b"
    else:
        source, a, b = "fresh f", "NULL::float8", "NULL::float8"
    coarser = ",\n".join(
        f"""r_{level} AS (
    INSERT INTO {ROLLUP_TABLES[level]} {_COLUMNS}
    SELECT ds, bucket - (bucket + {offset}) % {size}, sum(n), sum(total), min(mn), max(mx),
           (min(fst))[1]::bigint, (min(fst))[2], (max(lst))[1]::bigint, (max(lst))[2],
           sum(a), sum(b)
    FROM minutes GROUP BY 1, 2
    {_merge_clause(ROLLUP_TABLES[level], "postgresql")}
)"""
        for level, size in LEVELS.items()
        if level != "minute"
    )
    return f"""
WITH fresh AS (
    INSERT INTO observations (datastream_id, phenomenon_time, result, quality)
    SELECT ds, t, v, q FROM obs_staging
    ON CONFLICT DO NOTHING
    RETURNING datastream_id AS ds, phenomenon_time AS t, result AS v, quality AS q
),
minutes AS MATERIALIZED (
    SELECT f.ds, f.t - (f.t + {offset}) % {LEVELS["minute"]} AS bucket,
           count(*) AS n, sum(f.v) AS total, min(f.v) AS mn, max(f.v) AS mx,
           min(ARRAY[f.t::float8, f.v]) AS fst, max(ARRAY[f.t::float8, f.v, f.q]) AS lst,
           sum({a}) AS a, sum({b}) AS b
    FROM {source}
    WHERE f.q <> {BAD}
    GROUP BY 1, 2
),
r_minute AS (
    INSERT INTO rollups_minute {_COLUMNS}
    SELECT ds, bucket, n, total, mn, mx, fst[1]::bigint, fst[2], lst[1]::bigint, lst[2], a, b
    FROM minutes
    {_merge_clause("rollups_minute", "postgresql")}
),
{coarser},
r_latest AS (
    INSERT INTO stream_latest (datastream_id, phenomenon_time, result, quality)
    SELECT ds, (max(lst))[1]::bigint, (max(lst))[2], (max(lst))[3]::smallint
    FROM minutes GROUP BY ds
    ON CONFLICT (datastream_id) DO UPDATE SET
        phenomenon_time = excluded.phenomenon_time, result = excluded.result,
        quality = excluded.quality
    WHERE excluded.phenomenon_time > stream_latest.phenomenon_time
)
SELECT count(*) FROM fresh"""


class SqlObservationStore:
    """Observations and rollups over one connection (inside a unit of work)."""

    def __init__(
        self,
        connection: Connection,
        partitions: ObservationPartitions | None,
        offset_ms: int = 0,
    ) -> None:
        self._connection = connection
        self._partitions = partitions
        self._offset = offset_ms  # the city's UTC offset: rollup days start at its midnight

    @property
    def dialect(self) -> str:
        """The SQL dialect name."""
        return self._connection.dialect.name

    def write(
        self,
        batch: ObservationBatch,
        aux_a: Sequence[float | None] | None = None,
        aux_b: Sequence[float | None] | None = None,
    ) -> WriteResult:
        """Store the batch's new readings and merge them into the rollups."""
        if not batch:
            return WriteResult(0, 0)
        if self.dialect == "postgresql":
            inserted = self._write_postgresql(batch, aux_a, aux_b)
        else:
            inserted = self._write_sqlite(batch, aux_a, aux_b)
        return WriteResult(inserted, len(batch) - inserted)

    def prune(self, raw_before: int | None, minutes_before: int | None) -> dict[str, int]:
        """Delete raw readings and minute rollups older than the cut-offs (epoch ms).

        PostgreSQL drops whole partitions that end before the raw cut-off (instant, no dead rows)
        and deletes the rest row by row; SQLite deletes rows.
        """
        removed = {"observations": 0, "rollups_minute": 0, "partitions": 0}
        if raw_before is not None:
            if self._partitions is not None:
                removed["partitions"] = len(self._partitions.drop_before(raw_before))
            removed["observations"] = self._delete("observations", "phenomenon_time", raw_before)
        if minutes_before is not None:
            removed["rollups_minute"] = self._delete("rollups_minute", "bucket", minutes_before)
        return removed

    def _delete(self, table: str, column: str, before: int) -> int:
        result = self._connection.exec_driver_sql(
            f"DELETE FROM {table} WHERE {column} < {int(before)}"  # both names are ours
        )
        return int(result.rowcount or 0)

    # ---------------------------------------------------------------- SQLite

    def _write_sqlite(
        self,
        batch: ObservationBatch,
        aux_a: Sequence[float | None] | None,
        aux_b: Sequence[float | None] | None,
    ) -> int:
        connection = self._connection
        if not connection.in_transaction():
            connection.begin()
        driver: Any = connection.connection.driver_connection
        # Every time: a temporary table made in a transaction that rolled back is gone again.
        driver.execute(f"CREATE TEMP TABLE IF NOT EXISTS obs_staging ({_STAGING_COLUMNS})")
        driver.execute("DELETE FROM temp.obs_staging")
        n = len(batch)
        driver.executemany(
            "INSERT INTO temp.obs_staging VALUES (?, ?, ?, ?, ?, ?)",
            zip(
                batch.streams,
                batch.times,
                batch.values,
                batch.qualities,
                aux_a if aux_a is not None else [None] * n,
                aux_b if aux_b is not None else [None] * n,
                strict=True,
            ),
        )
        driver.execute(
            "DELETE FROM temp.obs_staging WHERE EXISTS (SELECT 1 FROM observations o "
            "WHERE o.datastream_id = obs_staging.ds AND o.phenomenon_time = obs_staging.t)"
        )
        inserted = driver.execute(
            "INSERT INTO observations (datastream_id, phenomenon_time, result, quality) "
            "SELECT ds, t, v, q FROM temp.obs_staging"
        ).rowcount
        for statement in _sqlite_statements(self._offset):
            driver.execute(statement)
        driver.execute("DELETE FROM temp.obs_staging")
        return int(inserted)

    # ---------------------------------------------------------------- PostgreSQL

    def _write_postgresql(
        self,
        batch: ObservationBatch,
        aux_a: Sequence[float | None] | None,
        aux_b: Sequence[float | None] | None,
    ) -> int:
        if self._partitions is not None:
            self._partitions.ensure(batch.times)
        connection = self._connection
        if not connection.in_transaction():
            connection.begin()
        driver: Any = connection.connection.driver_connection
        with driver.cursor() as cursor:
            # Every time: a temporary table made in a transaction that rolled back is gone again.
            cursor.execute(_PG_STAGING)
            with cursor.copy("COPY obs_staging (ds, t, v, q, a, b) FROM STDIN") as copy:
                copy.write(_copy_text(batch, aux_a, aux_b))
            # Without parameters psycopg sends the text as it is (its % is SQL's modulo).
            cursor.execute(_postgresql_statement(self._offset, aux_a is not None))
            row = cursor.fetchone()
        return int(row[0])


def _copy_text(
    batch: ObservationBatch,
    aux_a: Sequence[float | None] | None,
    aux_b: Sequence[float | None] | None,
) -> str:
    """Return the batch as COPY text: tab-separated, NULL written as backslash-N."""
    out = io.StringIO()
    if aux_a is None and aux_b is None:
        out.writelines(
            f"{s}\t{t}\t{v!r}\t{q}\t\\N\t\\N\n"
            for s, t, v, q in zip(
                batch.streams, batch.times, batch.values, batch.qualities, strict=True
            )
        )
    else:
        n = len(batch)
        a_values = aux_a if aux_a is not None else [None] * n
        b_values = aux_b if aux_b is not None else [None] * n
        out.writelines(
            f"{s}\t{t}\t{v!r}\t{q}\t{_text(a)}\t{_text(b)}\n"
            for s, t, v, q, a, b in zip(
                batch.streams,
                batch.times,
                batch.values,
                batch.qualities,
                a_values,
                b_values,
                strict=True,
            )
        )
    return out.getvalue()


def _text(value: float | None) -> str:
    return "\\N" if value is None else repr(value)
