"""PostgreSQL pool: idle connections are pinged before use; busy ones are not (a real server)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from cityops.storage import engine as store_engine


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(engine: Engine, pid: int) -> None:
    other = create_engine(engine.url, poolclass=NullPool)  # not through the pool under test
    with other.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    other.dispose()


def test_a_connection_killed_while_idle_is_replaced_before_use(pg_engine, monkeypatch):
    pid = _backend_pid(pg_engine)
    _backend_pid(pg_engine)  # the same pooled connection comes back
    assert _backend_pid(pg_engine) == pid
    _terminate(pg_engine, pid)
    monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _backend_pid(pg_engine) != pid  # pinged, found dead, replaced: no error


def test_a_recently_used_connection_is_not_pinged(pg_engine, monkeypatch):
    statements: list[str] = []
    pid = _backend_pid(pg_engine)
    monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_SECONDS", 3600.0)

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(pg_engine, "before_cursor_execute", record)
    assert _backend_pid(pg_engine) == pid
    assert statements == ["SELECT pg_backend_pid()"]
    # Without a ping, a connection that died while in recent use fails its next statement
    # once; the pool then discards it and the statement after that succeeds.
    _terminate(pg_engine, pid)
    with pytest.raises(DBAPIError):
        _backend_pid(pg_engine)
    assert _backend_pid(pg_engine) != pid
