"""Observations: the bulk write (readings plus their place in the fold queue) and the fold.

A batch goes in three steps, all inside the caller's transaction:

1. it is loaded into a temporary staging table (PostgreSQL: ``COPY``; SQLite: one
   ``executemany``), with each row's auxiliary sums for energy and vector means;
2. rows whose (datastream, time) the store already has are dropped (a repeated reading is a
   no-op: idempotent), the rest go into ``observations``;
3. the new good readings, with their auxiliary sums, go into the fold queue ``obs_pending``;
   ``bad`` readings are stored but never reach the rollups or the latest values.

On PostgreSQL steps 2 and 3 are one statement (data-modifying CTEs). :meth:`fold` merges the queue
into the minute, hour and day rollups and the latest values
(:mod:`~cityops.storage.repositories.observation_rollups` says how and why).
The batch arrives free of repeated keys (the ingest service keeps the first).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection

from cityops.sensing.model import BAD, ObservationBatch, WriteResult
from cityops.storage.observation_partitions import ObservationPartitions
from cityops.storage.repositories.observation_rollups import (
    PENDING_COLUMNS,
    postgresql_fold,
    sqlite_fold,
)

# pg_advisory_xact_lock keys. A whole fold holds FOLD_LOCK_KEY alone; a fold of one part holds
# it shared and (FOLD_PART_LOCK_CLASS, part) alone (the two-integer keys are a separate space):
# parts fold at once, never beside a whole fold or another fold of the same part.
FOLD_LOCK_KEY = 7_201_113
FOLD_PART_LOCK_CLASS = 7_201_114

_STAGING_COLUMNS = (
    "ds BIGINT, t BIGINT, v DOUBLE PRECISION, q SMALLINT, a DOUBLE PRECISION, b DOUBLE PRECISION"
)
_PG_STAGING = (
    "SET LOCAL client_min_messages = warning; "
    f"CREATE TEMP TABLE IF NOT EXISTS obs_staging ({_STAGING_COLUMNS}) ON COMMIT DELETE ROWS"
)


@cache
def _postgresql_write(aux: bool) -> str:
    """Return the write after COPY, as one statement: new rows into observations and the queue.

    The auxiliary sums are read back from staging only when the batch has any (``aux``).
    """
    if aux:
        source, a, b = "fresh f JOIN obs_staging s ON s.ds = f.ds AND s.t = f.t", "s.a", "s.b"
    else:
        source, a, b = "fresh f", "NULL::float8", "NULL::float8"
    return f"""
