"""Writing audit entries for accounts changes, and reading the audit log back (admins only)."""

from __future__ import annotations

from typing import Any

from cityops.auth.model import Grant, Principal
from cityops.kernel.audit import AuditEntry, AuditFilter
from cityops.kernel.clock import Clock
from cityops.kernel.context import current_context
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWork, UnitOfWorkFactory

MAX_AUDIT_PAGE = 1000


def make_entry(
    clock: Clock,
    principal: Principal | None,
    grant: Grant | None,
    *,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Build an audit entry stamped with the clock and the current request's id and address."""
    context = current_context()
    return AuditEntry(
        action=action,
        object_type=object_type,
        object_id=object_id,
        actor=actor or (principal.name if principal else "anonymous"),
        actor_kind=principal.kind if principal else "anonymous",
        role=grant.role if grant else None,
        scope=str(grant.scope) if grant else None,
        before=before,
        after=after,
        at=clock.now(),
        request_id=context.request_id if context else None,
        client_address=context.client_address if context else None,
    )


class AuditReader:
    """Read the audit log; needs ``audit:read`` in the city scope."""

    def __init__(self, unit_of_work: UnitOfWorkFactory[UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    def query(self, principal: Principal, audit_filter: AuditFilter) -> list[AuditEntry]:
        """Return matching entries, newest first."""
        principal.authorize("audit:read")
        if not 1 <= audit_filter.limit <= MAX_AUDIT_PAGE:
            raise ValidationFailed.single(
                "limit", "range", f"must be between 1 and {MAX_AUDIT_PAGE}"
            )
        with self._unit_of_work(read_only=True) as uow:
            return uow.audit.query(audit_filter)
