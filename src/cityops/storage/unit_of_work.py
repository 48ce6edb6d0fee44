"""The SQL unit of work: one connection, one transaction, repositories, audit and outbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Self

from cityops.kernel.events import DomainEvent
from cityops.storage.engine import READS_ONLY_OPTION, WRITE_OPTION
from cityops.storage.repositories.accounts import SqlDepartmentRepository, SqlUserRepository
from cityops.storage.repositories.alerts import SqlAlertRepository, SqlAlertRuleRepository
from cityops.storage.repositories.audit import SqlAuditLog
from cityops.storage.repositories.case_kpi_cells import SqlKpiCellRepository
from cityops.storage.repositories.cases import (
    SqlCaseRepository,
    refusing_repeated_references,
    staged_references,
)
from cityops.storage.repositories.components import SqlComponentRepository
from cityops.storage.repositories.credentials import SqlApiKeyRepository, SqlSessionRepository
from cityops.storage.repositories.geography import (
    SqlDivisionRepository,
    SqlGridAssignmentRepository,
)
from cityops.storage.repositories.matter_rules import SqlMatterRuleRepository
from cityops.storage.repositories.observation_reads import SqlObservationReads
from cityops.storage.repositories.observations import SqlObservationStore
from cityops.storage.repositories.outbox import SqlOutbox
from cityops.storage.repositories.places import SqlPlaceRepository
from cityops.storage.repositories.sensing import SqlDatastreamRepository, SqlThingRepository
from cityops.storage.repositories.sta import SqlStaRepository
from cityops.storage.repositories.sta_observations import SqlStaObservationQueries
from cityops.storage.repositories.webhooks import SqlWebhookRepository
from cityops.storage.write_batches import fits_one_statement, write_at_commit

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from cityops.storage.store import Store

# Any constant works; it only has to be the same for every writer of the outbox.
_OUTBOX_LOCK_KEY = 727_001


@contextmanager
def _autocommit(connection: Connection) -> Iterator[None]:
    """Run the block's one statement in autocommit, then give the connection back as it was.

    The driver's flag is set directly: SQLAlchemy's isolation-level option would do the same
    and then reset it on every checkin, which costs more than the round trip it saves.
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.autocommit = True
    try:
        yield
    finally:
        if not driver.closed:
            driver.autocommit = False


