"""The fold: queued readings merged into the minute, hour and day rollups and the latest values.

A write puts each new good reading into ``observations`` and into the queue ``obs_pending`` in
the same transaction (so a committed reading is always either queued or folded, never lost to
the rollups). A fold takes a chunk of the queue, groups it into minutes, hours and days and
merges each level into its rollup table, merges each stream's newest reading into
``stream_latest``, and removes the chunk, all in one transaction. Minute rows are kept only for
the datastreams that report more often than once a minute
(:func:`~cityops.sensing.model.keeps_minute_rollups`). Every aggregate is mergeable
(count, sum, min, max, first and last reading, the auxiliary sums), so a late or out-of-order
reading corrects its bucket by adding to it.

Why a queue rather than merging inside the write: each merge is an ``ON CONFLICT DO UPDATE`` per
(stream, bucket) touched, four of them per reading when every batch carries one reading per
stream. A fold touches each (stream, bucket) once however many readings it holds, so the cost
follows the fleet, not the reading rate; and the write path is left with two plain inserts.
Readers merge the queue into what they read
(:mod:`~cityops.storage.repositories.observation_reads`), so answers stay exact.
"""

from __future__ import annotations

from functools import cache

LEVELS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
ROLLUP_TABLES = {"minute": "rollups_minute", "hour": "rollups_hour", "day": "rollups_day"}
PENDING_COLUMNS = "datastream_id, phenomenon_time, result, quality, aux_a, aux_b"
ROLLUP_COLUMNS = (
    "(datastream_id, bucket, n, total, minimum, maximum, "
    "first_time, first_value, last_time, last_value, aux_a, aux_b)"
)


def merge_clause(table: str, dialect: str) -> str:
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


# Only datastreams registered to keep minute rows get them; for the others a minute is read
# from the raw readings (cityops.sensing.model.keeps_minute_rollups says why).
_KEEPS_MINUTE_ROWS = "EXISTS (SELECT 1 FROM datastreams d WHERE d.id = ds AND d.minute_rollups)"

_LATEST_CONFLICT = """
ON CONFLICT (datastream_id) DO UPDATE SET
    phenomenon_time = excluded.phenomenon_time, result = excluded.result,
    quality = excluded.quality
WHERE excluded.phenomenon_time > stream_latest.phenomenon_time"""


# ---------------------------------------------------------------------------- PostgreSQL


