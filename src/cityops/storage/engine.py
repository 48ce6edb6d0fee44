"""Engines for the two supported stores: SQLite (embedded, WAL) and PostgreSQL (pooled)."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError

WRITE_OPTION = "cityops_write"
# A read-only unit of work: on SQLite it sends no BEGIN, so every statement reads its own
# snapshot — as on PostgreSQL, where read-only units of work run in autocommit.
READS_ONLY_OPTION = "cityops_reads_only"

PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out."""


def create_store_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, autocommit: bool = False
) -> Engine:
    """Create an engine for ``url``; nothing connects until the first use.

    ``autocommit`` (PostgreSQL): every connection of the pool runs each statement in its own
    transaction, set once when it connects rather than on every checkout.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if parsed.get_backend_name() == "postgresql":
        options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, echo=echo, **options
        )
        _ping_after_idle(engine)
        return engine
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection's liveness only when it has been idle for a while.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout, about one in eight of
    a case intake's on PostgreSQL. A connection that went back to the pool less than
    :data:`PING_AFTER_IDLE_SECONDS` ago is handed out as it is; an older one is pinged, and a
    dead one is replaced (the pool retries the checkout). Should the server restart while
    connections are busy, the statement that meets a dead connection fails and SQLAlchemy
    discards every connection opened before it, as it does without pre-ping.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"connection lost while idle: {error}") from error


def sqlite_path(url: str) -> Path | None:
    """Return the file of an SQLite URL (None for in-memory databases or other backends)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class _Median:
    """SQLite lacks a median aggregate; PostgreSQL has percentile_cont(0.5)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return float(ordered[middle])
        return (ordered[middle - 1] + ordered[middle]) / 2


_MATH_FUNCTIONS: dict[str, tuple[int, Any]] = {
    "power": (2, math.pow),
    "sin": (1, math.sin),
    "cos": (1, math.cos),
    "radians": (1, math.radians),
}


def _ensure_math_functions(dbapi_connection: Any) -> None:
    """Give SQLite the math functions the reads use when its build lacks them.

    SQLite has them built in when compiled with SQLITE_ENABLE_MATH_FUNCTIONS (Debian 12's
    libsqlite3 is); a build without gets Python's, slower per call but the same values.
    """
    try:
        dbapi_connection.execute("SELECT power(2, 2), sin(0), cos(0), radians(0)").fetchone()
    except sqlite3.OperationalError:
        for name, (arity, function) in _MATH_FUNCTIONS.items():
            dbapi_connection.create_function(name, arity, function, deterministic=True)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        dbapi_connection.create_aggregate("median", 1, _Median)
        _ensure_math_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes the write lock up front (BEGIN IMMEDIATE) so it never fails later
        # with "database is locked" when a deferred read transaction tries to upgrade.
        options = connection.get_execution_options()
        if options.get(READS_ONLY_OPTION, False):
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")

    return engine
