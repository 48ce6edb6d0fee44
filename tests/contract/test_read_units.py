"""Read-only units of work start no transaction: every statement reads its own snapshot.

As on PostgreSQL under READ COMMITTED, where read-only units run in autocommit (a pool of their
own), SQLite's send no BEGIN: no round trip (PostgreSQL) or lock bookkeeping (SQLite) for it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from cityops.auth.model import Department
from cityops.storage import Store


@pytest.fixture
def store(database_url, clock):
    built = Store(database_url, clock=clock)
    yield built
    built.dispose()


def _trace(engine: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def before(connection, cursor, statement, parameters, context, executemany):
        seen.append((statement, getattr(cursor.connection, "autocommit", None)))

    event.listen(engine, "before_cursor_execute", before)
    return seen


def test_a_read_only_unit_sends_no_begin(store):
    seen = _trace(store.read_engine)
    with store.unit_of_work(read_only=True) as uow:
        assert uow.departments.list() == []
        assert uow.users.get("nobody") is None
    statements = [sql.split()[0].upper() for sql, _ in seen]
    assert "BEGIN" not in statements
    assert len(statements) == 2
    if store.dialect == "postgresql":
        assert all(autocommit is True for _, autocommit in seen)


def test_a_writing_unit_still_begins_its_transaction(store, clock):
    seen = _trace(store.write_engine)
    with store.unit_of_work() as uow:
        uow.departments.add(Department("SZ", "市政"), clock.now())
        uow.commit()
    if store.dialect == "sqlite":
        assert seen[0][0] == "BEGIN IMMEDIATE"
    else:
        assert all(autocommit is False for _, autocommit in seen)
    with store.unit_of_work(read_only=True) as uow:
        assert [d.code for d in uow.departments.list()] == ["SZ"]
