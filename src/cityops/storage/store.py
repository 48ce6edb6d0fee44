"""The store: an engine plus the single-writer discipline and the unit-of-work factory."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Engine, text

from cityops.kernel.clock import Clock, SystemClock
from cityops.storage.case_ids import CaseIdBlocks
from cityops.storage.engine import create_store_engine, sqlite_path
from cityops.storage.observation_partitions import ObservationPartitions
from cityops.storage.unit_of_work import SqlUnitOfWork


class Store:
    """One database: SQLite (one writer at a time, in this process) or PostgreSQL (a pool)."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        pool_size: int = 10,
        echo: bool = False,
        partition_days: int = 7,
        local_offset_ms: int = 0,
    ) -> None:
        self.url = url
        self.clock: Clock = clock or SystemClock()
        self.engine: Engine = create_store_engine(url, pool_size=pool_size, echo=echo)
        self.dialect = self.engine.dialect.name
        # SQLite allows one writer; queueing writers here beats retrying "database is locked".
        self.write_lock: threading.Lock | None = (
            threading.Lock() if self.dialect == "sqlite" else None
        )
        # ... and they all use one connection: SQLite empties a connection's page cache when
        # another connection has written since its last transaction, so the writer that is
        # alone to write keeps its pages (B-tree roots, indexes, recent rows) from one write
        # to the next. (An in-memory database is one connection's own: it keeps one engine.)
        self.write_engine: Engine = (
            create_store_engine(url, pool_size=1, echo=echo)
            if self.write_lock is not None and sqlite_path(url) is not None
            else self.engine
        )
        # PostgreSQL's read-only units of work run in autocommit: a pool of their own, so that
        # no connection switches back and forth on every checkout.
        self.read_engine: Engine = (
            create_store_engine(url, pool_size=pool_size, echo=echo, autocommit=True)
            if self.dialect == "postgresql"
            else self.engine
        )
        self._after_commit: list[Callable[[], None]] = []
        # PostgreSQL: case ids drawn ahead, so that a new case is written in one statement.
        self.case_ids: CaseIdBlocks | None = (
            CaseIdBlocks.for_engine(self.read_engine) if self.dialect == "postgresql" else None
        )

        self.local_offset_ms = local_offset_ms  # rollup days start at the city's midnight
        # PostgreSQL: the observations' time partitions, created as batches need them.
        self.observation_partitions: ObservationPartitions | None = (
            ObservationPartitions(self.engine, partition_days)
            if self.dialect == "postgresql"
            else None
        )

    def checkpoint_wal(self, limit_bytes: int) -> int:
        """SQLite: once the write-ahead log exceeds ``limit_bytes``, checkpoint and truncate it.

        Returns the bytes the log held when it was truncated (0: nothing to do, PostgreSQL, or
        still busy after the busy timeout — the next call tries again). SQLite's own automatic
        checkpoints copy the log into the database but can only start the log over at a moment
        when no reader uses it; under steady ingest and reading that moment never comes, and
        the log grew by gigabytes in minutes (its index, mapped into each process, with it).
        ``TRUNCATE`` holds new writers back (this process's through the write lock) while it
        waits for readers to move to the newest snapshot, copies the log and empties it.
        """
        path = sqlite_path(self.url) if self.dialect == "sqlite" else None
        if path is None or self.write_lock is None:
            return 0
        log = path.with_name(path.name + "-wal")
        try:
            size = log.stat().st_size
        except FileNotFoundError:
            return 0
        if size <= limit_bytes:
            return 0
        with self.write_lock, self.write_engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            busy, _frames, _copied = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return 0 if busy else size

    def vacuum_fold_queue(self) -> None:
        """PostgreSQL: vacuum the fold queue, so that its pages are reused instead of piling up.

        Every reading passes through ``obs_pending`` (inserted with its write, deleted by a
        fold), so at 100,000 readings a second the table gains as many dead rows. Autovacuum
        looks at a database once a minute, by which time the table had grown past 40,000 pages
        of dead rows that every fold, and every check of how much is queued, scanned: 80 ms
        per check, a sixth of the server's time in a sustained run (measured). ``SKIP_LOCKED``:
        when another process is vacuuming it, this call has nothing to add. SQLite reuses
        freed pages by itself; there this does nothing.
        """
        if self.dialect != "postgresql":
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (SKIP_LOCKED) obs_pending")

    def unit_of_work(self, *, read_only: bool = False) -> SqlUnitOfWork:
        """Return a new unit of work (enter it with ``with``)."""
        return SqlUnitOfWork(self, read_only=read_only)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every commit that wrote domain events."""
        self._after_commit.append(callback)

    def committed_events(self) -> None:
        """Run the after-commit callbacks (called by units of work)."""
        for callback in self._after_commit:
            callback()

    def ping(self) -> None:
        """Run a trivial query; raise if the store cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        for other in (self.write_engine, self.read_engine):
            if other is not self.engine:
                other.dispose()