WITH fresh AS (
    INSERT INTO observations (datastream_id, phenomenon_time, result, quality)
    SELECT ds, t, v, q FROM obs_staging
    ON CONFLICT DO NOTHING
    RETURNING datastream_id AS ds, phenomenon_time AS t, result AS v, quality AS q
),
queued AS (
    INSERT INTO obs_pending ({PENDING_COLUMNS})
    SELECT f.ds, f.t, f.v, f.q, {a}, {b} FROM {source} WHERE f.q <> {BAD}
)
SELECT count(*) FROM fresh"""


@cache
def _fold_locks(parts: int, part: int, wait: bool) -> str:
    """Return the SELECT taking a fold's advisory locks: one true column per lock it holds.

    With ``wait`` the locks are waited for (the functions return void: always true here);
    without, each is tried once. One statement, so a fold that got the shared lock but not its
    part's gives the shared one back with its transaction.
    """

    def lock(kind: str, key: str) -> str:
        if wait:
            return f"pg_advisory_xact_lock{kind}({key}) IS NOT NULL"
        return f"pg_try_advisory_xact_lock{kind}({key})"

    if parts == 1:
        return f"SELECT {lock('', str(FOLD_LOCK_KEY))}"
    return (
        f"SELECT {lock('_shared', str(FOLD_LOCK_KEY))}, "
        f"{lock('', f'{FOLD_PART_LOCK_CLASS}, {int(part)}')}"
    )


# A reading's datastream keeps minute rows (retention treats the two kinds apart).
_ROLLED_UP = "datastream_id IN (SELECT id FROM datastreams WHERE minute_rollups)"


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
        """Store the batch's new readings and queue the good ones for the fold."""
        if not batch:
            return WriteResult(0, 0)
        if self.dialect == "postgresql":
            inserted = self._write_postgresql(batch, aux_a, aux_b)
        else:
            inserted = self._write_sqlite(batch, aux_a, aux_b)
        return WriteResult(inserted, len(batch) - inserted)

    def fold(self, limit: int, part: int = 0, parts: int = 1, *, wait: bool = True) -> int:
        """Merge up to ``limit`` queued readings into the rollups and latest values.

        Returns how many were folded (fewer than ``limit``: that part of the queue is empty).
        With ``parts`` > 1 (PostgreSQL only) just the datastreams whose id is ``part`` modulo
        ``parts``. Advisory locks make folds that could touch the same buckets (background
        threads, other processes, a prune) take turns; folds of different parts do not. With
        ``wait`` False (the background folds) a fold that would wait for such a turn returns 0
        at once: the fold holding the lock takes the queue, and waiting would only follow it
        with a small fold.
        """
        if not 0 <= part < parts:
            raise ValueError(f"fold part must be in 0..{parts - 1}, got {part}")
        connection = self._connection
        if not connection.in_transaction():
            connection.begin()
        driver: Any = connection.connection.driver_connection
        if self.dialect == "postgresql":
            with driver.cursor() as cursor:
                cursor.execute(_fold_locks(parts, part, wait))
                if not all(cursor.fetchone()):
                    return 0
                cursor.execute("SET LOCAL work_mem = '64MB'")  # group the chunk in memory
                cursor.execute(postgresql_fold(self._offset, limit, part, parts))
                row = cursor.fetchone()
            return int(row[0])
        if parts > 1:  # one writer at a time: parts could not run at once anyway
            raise ValueError("SQLite folds the whole queue (parts = 1)")
        row = driver.execute(
            "SELECT count(*), max(rowid) FROM "
            "(SELECT rowid FROM obs_pending ORDER BY rowid LIMIT ?)",
            (limit,),
        ).fetchone()
        folded, cut = int(row[0]), row[1]
        if not folded:
            return 0
        for statement in sqlite_fold(self._offset):
            if ":cut" in statement:
                driver.execute(statement, {"cut": cut})
            else:
                driver.execute(statement)
        return folded

    def prune(self, raw_before: int | None, minutes_before: int | None) -> dict[str, int]:
        """Delete raw readings and minute rollups older than the cut-offs (epoch ms).

        PostgreSQL drops whole partitions that end before the cut-off (instant, no dead rows)
        and deletes the rest row by row; SQLite deletes rows. Raw readings that are a
        datastream's minute level stay while minute rollups would (:meth:`_prune_raw`).
        """
        removed = {"observations": 0, "rollups_minute": 0, "partitions": 0}
        if raw_before is not None:
            removed.update(self._prune_raw(raw_before, minutes_before))
        if minutes_before is not None:
            removed["rollups_minute"] = self._delete("rollups_minute", "bucket", minutes_before)
        return removed

    def _prune_raw(self, raw_before: int, minutes_before: int | None) -> dict[str, int]:
        """Delete raw readings past retention.

        The raw readings of a datastream that keeps no minute rows are its minute level, so
        they stay as long as either window wants them (for ever when minutes are kept for
        ever); the others go at the raw cut-off.
        """
        raw_level = self._connection.exec_driver_sql(
            "SELECT 1 FROM datastreams WHERE NOT minute_rollups LIMIT 1"
        ).first()
        if raw_level is None:
            partition_cut: int | None = raw_before
        else:
            partition_cut = None if minutes_before is None else min(raw_before, minutes_before)
        removed = {"observations": 0, "partitions": 0}
        if self._partitions is not None and partition_cut is not None:
            removed["partitions"] = len(self._partitions.drop_before(partition_cut))
        if raw_level is None:
            removed["observations"] = self._delete("observations", "phenomenon_time", raw_before)
            return removed
        removed["observations"] = self._delete(
            "observations", "phenomenon_time", raw_before, _ROLLED_UP
        )
        if partition_cut is not None:
            removed["observations"] += self._delete(
                "observations", "phenomenon_time", partition_cut, f"NOT {_ROLLED_UP}"
            )
        return removed

    def _delete(self, table: str, column: str, before: int, streams: str = "") -> int:
        where = f"{column} < {int(before)}"  # the names are ours
        if streams:
            where += f" AND {streams}"
        result = self._connection.exec_driver_sql(f"DELETE FROM {table} WHERE {where}")
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
        driver.execute(
            f"INSERT INTO obs_pending ({PENDING_COLUMNS}) "
            f"SELECT ds, t, v, q, a, b FROM temp.obs_staging WHERE q <> {BAD}"
        )
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
            cursor.execute(_postgresql_write(aux_a is not None))
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
