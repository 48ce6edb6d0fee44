"""Audit entries (who did what to which object, when, from where) and the port that stores them.

Every domain writes audit entries through its unit of work, in the same transaction as the change
it describes; admins read them back with an :class:`AuditFilter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One audited action: actor, the role and scope that allowed it, the object, before/after."""

    action: str
    object_type: str
    object_id: str
    actor: str
    actor_kind: str = "user"
    role: str | None = None
    scope: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    at: datetime
    request_id: str | None = None
    client_address: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    """Which entries to read: newest first, at most ``limit``, older than ``before_id``."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 100


class AuditLog(Protocol):
    """Append-only storage of audit entries."""

    def append(self, entry: AuditEntry) -> None:
        """Store one entry in the current transaction."""
        ...

    def query(self, audit_filter: AuditFilter) -> list[AuditEntry]:
        """Return the entries matching the filter, newest first."""
        ...
