"""The domain-event outbox and the subscribers' offsets in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from cityops.kernel.clock import Clock
from cityops.kernel.events import DomainEvent, StoredEvent
from cityops.storage.prepared import insert_rows
from cityops.storage.schema import outbox_events, subscriber_offsets


class SqlOutbox:
    """Append events, read them in order, and keep each subscriber's position."""

    def __init__(self, connection: Connection, clock: Clock) -> None:
        self._connection = connection
        self._clock = clock

    def append(self, events: list[DomainEvent]) -> None:
        """Insert events in one batched statement, in the order given."""
        insert_rows(self._connection, outbox_events, self.rows(events))

    def rows(self, events: list[DomainEvent]) -> list[dict[str, Any]]:
        """Return the outbox rows of events (stamped now), in the order given."""
        if not events:
            return []
        now = self._clock.now()
        return [
            {
                "type": e.event_type(),
                "aggregate_type": e.aggregate_type or "",
                "aggregate_id": e.aggregate_id()[:128],
                "payload": e.payload(),
                "occurred_at": now,
            }
            for e in events
        ]

    def events_after(self, event_id: int, limit: int) -> list[StoredEvent]:
        """Return up to ``limit`` events after ``event_id``, oldest first."""
        rows = self._connection.execute(
            select(outbox_events)
            .where(outbox_events.c.id > event_id)
            .order_by(outbox_events.c.id)
            .limit(limit)
        ).mappings()
        return [
            StoredEvent(
                id=row["id"],
                type=row["type"],
                aggregate_type=row["aggregate_type"],
                aggregate_id=row["aggregate_id"],
                payload=row["payload"],
                occurred_at=row["occurred_at"],
            )
            for row in rows
        ]

    def last_event_id(self) -> int:
        """Return the id of the newest event (0 when empty)."""
        newest = self._connection.execute(
            select(outbox_events.c.id).order_by(outbox_events.c.id.desc()).limit(1)
        ).scalar()
        return int(newest or 0)

    def subscriber_offset(self, name: str) -> int:
        """Return the last event id the subscriber handled."""
        found = self._connection.execute(
            select(subscriber_offsets.c.last_event_id).where(subscriber_offsets.c.name == name)
        ).scalar()
        return int(found or 0)

    def set_subscriber_offset(self, name: str, event_id: int) -> None:
        """Store the subscriber's new position."""
        now = self._clock.now()
        result = self._connection.execute(
            update(subscriber_offsets)
            .where(subscriber_offsets.c.name == name)
            .values(last_event_id=event_id, updated_at=now)
        )
        if result.rowcount == 0:
            self._connection.execute(
                insert(subscriber_offsets).values(name=name, last_event_id=event_id, updated_at=now)
            )
