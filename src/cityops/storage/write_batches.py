"""Rows of several tables written together: one statement on PostgreSQL, one per table on SQLite.

On PostgreSQL every statement is a round trip and a parse/bind/execute on the server, so the
writes that always come together go in one statement with data-modifying CTEs. At commit, a
new case (its id drawn ahead, see :mod:`cityops.storage.case_ids`) with its history entries
and reporter, the audit entry and the domain event are one statement, with the outbox's
advisory lock taken first (``AS MATERIALIZED``, a volatile function: evaluated before the outbox
row, so the event id is drawn under the lock, as with a separate ``SELECT
pg_advisory_xact_lock``). A statement is atomic on its own, so when it is all a unit of work
writes it needs no ``BEGIN`` and ``COMMIT`` around it (see :func:`fits_one_statement`).

SQLite runs in the process: the same rows are inserted one statement per table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, literal_column, select
from sqlalchemy.sql.elements import ClauseElement

from cityops.storage.prepared import insert_row, insert_rows, omit_nulls, prepared
from cityops.storage.schema import audit_log, case_history, case_reporters, cases, outbox_events

Row = Mapping[str, Any]


@dataclass(frozen=True)
class NewCaseRows:
    """A new case's rows, its id already given (history and reporter carry it too)."""

    case: Row
    history: Sequence[Row] = ()
    reporter: Row | None = None


def insert_case(
    connection: Connection, case: Row, history: Sequence[Row], reporter: Row | None
) -> int:
    """Insert a case (its id given by the store), its history and reporter; return its id.

    The history rows and the reporter come without ``case_id`` (and ``from_case_id``): both
    are the new case's. For stores that give the id at insert (SQLite).
    """
    case_id = int(insert_row(connection, cases, case, returning=cases.c.id).scalar_one())
    insert_rows(connection, case_history, [{**entry, "case_id": case_id} for entry in history])
    if reporter is not None:
        insert_row(
            connection, case_reporters, {**reporter, "case_id": case_id, "from_case_id": case_id}
        )
    return case_id


def fits_one_statement(
    new_cases: Sequence[NewCaseRows], audit: Sequence[Row], events: Sequence[Row]
) -> bool:
    """Return True when :func:`write_at_commit` writes these rows in one PostgreSQL statement."""
    return len(new_cases) <= 1 and len(audit) <= 1 and len(events) == 1


def write_at_commit(
    connection: Connection,
    new_cases: Sequence[NewCaseRows],
    audit: Sequence[Row],
    events: Sequence[Row],
    outbox_lock_key: int,
) -> None:
    """Insert staged new cases, pending audit entries and outbox events.

    On PostgreSQL the events are written under the outbox lock: writers are serialised for the
    short rest of the transaction, so that event ids become visible in id order and no reader
    ever skips a gap.
    """
    if connection.dialect.name == "postgresql" and fits_one_statement(new_cases, audit, events):
        _write_one_statement(connection, new_cases, audit, events[0], outbox_lock_key)
        return
    for new_case in new_cases:
        insert_row(connection, cases, new_case.case)
        insert_rows(connection, case_history, new_case.history)
        if new_case.reporter is not None:
            insert_row(connection, case_reporters, new_case.reporter)
    insert_rows(connection, audit_log, audit)
    if events and connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(outbox_lock_key)})")
    insert_rows(connection, outbox_events, events)


def _binds(table: Table, prefix: str, keys: Sequence[str]) -> dict[str, Any]:
    return {key: bindparam(f"{prefix}{key}", type_=table.c[key].type) for key in keys}


Shape = tuple[
    tuple[str, ...] | None,  # the case's columns
    tuple[tuple[str, ...], int],  # the history entries' columns (all of them) and how many
    tuple[str, ...] | None,  # the reporter's
    tuple[str, ...] | None,  # the audit entry's
    tuple[str, ...],  # the event's
]


def _one_statement(lock_key: int, shape: Shape) -> ClauseElement:
    case_keys, (history_keys, history_count), reporter_keys, audit_keys, event_keys = shape
    lock = (
        select(func.pg_advisory_xact_lock(literal_column(str(int(lock_key)))).label("locked"))
        .cte("outbox_lock")
        .prefix_with("MATERIALIZED")
    )
    parts = []
    if case_keys is not None:
        parts.append(insert(cases).values(_binds(cases, "c_", case_keys)).cte("new_case"))
    if history_count:  # one multi-row VALUES: the entries get their ids in their order
        rows = [_binds(case_history, f"h{i}_", history_keys) for i in range(history_count)]
        parts.append(insert(case_history).values(rows).cte("new_history"))
    if reporter_keys is not None:
        values = _binds(case_reporters, "r_", reporter_keys)
        parts.append(insert(case_reporters).values(values).cte("new_reporter"))
    if audit_keys is not None:
        parts.append(insert(audit_log).values(_binds(audit_log, "a_", audit_keys)).cte("new_audit"))
    event = _binds(outbox_events, "e_", event_keys)
    statement = insert(outbox_events).from_select(
        list(event_keys), select(*event.values()).select_from(lock)
    )
    return statement.add_cte(*parts) if parts else statement


def _write_one_statement(
    connection: Connection,
    new_cases: Sequence[NewCaseRows],
    audit: Sequence[Row],
    event: Row,
    outbox_lock_key: int,
) -> None:
    values: dict[str, Any] = {f"e_{k}": v for k, v in event.items()}
    case_keys = reporter_keys = audit_keys = None
    history_keys: dict[str, None] = {}  # the columns of any entry, in order
    if new_cases:
        new_case = new_cases[0]
        case_keys = omit_nulls(cases, new_case.case)
        values.update((f"c_{k}", v) for k, v in new_case.case.items())
        for index, entry in enumerate(new_case.history):
            history_keys.update(dict.fromkeys(omit_nulls(case_history, entry)))
            values.update((f"h{index}_{k}", v) for k, v in entry.items())
        if new_case.reporter is not None:
            reporter_keys = omit_nulls(case_reporters, new_case.reporter)
            values.update((f"r_{k}", v) for k, v in new_case.reporter.items())
    if audit:
        audit_keys = omit_nulls(audit_log, audit[0])
        values.update((f"a_{k}", v) for k, v in audit[0].items())
    shape: Shape = (
        case_keys,
        (tuple(history_keys), len(new_cases[0].history) if new_cases else 0),
        reporter_keys,
        audit_keys,
        omit_nulls(outbox_events, event),
    )
    statement = prepared(
        connection,
        ("write_batches.commit", outbox_lock_key, shape),
        lambda: _one_statement(outbox_lock_key, shape),
        for_executemany=True,
    )
    statement.execute(connection, values)
