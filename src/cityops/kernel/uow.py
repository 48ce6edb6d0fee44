"""The unit-of-work shape every domain builds on: one transaction, its audit log and outbox."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, TypeVar

from cityops.kernel.audit import AuditLog
from cityops.kernel.bus import EventLog
from cityops.kernel.events import DomainEvent


class UnitOfWork(Protocol):
    """One transaction against the store.

    Used as a context manager: leaving the block without :meth:`commit` rolls back. Events
    passed to :meth:`record` are written to the outbox inside the same transaction and are
    delivered to subscribers only after commit.
    """

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    @property
    def audit(self) -> AuditLog:
        """The audit log inside this transaction."""
        ...

    @property
    def outbox(self) -> EventLog:
        """The outbox inside this transaction."""
        ...

    def record(self, event: DomainEvent) -> None:
        """Queue a domain event to be written with this transaction."""
        ...

    def commit(self) -> None:
        """Commit everything done in this unit of work."""
        ...


UoW_co = TypeVar("UoW_co", bound=UnitOfWork, covariant=True)


class UnitOfWorkFactory(Protocol[UoW_co]):
    """Opens units of work; ``read_only`` ones never take the store's single-writer lock."""

    def __call__(self, *, read_only: bool = False) -> UoW_co:
        """Return a new, not yet entered, unit of work."""
        ...