@cache
def postgresql_fold(offset: int, limit: int, part: int = 0, parts: int = 1) -> str:
    """Return the whole fold of up to ``limit`` queued readings as one statement.

    With ``parts`` > 1 only the readings of datastreams whose id is ``part`` modulo ``parts``
    are taken: folds of different parts write disjoint buckets and may run at once.

    The chunk is picked by physical position (``ctid``) and deleted with ``RETURNING``; readings
    committed after the statement's snapshot stay queued for the next fold. First and last
    readings are ``min``/``max`` of ``ARRAY[time, value]`` (arrays compare element by element):
    a hash aggregate, where window functions would sort. Hours are grouped from the readings,
    days and latest values from the hours; minutes, from the readings too, only for the
    datastreams that keep minute rows (grouping hours from minutes cost a second pass over
    every reading for the many streams whose minutes hold one reading each).
    """
    hour, day = LEVELS["hour"], LEVELS["day"]
    where = f"WHERE datastream_id % {int(parts)} = {int(part)}" if parts > 1 else ""
    return f"""
WITH moved AS (
    DELETE FROM obs_pending
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM obs_pending {where} LIMIT {int(limit)}))
    RETURNING datastream_id AS ds, phenomenon_time AS t, result AS v, quality AS q,
              aux_a AS a, aux_b AS b
),
minutes AS MATERIALIZED (
    SELECT ds, t - (t + {offset}) % {LEVELS["minute"]} AS bucket,
           count(*) AS n, sum(v) AS total, min(v) AS mn, max(v) AS mx,
           min(ARRAY[t::float8, v]) AS fst, max(ARRAY[t::float8, v, q]) AS lst,
           sum(a) AS a, sum(b) AS b
    FROM moved WHERE ds IN (SELECT id FROM datastreams WHERE minute_rollups)
    GROUP BY 1, 2
),
hours AS MATERIALIZED (
    SELECT ds, t - (t + {offset}) % {hour} AS bucket,
           count(*) AS n, sum(v) AS total, min(v) AS mn, max(v) AS mx,
           min(ARRAY[t::float8, v]) AS fst, max(ARRAY[t::float8, v, q]) AS lst,
           sum(a) AS a, sum(b) AS b
    FROM moved
    GROUP BY 1, 2
),
r_minute AS (
    INSERT INTO rollups_minute {ROLLUP_COLUMNS}
    SELECT ds, bucket, n, total, mn, mx, fst[1]::bigint, fst[2], lst[1]::bigint, lst[2], a, b
    FROM minutes
    {merge_clause("rollups_minute", "postgresql")}
),
r_hour AS (
    INSERT INTO rollups_hour {ROLLUP_COLUMNS}
    SELECT ds, bucket, n, total, mn, mx, fst[1]::bigint, fst[2], lst[1]::bigint, lst[2], a, b
    FROM hours
    {merge_clause("rollups_hour", "postgresql")}
),
r_day AS (
    INSERT INTO rollups_day {ROLLUP_COLUMNS}
    SELECT ds, bucket - (bucket + {offset}) % {day}, sum(n), sum(total), min(mn), max(mx),
           (min(fst))[1]::bigint, (min(fst))[2], (max(lst))[1]::bigint, (max(lst))[2],
           sum(a), sum(b)
    FROM hours GROUP BY 1, 2
    {merge_clause("rollups_day", "postgresql")}
),
r_latest AS (
    INSERT INTO stream_latest (datastream_id, phenomenon_time, result, quality)
    SELECT ds, (max(lst))[1]::bigint, (max(lst))[2], (max(lst))[3]::smallint
    FROM hours GROUP BY ds
    {_LATEST_CONFLICT}
)
SELECT count(*) FROM moved"""


# ---------------------------------------------------------------------------- SQLite

_SQLITE_TEMPS = (
    "CREATE TEMP TABLE IF NOT EXISTS fold_readings (ds INTEGER, m INTEGER, t INTEGER, v REAL, "
    "q INTEGER, a REAL, b REAL, PRIMARY KEY (ds, m, t)) WITHOUT ROWID",
    *(
        f"CREATE TEMP TABLE IF NOT EXISTS fold_{name} (ds INTEGER, bucket INTEGER, n INTEGER, "
        "total REAL, mn REAL, mx REAL, ft INTEGER, fv REAL, lt INTEGER, lv REAL, lq INTEGER, "
        "a REAL, b REAL, PRIMARY KEY (ds, bucket)) WITHOUT ROWID"
        for name in ("minutes", "hours")
    ),
)
_SQLITE_CLEAR = tuple(f"DELETE FROM temp.fold_{name}" for name in ("readings", "minutes", "hours"))


def _sqlite_coarser(source: str, offset: int, size: int) -> str:
    """Return a SELECT grouping one temp level into the next (columns as the temp tables).

    The temp tables are keyed by (stream, bucket), so a group's first and last readings sit in
    the rows of its smallest and largest bucket: two key lookups, no window and no sort by time.
    """
    return f"""
SELECT g.ds, g.bucket, g.n, g.total, g.mn, g.mx, f.ft, f.fv, l.lt, l.lv, l.lq, g.a, g.b
FROM (
    SELECT ds, bucket - (bucket + {offset}) % {size} AS bucket, sum(n) AS n, sum(total) AS total,
           min(mn) AS mn, max(mx) AS mx, min(bucket) AS first_bucket,
           max(bucket) AS last_bucket, sum(a) AS a, sum(b) AS b
    FROM temp.{source} GROUP BY 1, 2
) AS g
JOIN temp.{source} f ON f.ds = g.ds AND f.bucket = g.first_bucket
JOIN temp.{source} l ON l.ds = g.ds AND l.bucket = g.last_bucket"""


