"""What a fold costs per reading, by how many readings per datastream each fold carries.

A fold merges each (datastream, hour), (datastream, day) and latest value it touches once,
however many readings of that datastream it carries; the minute rows and the queue cost per
reading. So a fold's cost per reading falls as its readings per datastream rise — which is why
the background fold waits for a full queue (``CITYOPS_TELEMETRY_FOLD_MIN_READINGS``,
``docs/sensing.md``). This measures it on the real store code: ``--streams`` datastreams report
once a minute; for each *k* in ``--per-fold`` the script writes batches of one reading per
datastream (``uow.observations.write``, as ingest does) and folds after every *k* of them
(``uow.observations.fold``), and prints the write and fold time per reading, next to the raw
engine limit measured in the same run (PostgreSQL ``COPY``, SQLite ``executemany``, into a table
keyed like ``observations``). The datastreams report once a minute, so they keep no minute rollup
rows (``keeps_minute_rollups``); ``--minute-rows`` registers them as keeping them, the cost every
reading paid before migration 0013.

    .venv/bin/python benchmarks/fold_cost.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/x
    .venv/bin/python benchmarks/fold_cost.py            # SQLite, in a temporary directory
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, make_url

from cityops.kernel.clock import SystemClock
from cityops.sensing.model import ObservationBatch
from cityops.storage import Store, migrate
from cityops.storage.schema_sensing import datastreams, things

START = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000
CHUNK = 1_000_000  # one fold transaction takes all k batches
OFFSET = 8 * 3_600_000


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def _fresh_postgres(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_postgres(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _batch(streams: int, tick: int, rng: random.Random) -> ObservationBatch:
    millis = START + tick * MINUTE
    return ObservationBatch(
        streams=list(range(1, streams + 1)),
        times=[millis] * streams,
        values=[round(rng.uniform(0, 300), 1) for _ in range(streams)],
        qualities=[0] * streams,
    )


def _register(store: Store, streams: int, minute_rows: bool) -> None:
    """Register datastreams 1..streams (ids as the batches use them) on one thing."""
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        thing = connection.execute(
            insert(things).returning(things.c.id),
            {
                "key": "FOLD",
                "name": "fold",
                "description": "",
                "properties": {},
                "created_at": now,
                "updated_at": now,
            },
        ).scalar_one()
        connection.execute(
            insert(datastreams),
            [
                {
                    "id": i,
                    "key": f"FOLD/{i}",
                    "thing_id": thing,
                    "metric": "pm25",
                    "name": "",
                    "description": "",
                    "unit": "ug/m3",
                    "minimum": 0.0,
                    "maximum": 1000.0,
                    "interval_seconds": 10 if minute_rows else 60,
                    "minute_rollups": minute_rows,
                    "sensor": "",
                    "properties": {},
                    "created_at": now,
                }
                for i in range(1, streams + 1)
            ],
        )


def _measure(
    store: Store, streams: int, per_fold: int, readings: int, first_tick: int
) -> dict[str, Any]:
    """Write and fold ``readings`` readings, folding after every ``per_fold`` batches."""
    rng = random.Random(per_fold)
    write_s = fold_s = 0.0
    folds, tick, written = 0, first_tick, 0
    while written < readings:
        for _ in range(per_fold):
            batch = _batch(streams, tick, rng)
            tick += 1
            began = time.perf_counter()
            with store.unit_of_work() as uow:
                uow.observations.write(batch)
                uow.commit()
            write_s += time.perf_counter() - began
            written += len(batch)
        began = time.perf_counter()
        with store.unit_of_work() as uow:
            uow.observations.fold(CHUNK)
            uow.commit()
        fold_s += time.perf_counter() - began
        folds += 1
    return {"write": write_s, "fold": fold_s, "readings": written, "folds": folds, "tick": tick}


def _raw_postgres(url: str, streams: int, rows: int) -> float:
    import psycopg

    rng = random.Random(0)
    with psycopg.connect(_libpq(url)) as connection:
        connection.execute(
            "CREATE TABLE raw_limit (datastream_id integer, phenomenon_time bigint,"
            " result double precision, quality smallint,"
            " PRIMARY KEY (datastream_id, phenomenon_time))"
        )
        connection.commit()
        spent, done, tick = 0.0, 0, 0
        while done < rows:
            millis = START + tick * MINUTE
            tick += 1
            text = "".join(
                f"{s}\t{millis}\t{rng.uniform(0, 300)!r}\t0\n" for s in range(1, streams + 1)
            )
            began = time.perf_counter()
            with connection.cursor().copy("COPY raw_limit FROM STDIN") as copy:
                copy.write(text)
            connection.commit()
            spent += time.perf_counter() - began
            done += streams
        connection.execute("DROP TABLE raw_limit")
        connection.commit()
    return done / spent


def _raw_sqlite(path: Path, streams: int, rows: int) -> float:
    rng = random.Random(0)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE raw_limit (datastream_id INTEGER, phenomenon_time INTEGER, result REAL,"
        " quality INTEGER, PRIMARY KEY (datastream_id, phenomenon_time)) WITHOUT ROWID"
    )
    spent, done, tick = 0.0, 0, 0
    while done < rows:
        millis = START + tick * MINUTE
        tick += 1
        data = [(s, millis, rng.uniform(0, 300), 0) for s in range(1, streams + 1)]
        began = time.perf_counter()
        with connection:
            connection.executemany("INSERT INTO raw_limit VALUES (?, ?, ?, ?)", data)
        spent += time.perf_counter() - began
        done += streams
    connection.execute("DROP TABLE raw_limit")
    connection.close()
    return done / spent


def _us(seconds: float, readings: int) -> float:
    return seconds / readings * 1e6


def main() -> None:
    """Measure each --per-fold setting on one store, then the raw engine limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (a database fold_cost is made there)")
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=300_000, help="per setting of --per-fold")
    parser.add_argument("--per-fold", default="1,3,10,30", help="batches (ticks) per fold")
    parser.add_argument(
        "--full-pages",
        action="store_true",
        help="PostgreSQL: fill the rollup pages (fillfactor 100, as before migration 0012)",
    )
    parser.add_argument(
        "--minute-rows",
        action="store_true",
        help="the datastreams keep minute rollup rows (as every one did before migration 0013)",
    )
    args = parser.parse_args()
    per_folds = [int(k) for k in args.per_fold.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="fold-cost-"))
    if args.postgres:
        url, dialect = _fresh_postgres(args.postgres, "fold_cost"), "PostgreSQL"
    else:
        url, dialect = f"sqlite:///{workdir / 'fold.db'}", "SQLite"
    store: Any = Store(url, clock=SystemClock(), local_offset_ms=OFFSET)
    try:
        migrate.upgrade(store.engine)
        if args.full_pages and args.postgres:
            with store.engine.begin() as connection:
                for table in ("rollups_hour", "rollups_day", "stream_latest"):
                    connection.exec_driver_sql(f"ALTER TABLE {table} RESET (fillfactor)")
        _register(store, args.streams, args.minute_rows)
        # Warm up: the tables hold a day of readings before anything is timed.
        tick = _measure(store, args.streams, 60, args.streams * 60, 0)["tick"]
        pages = ", full rollup pages" if args.full_pages and args.postgres else ""
        pages += ", minute rollup rows" if args.minute_rows else ", no minute rollup rows"
        print(
            f"{dialect}{pages}: {args.streams:,} datastreams,"
            f" {args.readings:,} readings per setting"
        )
        print(
            "readings per datastream per fold | write µs/reading | fold µs/reading | total | obs/s"
        )
        for k in per_folds:
            run = _measure(store, args.streams, k, args.readings, tick)
            tick = run["tick"]
            n = run["readings"]
            write, fold = _us(run["write"], n), _us(run["fold"], n)
            print(
                f"{k:>32} | {write:>16.2f} | {fold:>15.2f} | {write + fold:>5.2f}"
                f" | {n / (run['write'] + run['fold']):>8,.0f}"
            )
        if args.postgres:
            raw = _raw_postgres(url, args.streams, args.readings)
            print(f"raw engine limit (same run): COPY {raw:,.0f} rows/s ({1e6 / raw:.2f} µs/row)")
        else:
            raw = _raw_sqlite(workdir / "raw.db", args.streams, args.readings)
            print(
                f"raw engine limit (same run): executemany {raw:,.0f} rows/s"
                f" ({1e6 / raw:.2f} µs/row)"
            )
    finally:
        store.dispose()
        if args.postgres:
            _drop_postgres(args.postgres, "fold_cost")


if __name__ == "__main__":
    main()
