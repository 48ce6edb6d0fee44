"""Webhooks and their deliveries in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cityops.kernel.events import StoredEvent
from cityops.notify.webhooks import Delivery, Outgoing, Webhook
from cityops.storage.schema import outbox_events
from cityops.storage.schema_sensing import webhook_deliveries, webhooks


def _webhook(row: Any) -> Webhook:
    return Webhook(
        id=row["id"],
        url=row["url"],
        events=tuple(row["events"] or ()),
        description=row["description"],
        enabled=row["enabled"],
        created_at=row["created_at"],
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        event_id=row["event_id"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
    )


class SqlWebhookRepository:
    """Webhooks, and deliveries queued once per webhook and event."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(
        self, url: str, secret: str, events: Sequence[str], description: str, at: datetime
    ) -> int:
        """Insert a webhook; return its id."""
        result = self._connection.execute(
            insert(webhooks)
            .values(
                url=url,
                secret=secret,
                events=list(events),
                description=description,
                enabled=True,
                created_at=at,
            )
            .returning(webhooks.c.id)
        )
        return int(result.scalar_one())

    def get(self, webhook_id: int) -> Webhook | None:
        """Return a webhook."""
        rows = self._connection.execute(select(webhooks).where(webhooks.c.id == webhook_id))
        found = rows.mappings().first()
        return _webhook(found) if found else None

    def every(self) -> list[Webhook]:
        """Return every webhook."""
        rows = self._connection.execute(select(webhooks).order_by(webhooks.c.id)).mappings()
        return [_webhook(row) for row in rows]

    def delete(self, webhook_id: int) -> bool:
        """Delete a webhook and its deliveries."""
        self._connection.execute(
            delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
        )
        return bool(
            self._connection.execute(delete(webhooks).where(webhooks.c.id == webhook_id)).rowcount
        )

    def plan(self, webhook_id: int, event_id: int, at: datetime) -> None:
        """Queue a delivery (once per webhook and event)."""
        try:
            with self._connection.begin_nested():
                self._connection.execute(
                    insert(webhook_deliveries).values(
                        webhook_id=webhook_id,
                        event_id=event_id,
                        status="pending",
                        attempts=0,
                        next_attempt_at=at,
                    )
                )
        except IntegrityError:
            pass  # already queued: a redelivered event plans nothing twice

    def due(self, now: datetime, limit: int) -> list[Outgoing]:
        """Return pending deliveries whose time has come, oldest first."""
        rows = self._connection.execute(
            select(
                webhook_deliveries,
                webhooks.c.url,
                webhooks.c.secret,
                outbox_events.c.type,
                outbox_events.c.aggregate_type,
                outbox_events.c.aggregate_id,
                outbox_events.c.payload,
                outbox_events.c.occurred_at,
            )
            .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
            .join(outbox_events, outbox_events.c.id == webhook_deliveries.c.event_id)
            .where(
                webhook_deliveries.c.status == "pending",
                webhook_deliveries.c.next_attempt_at <= now,
                webhooks.c.enabled.is_(True),
            )
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
            .limit(limit)
        ).mappings()
        return [
            Outgoing(
                delivery=_delivery(row),
                url=row["url"],
                secret=row["secret"],
                event=StoredEvent(
                    id=row["event_id"],
                    type=row["type"],
                    aggregate_type=row["aggregate_type"],
                    aggregate_id=row["aggregate_id"],
                    payload=dict(row["payload"]),
                    occurred_at=row["occurred_at"],
                ),
            )
            for row in rows
        ]

    def delivered(self, delivery_id: int, at: datetime, status: int) -> None:
        """Mark a delivery done."""
        self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(
                status="delivered",
                delivered_at=at,
                last_status=status,
                attempts=webhook_deliveries.c.attempts + 1,
            )
        )

    def retry(self, delivery_id: int, attempts: int, next_at: datetime | None, error: str) -> None:
        """Record a failed attempt; ``next_at`` None gives up."""
        values: dict[str, Any] = {"attempts": attempts, "last_error": error[:500]}
        if next_at is None:
            values["status"] = "failed"
        else:
            values["next_attempt_at"] = next_at
        self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(**values)
        )

    def deliveries(self, webhook_id: int, limit: int) -> list[Delivery]:
        """Return a webhook's latest deliveries."""
        rows = self._connection.execute(
            select(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.id.desc())
            .limit(limit)
        ).mappings()
        return [_delivery(row) for row in rows]
