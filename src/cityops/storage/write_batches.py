"""Rows of several tables written by one statement on PostgreSQL, one table at a time on SQLite.

On PostgreSQL every statement is a round trip and a parse/bind/execute on the server, so the
writes that always come together go in one statement with data-modifying CTEs:

* a new case, its first history entry and its reporter (the case id flows from the insert's
  ``RETURNING`` into the other two);
* at commit, the pending audit entries and the domain event, with the outbox's advisory lock
  taken first (``AS MATERIALIZED``, a volatile function: evaluated before the outbox row, so the
  event id is drawn under the lock, as with a separate ``SELECT pg_advisory_xact_lock``).

SQLite runs in the process: the same rows are inserted one statement per table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, literal_column, select
from sqlalchemy.sql.elements import ClauseElement

from cityops.storage.prepared import insert_row, insert_rows, omit_nulls, prepared
from cityops.storage.schema import audit_log, case_history, case_reporters, cases, outbox_events


def _binds(table: Table, prefix: str, keys: Sequence[str]) -> list[Any]:
    return [bindparam(f"{prefix}{key}", type_=table.c[key].type) for key in keys]


def _case_statement(
    case_keys: Sequence[str], history_keys: Sequence[str], reporter_keys: Sequence[str] | None
) -> ClauseElement:
    new_case = (
        insert(cases)
        .values(dict(zip(case_keys, _binds(cases, "c_", case_keys), strict=True)))
        .returning(cases.c.id)
        .cte("new_case")
    )
    parts = [
        insert(case_history)
        .from_select(
            ["case_id", *history_keys],
            select(new_case.c.id, *_binds(case_history, "h_", history_keys)),
        )
        .cte("new_history")
    ]
    if reporter_keys is not None:
        parts.append(
            insert(case_reporters)
            .from_select(
                ["case_id", "from_case_id", *reporter_keys],
                select(new_case.c.id, new_case.c.id, *_binds(case_reporters, "r_", reporter_keys)),
            )
            .cte("new_reporter")
        )
    return select(new_case.c.id).add_cte(*parts)


def insert_case(
    connection: Connection,
    case: Mapping[str, Any],
    history: Mapping[str, Any],
    reporter: Mapping[str, Any] | None,
) -> int:
    """Insert a case, one history entry and optionally a reporter; return the case id.

    ``history`` and ``reporter`` are rows without ``case_id`` (and ``from_case_id``): both
    are the new case's.
    """
    if connection.dialect.name != "postgresql":
        case_id = int(insert_row(connection, cases, case, returning=cases.c.id).scalar_one())
        insert_row(connection, case_history, {**history, "case_id": case_id})
        if reporter is not None:
            insert_row(
                connection,
                case_reporters,
                {**reporter, "case_id": case_id, "from_case_id": case_id},
            )
        return case_id
    case_keys = omit_nulls(cases, case)
    history_keys = omit_nulls(case_history, history)
    reporter_keys = None if reporter is None else omit_nulls(case_reporters, reporter)
    statement = prepared(
        connection,
        ("write_batches.case", case_keys, history_keys, reporter_keys),
        lambda: _case_statement(case_keys, history_keys, reporter_keys),
    )
    values = {f"c_{k}": v for k, v in case.items()}
    values.update((f"h_{k}", v) for k, v in history.items())
    if reporter is not None:
        values.update((f"r_{k}", v) for k, v in reporter.items())
    return int(statement.execute(connection, values).scalar_one())


def _commit_statement(
    lock_key: int, event_keys: Sequence[str], audit_keys: Sequence[str] | None
) -> ClauseElement:
    lock = (
        select(func.pg_advisory_xact_lock(literal_column(str(int(lock_key)))).label("locked"))
        .cte("outbox_lock")
        .prefix_with("MATERIALIZED")
    )
    statement = insert(outbox_events).from_select(
        list(event_keys), select(*_binds(outbox_events, "e_", event_keys)).select_from(lock)
    )
    if audit_keys is not None:
        audit = (
            insert(audit_log)
            .from_select(list(audit_keys), select(*_binds(audit_log, "a_", audit_keys)))
            .cte("new_audit")
        )
        statement = statement.add_cte(audit)
    return statement


def write_at_commit(
    connection: Connection,
    audit: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    outbox_lock_key: int,
) -> None:
    """Insert pending audit entries and outbox events (events under the outbox lock on PG)."""
    if connection.dialect.name != "postgresql":
        insert_rows(connection, audit_log, audit)
        insert_rows(connection, outbox_events, events)
        return
    if len(events) != 1 or len(audit) > 1:
        insert_rows(connection, audit_log, audit)
        if events:
            # Serialise outbox writers for the short rest of the transaction, so that event
            # ids become visible in id order and no reader ever skips a gap.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(outbox_lock_key)})")
            insert_rows(connection, outbox_events, events)
        return
    event_keys = omit_nulls(outbox_events, events[0])
    audit_keys = omit_nulls(audit_log, audit[0]) if audit else None
    statement = prepared(
        connection,
        ("write_batches.commit", outbox_lock_key, event_keys, audit_keys),
        lambda: _commit_statement(outbox_lock_key, event_keys, audit_keys),
        for_executemany=True,
    )
    values = {f"e_{k}": v for k, v in events[0].items()}
    if audit:
        values.update((f"a_{k}", v) for k, v in audit[0].items())
    statement.execute(connection, values)
