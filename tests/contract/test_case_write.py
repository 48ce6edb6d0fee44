"""A new case with its history, reporter, audit entry and event: all or nothing, on both stores.

On PostgreSQL the case's id is drawn ahead and everything goes at commit in one statement, sent
alone in autocommit (no BEGIN, no COMMIT round trips); the checks here read the driver's own
state to prove it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import event, func, select

from cityops.cases.events import CaseAccepted
from cityops.cases.model import (
    Case,
    Channel,
    DuplicateExternalRef,
    HistoryEntry,
    Reporter,
    case_number,
)
from cityops.cases.workflow import Status
from cityops.kernel.audit import AuditEntry, AuditFilter
from cityops.storage import Store
from cityops.storage.schema import audit_log, case_history, case_reporters, cases, outbox_events
from cityops.storage.write_batches import MAX_CACHED_STATEMENT_LENGTH


@pytest.fixture
def store(database_url, clock):
    built = Store(database_url, clock=clock)
    yield built
    built.dispose()


@pytest.fixture
def pg_store(postgres_database, clock):
    built = Store(postgres_database, clock=clock)
    yield built
    built.dispose()


def _case(clock, ref: str | None = None) -> Case:
    return Case(
        id=0,
        channel=Channel.HOTLINE,
        description="井盖缺失",
        accepted_at=clock.now(),
        accepted_by="clerk",
        updated_at=clock.now(),
        external_ref=ref,
        lon=118.78,
        lat=32.04,
    )


def _history(clock) -> list[HistoryEntry]:
    at = clock.now()
    return [
        HistoryEntry(0, at, "clerk", "accept", Status.ACCEPTED, role="intake"),
        HistoryEntry(0, at, "auto", "file", Status.FILED, Status.ACCEPTED, role="system"),
        HistoryEntry(0, at, "auto", "dispatch", Status.DISPATCHED, Status.FILED, role="system"),
    ]


def _accepted(case_id: int, number: str) -> CaseAccepted:
    return CaseAccepted(
        case_id=case_id,
        number=number,
        channel="hotline",
        matter_code=None,
        grid_code=None,
        department_code=None,
    )


def _register(store: Store, clock, ref: str | None = None) -> int:
    """What intake does: the case, three history entries, a reporter, an audit entry, an event."""
    case = _case(clock, ref)
    reporter = Reporter(0, 0, Channel.HOTLINE, "张三", "13800000000", clock.now())
    with store.unit_of_work() as uow:
        case_id = uow.cases.add_new(case, _history(clock), reporter)
        number = case_number(case_id, clock.now(), clock.now().tzinfo)
        uow.audit.append(
            AuditEntry(
                action="cases.accept",
                object_type="case",
                object_id=number,
                actor="clerk",
                role="intake",
                scope="city",
                before=None,
                after={"ref": ref},
                at=clock.now(),
            )
        )
        uow.record(_accepted(case_id, number))
        uow.commit()
    return case_id


def _counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (cases, case_history, case_reporters, audit_log, outbox_events)
        }


def test_a_new_case_is_written_whole(store, clock):
    case_id = _register(store, clock, "A-1")
    with store.unit_of_work(read_only=True) as uow:
        found = uow.cases.get(case_id)
        assert found is not None
        assert found.external_ref == "A-1"
        history = uow.cases.history(case_id)
        assert [e.command for e in history] == ["accept", "file", "dispatch"]  # in their order
        assert {e.case_id for e in history} == {case_id}
        [reporter] = uow.cases.reporters(case_id)
        assert (reporter.case_id, reporter.from_case_id, reporter.name) == (
            case_id,
            case_id,
            "张三",
        )
        [entry] = uow.audit.query(AuditFilter(action="cases.accept"))
        assert entry.object_id.endswith(str(case_id))
        [stored] = uow.outbox.events_after(0, 10)
        assert stored.payload["case_id"] == case_id


def test_a_repeated_reference_writes_nothing_of_the_second_case(store, clock):
    _register(store, clock, "A-1")
    before = _counts(store)
    with pytest.raises(DuplicateExternalRef, match="A-1"):
        _register(store, clock, "A-1")
    assert _counts(store) == before  # no case, history, reporter, audit entry or event


def test_ids_go_up_with_every_case(store, clock):
    ids = []
    for n in range(5):
        clock.advance(timedelta(seconds=1))
        ids.append(_register(store, clock, f"R-{n}"))
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


def _driver_trace(store: Store) -> list[dict[str, Any]]:
    """Record every statement with the driver connection's autocommit flag at the time."""
    seen: list[dict[str, Any]] = []

    def before(connection, cursor, statement, parameters, context, executemany):
        seen.append({"sql": statement, "autocommit": cursor.connection.autocommit})

    event.listen(store.engine, "before_cursor_execute", before)
    return seen


def test_on_postgresql_the_write_is_one_statement_without_begin_or_commit(pg_store, clock):
    store = pg_store
    _register(store, clock, f"warm-{uuid4()}")  # the first id block is drawn on its own
    seen = _driver_trace(store)
    _register(store, clock, f"B-{uuid4()}")
    writes = [s for s in seen if "nextval(pg_get_serial_sequence" not in s["sql"]]
    assert len(writes) == 1, [s["sql"][:80] for s in seen]
    assert writes[0]["autocommit"] is True  # psycopg sends no BEGIN before it, nor COMMIT after
    assert "INSERT INTO cases" in writes[0]["sql"]
    assert "INSERT INTO outbox_events" in writes[0]["sql"]


def test_on_postgresql_a_unit_that_wrote_before_commit_stays_one_transaction(pg_store, clock):
    store = pg_store
    seen = _driver_trace(store)
    first, second = f"C-{uuid4()}", f"C-{uuid4()}"
    with store.unit_of_work() as uow:
        uow.cases.add_new(_case(clock, first), _history(clock)[:1], None)
        other = uow.cases.add(_case(clock, second))  # a write before commit: a transaction
        uow.record(_accepted(other, "n"))
        uow.commit()
    writes = [s for s in seen if "nextval(pg_get_serial_sequence" not in s["sql"]]
    assert len(writes) == 2
    assert all(s["autocommit"] is False for s in writes)
    with store.unit_of_work(read_only=True) as uow:
        assert uow.cases.by_external_ref(Channel.HOTLINE, first) is not None
        assert uow.cases.by_external_ref(Channel.HOTLINE, second) is not None


def test_a_unit_left_without_commit_writes_nothing(store, clock):
    before = _counts(store)
    with store.unit_of_work() as uow:
        uow.cases.add_new(_case(clock, "D-1"), _history(clock), None)
        uow.record(_accepted(1, "n"))
    assert _counts(store) == before


def test_the_one_statement_is_short_enough_for_psycopg_to_prepare_it(pg_store, clock):
    """psycopg caches and prepares only short statements with few parameters."""
    seen = _driver_trace(pg_store)
    _register(pg_store, clock, f"E-{uuid4()}")
    [write] = [s for s in seen if "INSERT INTO outbox_events" in s["sql"]]
    assert len(write["sql"]) < MAX_CACHED_STATEMENT_LENGTH
    assert write["sql"].count("%(") < 50


def test_the_tables_written_in_one_statement_have_no_column_defaults():
    """Columns left out of a row are NULL there: a default would silently not apply."""
    for table in (cases, case_history, case_reporters, audit_log, outbox_events):
        for column in table.columns:
            if not column.primary_key:
                assert column.default is None, (table.name, column.name)
                assert column.server_default is None, (table.name, column.name)
