"""The append-only audit log in SQL.

Entries appended in a unit of work are written when it commits (with the domain events, in one
statement on PostgreSQL) or before the log is read in it; a unit of work left without commit
writes none, as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from cityops.kernel.audit import AuditEntry, AuditFilter
from cityops.storage.prepared import insert_rows
from cityops.storage.schema import audit_log


class SqlAuditLog:
    """Append and query audit entries."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._pending: list[dict[str, Any]] = []

    def append(self, entry: AuditEntry) -> None:
        """Add one entry (written at commit)."""
        self.append_many([entry])

    def append_many(self, entries: list[AuditEntry]) -> None:
        """Add entries (written at commit, in one batch)."""
        self._pending.extend(
            [
                {
                    "at": e.at,
                    "actor": e.actor,
                    "actor_kind": e.actor_kind,
                    "role": e.role,
                    "scope": e.scope,
                    "action": e.action,
                    "object_type": e.object_type,
                    "object_id": e.object_id,
                    "before": e.before,
                    "after": e.after,
                    "request_id": e.request_id,
                    "client_address": e.client_address,
                }
                for e in entries
            ]
        )

    def take_pending(self) -> list[dict[str, Any]]:
        """Return the rows not written yet and forget them (the unit of work writes them)."""
        pending, self._pending = self._pending, []
        return pending

    def flush(self) -> None:
        """Write the pending entries now."""
        insert_rows(self._connection, audit_log, self.take_pending())

    def query(self, audit_filter: AuditFilter) -> list[AuditEntry]:
        """Return matching entries, newest first."""
        self.flush()
        f = audit_filter
        query = select(audit_log)
        for column, value in (
            (audit_log.c.actor, f.actor),
            (audit_log.c.action, f.action),
            (audit_log.c.object_type, f.object_type),
            (audit_log.c.object_id, f.object_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if f.since is not None:
            query = query.where(audit_log.c.at >= f.since)
        if f.until is not None:
            query = query.where(audit_log.c.at < f.until)
        if f.before_id is not None:
            query = query.where(audit_log.c.id < f.before_id)
        query = query.order_by(audit_log.c.id.desc()).limit(f.limit)
        return [_entry(row) for row in self._connection.execute(query).mappings()]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        actor_kind=row["actor_kind"],
        role=row["role"],
        scope=row["scope"],
        action=row["action"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        before=row["before"],
        after=row["after"],
        request_id=row["request_id"],
        client_address=row["client_address"],
    )
