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

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Connection, Dialect, Table

from cityops.storage.prepared import insert_row, insert_rows
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


# psycopg parses, caches and prepares (server-side) only statements shorter than this with
# fewer than 50 parameters: the one statement passes each row as one JSON parameter.
MAX_CACHED_STATEMENT_LENGTH = 4096
_statements: dict[tuple[int, bool, bool, bool, bool], str] = {}


def _columns(table: Table, dialect: Dialect) -> tuple[str, str]:
    """Return the insert's column list and the select list reading them from record ``r``.

    Every column but a generated id is listed: a column missing from the row is NULL, which
    is right for these tables (none has a default; a test holds them to it). A JSON null is
    kept as JSON ``null``, as SQLAlchemy stores it, not SQL NULL.
    """
    quote = dialect.identifier_preparer.quote
    names = [c for c in table.columns if not (c.primary_key and table is not cases)]
    targets = ", ".join(quote(c.name) for c in names)
    values = ", ".join(
        f"coalesce(r.{quote(c.name)}, 'null'::json)"
        if isinstance(c.type, JSON) and c.nullable
        else f"r.{quote(c.name)}"
        for c in names
    )
    return targets, values


def _one_statement(
    dialect: Dialect, lock_key: int, case: bool, history: bool, reporter: bool, audit: bool
) -> str:
    parts = [
        f"outbox_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock({int(lock_key)}) AS locked)"
    ]
    for name, table, present, source in (
        ("new_case", cases, case, "json_populate_record(NULL::cases, %(case)s::json) AS r"),
        (
            "new_history",
            case_history,
            history,
            "json_populate_recordset(NULL::case_history, %(history)s::json) WITH ORDINALITY AS r",
        ),
        (
            "new_reporter",
            case_reporters,
            reporter,
            "json_populate_record(NULL::case_reporters, %(reporter)s::json) AS r",
        ),
        (
            "new_audit",
            audit_log,
            audit,
            "json_populate_record(NULL::audit_log, %(audit)s::json) AS r",
        ),
    ):
        if present:
            targets, values = _columns(table, dialect)
            order = " ORDER BY r.ordinality" if table is case_history else ""
            insert = f"INSERT INTO {table.name} ({targets}) SELECT {values} FROM {source}{order}"
            parts.append(f"{name} AS ({insert})")
    targets, values = _columns(outbox_events, dialect)
    return (
        "WITH " + ", ".join(parts) + f" INSERT INTO outbox_events ({targets}) SELECT {values} "
        "FROM outbox_lock, json_populate_record(NULL::outbox_events, %(event)s::json) AS r"
    )


def _json(row: Row) -> str:
    """Return a row as one JSON object (datetimes in ISO 8601 with their offset)."""
    return json.dumps(
        {k: v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
    )


def _write_one_statement(
    connection: Connection,
    new_cases: Sequence[NewCaseRows],
    audit: Sequence[Row],
    event: Row,
    outbox_lock_key: int,
) -> None:
    new_case = new_cases[0] if new_cases else None
    shape = (
        outbox_lock_key,
        new_case is not None,
        bool(new_case and new_case.history),
        bool(new_case and new_case.reporter is not None),
        bool(audit),
    )
    sql = _statements.get(shape)
    if sql is None:
        sql = _statements[shape] = _one_statement(connection.dialect, *shape)
    values = {"event": _json(event)}
    if new_case is not None:
        values["case"] = _json(new_case.case)
        values["history"] = "[" + ", ".join(_json(entry) for entry in new_case.history) + "]"
        if new_case.reporter is not None:
            values["reporter"] = _json(new_case.reporter)
    if audit:
        values["audit"] = _json(audit[0])
    connection.exec_driver_sql(sql, values)
