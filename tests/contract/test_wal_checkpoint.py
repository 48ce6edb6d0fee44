"""The SQLite write-ahead log stays bounded under steady writing and reading.

SQLite's automatic checkpoints copy the log into the database but start it over only when no
reader uses it; with ingest and readers never pausing, the log grew by gigabytes in minutes (and
its index, mapped into every process, looked like a memory leak). ``Store.checkpoint_wal`` and
the background ``wal_checkpoint`` that ``serve`` and ``ts mqtt`` run keep it under a limit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cityops.auth.model import Principal
from cityops.bootstrap import Services, bootstrap
from cityops.sensing.model import ObservationBatch
from cityops.settings import Settings
from cityops.storage.engine import sqlite_path

START = 1_763_600_000_000


def _wal(services: Services) -> Path:
    path = sqlite_path(services.store.url)
    assert path is not None
    return path.with_name(path.name + "-wal")


@contextmanager
def _reader_holding_a_snapshot(services: Services) -> Iterator[None]:
    """Another connection in a read transaction: the log cannot start over meanwhile."""
    path = sqlite_path(services.store.url)
    reader = sqlite3.connect(str(path), isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM observations").fetchone()
        yield
    finally:
        reader.close()


def _write(services: Services, stream: int, batches: int, first: int = 0) -> int:
    written = 0
    for b in range(first, first + batches):
        batch = ObservationBatch()
        for i in range(2_000):
            batch.append(stream, START + (b * 2_000 + i) * 1_000, float(i % 97))
        written += services.ingest.store(batch).inserted
    return written


@pytest.fixture
def stream(services: Services, system: Principal) -> int:
    services.devices.register_thing(system, {"key": "AQ-1"})
    return services.devices.add_datastream(system, "AQ-1", {"metric": "pm25"}).id


def _count(services: Services) -> int:
    with services.store.engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM observations").scalar_one())


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_log_past_the_limit_is_checkpointed_and_emptied(services: Services, stream: int) -> None:
    with _reader_holding_a_snapshot(services):
        written = _write(services, stream, 10)
        grown = _wal(services).stat().st_size
        assert grown > 1_000_000  # the reader kept the log from starting over
        assert services.store.checkpoint_wal(grown) == 0  # not past the limit: left alone

    assert services.store.checkpoint_wal(1_000_000) == grown

    assert _wal(services).stat().st_size == 0
    assert _count(services) == written  # nothing lost: it is all in the database file
    written += _write(services, stream, 2, first=10)  # and writing goes on
    assert _count(services) == written


def test_postgresql_and_memory_stores_have_no_log_to_checkpoint(
    services: Services, stream: int
) -> None:
    _write(services, stream, 1)
    if services.store.dialect == "postgresql":
        assert services.store.checkpoint_wal(0) == 0
    else:
        assert services.store.checkpoint_wal(10**12) == 0  # under the limit


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_background_checkpoint_keeps_the_log_under_its_limit(
    settings: Settings, system: Principal
) -> None:
    services = bootstrap(settings.model_copy(update={"sqlite_wal_limit_mb": 1}))
    try:
        services.devices.register_thing(system, {"key": "AQ-1"})
        stream = services.devices.add_datastream(system, "AQ-1", {"metric": "pm25"}).id
        services.wal_checkpoint.start()  # what `serve` and `ts mqtt` start
        with _reader_holding_a_snapshot(services):
            written = _write(services, stream, 10)
            assert _wal(services).stat().st_size > 1024 * 1024
        deadline = time.monotonic() + 15
        while _wal(services).stat().st_size and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _wal(services).stat().st_size == 0
        assert _count(services) == written
    finally:
        services.close()


def test_the_background_checkpoint_runs_on_sqlite_files_only(settings: Settings) -> None:
    services = bootstrap(settings)
    try:
        services.start_background()
        assert services.wal_checkpoint.running == (services.store.dialect == "sqlite")
    finally:
        services.close()
    off = bootstrap(settings.model_copy(update={"sqlite_wal_limit_mb": 0}))
    try:
        off.wal_checkpoint.start()
        assert not off.wal_checkpoint.running
    finally:
        off.close()