class SqlUnitOfWork:
    """A transaction; leaving the ``with`` block without :meth:`commit` rolls it back."""

    def __init__(self, store: Store, *, read_only: bool) -> None:
        self._store = store
        self._read_only = read_only
        self._pending: list[DomainEvent] = []
        self._connection: Connection | None = None
        self._locked = False
        self._events_committed = False

    def __enter__(self) -> Self:
        lock = self._store.write_lock
        if lock is not None and not self._read_only:
            lock.acquire()
            self._locked = True
        try:
            # PostgreSQL's read-only units use the autocommit pool (Store.read_engine): under
            # READ COMMITTED every statement takes its own snapshot either way, and autocommit
            # saves the BEGIN and ROLLBACK round trips (and keeps psycopg's prepared
            # statements, which it forgets after a ROLLBACK). SQLite's send no BEGIN either.
            engine = self._store.read_engine if self._read_only else self._store.write_engine
            self._connection = engine.connect().execution_options(
                **{WRITE_OPTION: not self._read_only, READS_ONLY_OPTION: self._read_only}
            )
            if self._store.dialect != "postgresql" or self._read_only:
                # PostgreSQL writers begin at their first statement (SQLAlchemy's autobegin):
                # one whose only writes are at commit may send them as one statement, alone.
                self._connection.begin()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._connection is not None:
                if self._connection.in_transaction():
                    self._connection.rollback()
                self._connection.close()
        finally:
            self._release()
        if self._events_committed:
            self._store.committed_events()

    def _release(self) -> None:
        if self._locked and self._store.write_lock is not None:
            self._store.write_lock.release()
            self._locked = False

    @property
    def connection(self) -> Connection:
        """The open connection (only inside the ``with`` block)."""
        if self._connection is None:
            raise RuntimeError("unit of work used outside its with-block")
        return self._connection

    @property
    def dialect(self) -> str:
        """The SQL dialect name (``sqlite`` or ``postgresql``)."""
        return self._store.dialect

    @cached_property
    def users(self) -> SqlUserRepository:
        """Users and role grants."""
        return SqlUserRepository(self.connection)

    @cached_property
    def departments(self) -> SqlDepartmentRepository:
        """Departments."""
        return SqlDepartmentRepository(self.connection)

    @cached_property
    def api_keys(self) -> SqlApiKeyRepository:
        """API keys."""
        return SqlApiKeyRepository(self.connection)

    @cached_property
    def sessions(self) -> SqlSessionRepository:
        """Sign-in sessions."""
        return SqlSessionRepository(self.connection)

    @cached_property
    def divisions(self) -> SqlDivisionRepository:
        """Divisions and grids, with history."""
        return SqlDivisionRepository(self.connection)

    @cached_property
    def grid_assignments(self) -> SqlGridAssignmentRepository:
        """Grid workers and responsible units."""
        return SqlGridAssignmentRepository(self.connection)

    @cached_property
    def components(self) -> SqlComponentRepository:
        """Managed components (管理部件)."""
        return SqlComponentRepository(self.connection)

    @cached_property
    def places(self) -> SqlPlaceRepository:
        """The gazetteer's roads, addresses and points of interest."""
        return SqlPlaceRepository(self.connection)

    @cached_property
    def cases(self) -> SqlCaseRepository:
        """Cases with their history, reporters and attachments."""
        return SqlCaseRepository(self.connection, self._store.case_ids)

    @cached_property
    def kpi_cells(self) -> SqlKpiCellRepository:
        """KPI day cells (pre-aggregated counters)."""
        return SqlKpiCellRepository(self.connection)

    @cached_property
    def matter_rules(self) -> SqlMatterRuleRepository:
        """A city's matter rules."""
        return SqlMatterRuleRepository(self.connection)

    @cached_property
    def things(self) -> SqlThingRepository:
        """Things (devices)."""
        return SqlThingRepository(self.connection)

    @cached_property
    def datastreams(self) -> SqlDatastreamRepository:
        """Datastreams."""
        return SqlDatastreamRepository(self.connection)

    @cached_property
    def observations(self) -> SqlObservationStore:
        """The bulk write of readings with their rollups."""
        return SqlObservationStore(
            self.connection, self._store.observation_partitions, self._store.local_offset_ms
        )

    @property
    def observation_retention(self) -> SqlObservationStore:
        """Deleting old readings and minute rollups (the observation store does it)."""
        return self.observations

    @cached_property
    def observation_reads(self) -> SqlObservationReads:
        """Reads of readings and rollups."""
        return SqlObservationReads(self.connection, self._store.local_offset_ms)

    @cached_property
    def sta(self) -> SqlStaRepository:
        """SensorThings sensors, observed properties, locations and links."""
        return SqlStaRepository(self.connection)

    @cached_property
    def sta_observations(self) -> SqlStaObservationQueries:
        """SensorThings Observation queries."""
        return SqlStaObservationQueries(self.connection)

    @cached_property
    def webhooks(self) -> SqlWebhookRepository:
        """Webhooks and their deliveries."""
        return SqlWebhookRepository(self.connection)

    @cached_property
    def alert_rules(self) -> SqlAlertRuleRepository:
        """Alert rules."""
        return SqlAlertRuleRepository(self.connection)

    @cached_property
    def alerts(self) -> SqlAlertRepository:
        """Alerts."""
        return SqlAlertRepository(self.connection)

    @cached_property
    def audit(self) -> SqlAuditLog:
        """The audit log."""
        return SqlAuditLog(self.connection)

    @cached_property
    def outbox(self) -> SqlOutbox:
        """The domain-event outbox and subscriber offsets."""
        return SqlOutbox(self.connection, self._store.clock)

    def record(self, event: DomainEvent) -> None:
        """Queue an event; it is written to the outbox at commit, in this transaction."""
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot record events")
        self._pending.append(event)

    def commit(self) -> None:
        """Write staged new cases, pending audit entries and queued events, then commit.

        On PostgreSQL the outbox writers are serialised for the short rest of the transaction
        (an advisory lock), so that event ids become visible in id order and no reader ever
        skips a gap. When nothing was sent before and the writes fit in one statement, that
        statement goes alone, in autocommit: it is atomic on its own, and BEGIN and COMMIT
        would be two more round trips.
        """
        wrote_events = bool(self._pending)
        new_cases = self.cases.take_staged() if "cases" in self.__dict__ else []
        audit = self.audit.take_pending() if "audit" in self.__dict__ else []
        if new_cases or self._pending or audit:
            events = self.outbox.rows(self._pending) if self._pending else []
            connection = self.connection
            alone = (
                self._store.dialect == "postgresql"
                and not connection.in_transaction()
                and fits_one_statement(new_cases, audit, events)
            )
            with (
                refusing_repeated_references(*staged_references(new_cases)),
                _autocommit(connection) if alone else nullcontext(),
            ):
                write_at_commit(connection, new_cases, audit, events, _OUTBOX_LOCK_KEY)
            self._pending = []
        self.connection.commit()
        self._events_committed = self._events_committed or wrote_events
