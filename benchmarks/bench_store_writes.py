"""Benchmark the store's write path against the raw engine limit, in the same run.

Two shapes of write matter for the foundation:
  * a request-sized unit of work: one audit entry + one outbox event, committed (the cost every
    audited change pays), against raw single-row transactions on the same engine;
  * a batch: 10,000 audit entries in one unit of work, against the engine's fastest bulk path
    (sqlite3 ``executemany`` in one transaction; PostgreSQL ``COPY``).

Usage:
  python benchmarks/bench_store_writes.py                       # SQLite in a temp dir
  python benchmarks/bench_store_writes.py --postgres URL        # also PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from cityops.auth.events import UserCreated
from cityops.kernel.audit import AuditEntry
from cityops.storage import Store, migrate


def _entry(n: int) -> AuditEntry:
    return AuditEntry(
        action="user.update",
        object_type="user",
        object_id=f"user{n}",
        actor="bench",
        role="admin",
        scope="city",
        before={"display_name": "张三"},
        after={"display_name": f"张三{n}"},
        at=datetime.now(UTC),
        request_id=f"req{n}",
        client_address="127.0.0.1",
    )


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f}/s"


def _time(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _reset(store: Store) -> None:
    with store.engine.begin() as connection:
        for table in ("outbox_events", "subscriber_offsets"):
            connection.execute(text(f"DELETE FROM {table}"))
        if store.dialect == "postgresql":
            connection.execute(text("TRUNCATE audit_log"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
            connection.execute(text("DELETE FROM audit_log"))


def cityops_units_of_work(store: Store, count: int) -> float:
    """Time ``count`` request-sized units of work (audit row + outbox event each)."""

    def run() -> None:
        for n in range(count):
            with store.unit_of_work() as uow:
                uow.audit.append(_entry(n))
                uow.record(UserCreated(username=f"user{n}"))
                uow.commit()

    return _time(run)


def cityops_batch(store: Store, count: int) -> float:
    """Time one unit of work that appends ``count`` audit entries."""
    entries = [_entry(n) for n in range(count)]

    def run() -> None:
        with store.unit_of_work() as uow:
            uow.audit.append_many(entries)
            uow.commit()

    return _time(run)


_SQLITE_INSERT = (
    "INSERT INTO audit_log (at, actor, actor_kind, role, scope, action, object_type, object_id,"
    " before, after, request_id, client_address) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _sqlite_row(n: int) -> tuple[object, ...]:
    return (
        datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),
        "bench",
        "user",
        "admin",
        "city",
        "user.update",
        "user",
        f"user{n}",
        json.dumps({"display_name": "张三"}),
        json.dumps({"display_name": f"张三{n}"}),
        f"req{n}",
        "127.0.0.1",
    )


def raw_sqlite_transactions(path: Path, count: int) -> float:
    """Raw limit: sqlite3, WAL, one BEGIN IMMEDIATE … COMMIT per row pair."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")

    def run() -> None:
        for n in range(count):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(_SQLITE_INSERT, _sqlite_row(n))
            connection.execute(
                "INSERT INTO outbox_events (type, aggregate_type, aggregate_id, payload,"
                " occurred_at) VALUES (?,?,?,?,?)",
                (
                    "UserCreated",
                    "user",
                    f"user{n}",
                    json.dumps({"username": f"user{n}"}),
                    datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),
                ),
            )
            connection.execute("COMMIT")

    elapsed = _time(run)
    connection.close()
    return elapsed


def raw_sqlite_batch(path: Path, count: int) -> float:
    """Raw limit: sqlite3 ``executemany`` in one transaction."""
    connection = sqlite3.connect(path, isolation_level=None)
    rows = [_sqlite_row(n) for n in range(count)]

    def run() -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(_SQLITE_INSERT, rows)
        connection.execute("COMMIT")

    elapsed = _time(run)
    connection.close()
    return elapsed


def _psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def raw_postgres_transactions(url: str, count: int) -> float:
    """Raw limit: psycopg, one transaction per row pair."""
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as connection:

        def run() -> None:
            for n in range(count):
                with connection.transaction():
                    connection.execute(_SQLITE_INSERT.replace("?", "%s"), _sqlite_row(n))
                    connection.execute(
                        "INSERT INTO outbox_events (type, aggregate_type, aggregate_id, payload,"
                        " occurred_at) VALUES (%s,%s,%s,%s,now())",
                        ("UserCreated", "user", f"user{n}", json.dumps({"username": f"u{n}"})),
                    )

        return _time(run)


def raw_postgres_copy(url: str, count: int) -> float:
    """Raw limit: psycopg ``COPY … FROM STDIN`` in one transaction."""
    import psycopg

    rows = [_sqlite_row(n) for n in range(count)]
    with psycopg.connect(_psycopg_url(url)) as connection:

        def run() -> None:
            with (
                connection.transaction(),
                connection.cursor() as cursor,
                cursor.copy(
                    "COPY audit_log (at, actor, actor_kind, role, scope, action, object_type,"
                    " object_id, before, after, request_id, client_address) FROM STDIN"
                ) as copy,
            ):
                for row in rows:
                    copy.write_row(row)

        return _time(run)


def bench(
    label: str,
    store: Store,
    raw_tx: Callable[[int], float],
    raw_batch: Callable[[int], float],
    transactions: int,
    batch: int,
) -> None:
    """Run both shapes on one store and print them beside the raw limit."""
    _reset(store)
    ours_tx = cityops_units_of_work(store, transactions)
    _reset(store)
    theirs_tx = raw_tx(transactions)
    _reset(store)
    ours_batch = cityops_batch(store, batch)
    _reset(store)
    theirs_batch = raw_batch(batch)
    print(f"\n{label}")
    print(f"  {'shape':<44} {'cityops':>12} {'raw engine':>12} {'ratio':>7}")
    print(
        f"  {'unit of work: 1 audit row + 1 event, commit':<44} {_rate(transactions, ours_tx)}"
        f" {_rate(transactions, theirs_tx)} {theirs_tx / ours_tx:>6.0%}"
    )
    print(
        f"  {f'batch: {batch:,} audit rows in one commit':<44} {_rate(batch, ours_batch)}"
        f" {_rate(batch, theirs_batch)} {theirs_batch / ours_batch:>6.0%}"
    )


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=10000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to benchmark too (tables are reset)")
    args = parser.parse_args()
    print("ratio = cityops throughput as a share of the raw engine's, same machine, same run")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        store = Store(f"sqlite:///{path}")
        migrate.upgrade(store.engine)
        bench(
            "SQLite (WAL, synchronous=NORMAL)",
            store,
            lambda n: raw_sqlite_transactions(path, n),
            lambda n: raw_sqlite_batch(path, n),
            args.transactions,
            args.batch,
        )
        store.dispose()
    if args.postgres:
        store = Store(args.postgres)
        migrate.upgrade(store.engine)
        bench(
            "PostgreSQL (psycopg 3; raw batch = COPY)",
            store,
            lambda n: raw_postgres_transactions(args.postgres, n),
            lambda n: raw_postgres_copy(args.postgres, n),
            args.transactions,
            args.batch,
        )
        store.dispose()


if __name__ == "__main__":
    main()