def _sqlite_merge(source: str, table: str, where: str = "true") -> str:
    """Return the upsert of a temp level (a temp table, or a parenthesised SELECT) into a rollup.

    (The WHERE is also what lets SQLite parse ``ON CONFLICT`` after a SELECT.)
    """
    return f"""
INSERT INTO {table} {ROLLUP_COLUMNS}
SELECT ds, bucket, n, total, mn, mx, ft, fv, lt, lv, a, b FROM {source} WHERE {where}
{merge_clause(table, "sqlite")}"""


@cache
def sqlite_fold(offset: int) -> list[str]:
    """Return the fold's statements for SQLite; ``:cut`` is the chunk's last queue rowid.

    The chunk is copied into a temp table keyed by (stream, minute, time) (one B-tree build:
    the only sort), grouped into minutes (a minute of one reading is that reading; only fuller
    minutes look up their first and last reading by key), minutes into hours and hours into
    days the same way; each level is merged into its rollup table, the hours' newest rows into
    the latest values, and the chunk is deleted. Window functions did the same work with a sort
    per level, 2.4 times slower (3.0 s against 1.25 s for 200,000 readings, measured).
    """
    minute = LEVELS["minute"]
    readings = f"""
INSERT INTO temp.fold_readings
SELECT datastream_id, phenomenon_time - (phenomenon_time + {offset}) % {minute},
       phenomenon_time, result, quality, aux_a, aux_b
FROM obs_pending WHERE rowid <= :cut"""
    lookup = "FROM temp.fold_readings r WHERE r.ds = g.ds AND r.m = g.m AND r.t = g"
    minutes = f"""
INSERT INTO temp.fold_minutes
SELECT ds, m, n, total, mn, mx,
       ft, CASE WHEN n = 1 THEN mn ELSE (SELECT v {lookup}.ft) END,
       lt, CASE WHEN n = 1 THEN mn ELSE (SELECT v {lookup}.lt) END,
       CASE WHEN n = 1 THEN q ELSE (SELECT q {lookup}.lt) END,
       a, b
FROM (
    SELECT ds, m, count(*) AS n, sum(v) AS total, min(v) AS mn, max(v) AS mx,
           min(t) AS ft, max(t) AS lt, sum(a) AS a, sum(b) AS b, q
    FROM temp.fold_readings GROUP BY ds, m
) AS g"""
    latest = f"""
INSERT INTO stream_latest (datastream_id, phenomenon_time, result, quality)
SELECT l.ds, l.lt, l.lv, l.lq
FROM (SELECT ds, max(bucket) AS last_bucket FROM temp.fold_hours GROUP BY ds) AS g
JOIN temp.fold_hours l ON l.ds = g.ds AND l.bucket = g.last_bucket
WHERE true
{_LATEST_CONFLICT}"""
    return [
        *_SQLITE_TEMPS,
        *_SQLITE_CLEAR,
        readings,
        minutes,
        _sqlite_merge("temp.fold_minutes", "rollups_minute", _KEEPS_MINUTE_ROWS),
        "INSERT INTO temp.fold_hours" + _sqlite_coarser("fold_minutes", offset, LEVELS["hour"]),
        _sqlite_merge("temp.fold_hours", "rollups_hour"),
        _sqlite_merge(
            f"({_sqlite_coarser('fold_hours', offset, LEVELS['day'])}) AS days", "rollups_day"
        ),
        latest,
        "DELETE FROM obs_pending WHERE rowid <= :cut",
        *_SQLITE_CLEAR,
    ]
