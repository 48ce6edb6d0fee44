"""Webhooks: signed HTTP notifications of domain events, retried with back-off until delivered.

An integrator registers a URL, the event types it wants (``AlertRaised``, ``CaseAccepted`` …;
``*`` for all) and gets a secret. Each matching event becomes a delivery (one per webhook and
event, so an event is never queued twice for a hook), planned by the event bus's subscriber in
the same transaction that advances its offset, then sent by :class:`WebhookDispatcher`:

* the body is the event as JSON (``id``, ``type``, ``aggregate_type``, ``aggregate_id``,
  ``occurred_at``, ``payload``);
* headers ``X-Cityops-Event``, ``X-Cityops-Delivery`` (the delivery id, stable across retries:
  receivers deduplicate on it), ``X-Cityops-Timestamp`` (Unix seconds) and
  ``X-Cityops-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` with the
  webhook's secret (:func:`sign`; receivers should also refuse old timestamps);
* a 2xx answer delivers it; anything else (or no answer in 10 s) is retried after 10 s, 20 s,
  40 s … at most one hour apart, and given up after ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from cityops.auth.audit import make_entry
from cityops.auth.model import Principal
from cityops.kernel.clock import Clock
from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.kernel.events import StoredEvent
from cityops.kernel.uow import UnitOfWork, UnitOfWorkFactory

MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registered receiver."""

    id: int
    url: str
    events: tuple[str, ...]
    description: str
    enabled: bool
    created_at: datetime

    def wants(self, event_type: str) -> bool:
        """Tell whether the webhook subscribed to an event type."""
        return self.enabled and ("*" in self.events or event_type in self.events)

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data (never the secret)."""
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event to send to one webhook."""

    id: int
    webhook_id: int
    event_id: int
    status: str  # pending, delivered, failed
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A due delivery with what is needed to send it."""

    delivery: Delivery
    url: str
    secret: str
    event: StoredEvent


class WebhookRepository(Protocol):
    """Webhooks and their deliveries."""

    def add(
        self, url: str, secret: str, events: Sequence[str], description: str, at: datetime
    ) -> int:
        """Insert a webhook; return its id."""
        ...

    def get(self, webhook_id: int) -> Webhook | None:
        """Return a webhook."""
        ...

    def every(self) -> list[Webhook]:
        """Return every webhook."""
        ...

    def delete(self, webhook_id: int) -> bool:
        """Delete a webhook and its deliveries."""
        ...

    def plan(self, webhook_id: int, event_id: int, at: datetime) -> None:
        """Queue a delivery (once per webhook and event)."""
        ...

    def due(self, now: datetime, limit: int) -> list[Outgoing]:
        """Return pending deliveries whose time has come, oldest first."""
        ...

    def delivered(self, delivery_id: int, at: datetime, status: int) -> None:
        """Mark a delivery done."""
        ...

    def retry(self, delivery_id: int, attempts: int, next_at: datetime | None, error: str) -> None:
        """Record a failed attempt; ``next_at`` None gives up."""
        ...

    def deliveries(self, webhook_id: int, limit: int) -> list[Delivery]:
        """Return a webhook's latest deliveries."""
        ...


class WebhooksUnitOfWork(UnitOfWork, Protocol):
    """A transaction with the webhook repository."""

    @property
    def webhooks(self) -> WebhookRepository:
        """Webhooks."""
        ...


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``X-Cityops-Signature`` value of a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def body_of(event: StoredEvent) -> bytes:
    """Return the JSON body that carries an event."""
    data = {
        "id": event.id,
        "type": event.type,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "occurred_at": event.occurred_at.isoformat(),
        "payload": event.payload,
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def backoff(attempts: int) -> timedelta:
    """Return the wait after ``attempts`` failed attempts: 10 s doubling, at most an hour."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


Sender = Callable[[str, Mapping[str, str], bytes], int]  # url, headers, body → HTTP status


class WebhookService:
    """Register webhooks, plan deliveries from events, send the due ones."""

    def __init__(self, unit_of_work: UnitOfWorkFactory[WebhooksUnitOfWork], clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def register(self, principal: Principal, data: Mapping[str, Any]) -> tuple[Webhook, str]:
        """Register a webhook; return it with its secret (shown once)."""
        grant = principal.authorize("apikeys:write")
        url = data.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationFailed.single("url", "http_url", "an http:// or https:// URL")
        events = data.get("events") or ["*"]
        if not isinstance(events, list) or not all(isinstance(e, str) and e for e in events):
            raise ValidationFailed.single("events", "array", "a list of event type names")
        description = data.get("description") or ""
        if not isinstance(description, str) or len(description) > 200:
            raise ValidationFailed.single("description", "text", "at most 200 characters")
        secret = secrets.token_urlsafe(32)
        with self._unit_of_work() as uow:
            webhook_id = uow.webhooks.add(str(url), secret, events, description, self._clock.now())
            webhook = uow.webhooks.get(webhook_id)
            assert webhook is not None
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="webhook.register",
                    object_type="webhook",
                    object_id=str(webhook_id),
                    after=webhook.as_json(),
                )
            )
            uow.commit()
        return webhook, secret

    def registered(self, principal: Principal) -> list[Webhook]:
        """Return the webhooks."""
        principal.authorize("apikeys:read")
        with self._unit_of_work(read_only=True) as uow:
            return uow.webhooks.every()

    def deliveries(self, principal: Principal, webhook_id: int, limit: int = 50) -> list[Delivery]:
        """Return a webhook's latest deliveries."""
        principal.authorize("apikeys:read")
        with self._unit_of_work(read_only=True) as uow:
            if uow.webhooks.get(webhook_id) is None:
                raise NotFound(f"no webhook {webhook_id}")
            return uow.webhooks.deliveries(webhook_id, limit)

    def remove(self, principal: Principal, webhook_id: int) -> None:
        """Delete a webhook (pending deliveries are dropped)."""
        grant = principal.authorize("apikeys:write")
        with self._unit_of_work() as uow:
            if not uow.webhooks.delete(webhook_id):
                raise NotFound(f"no webhook {webhook_id}")
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="webhook.delete",
                    object_type="webhook",
                    object_id=str(webhook_id),
                )
            )
            uow.commit()

    def plan(self, event: StoredEvent, uow: WebhooksUnitOfWork) -> None:
        """Queue the event for every webhook that wants it (the bus's subscriber)."""
        for webhook in uow.webhooks.every():
            if webhook.wants(event.type):
                uow.webhooks.plan(webhook.id, event.id, self._clock.now())

    def send_due(self, send: Sender, limit: int = 100) -> int:
        """Send the deliveries whose time has come; return how many were delivered."""
        with self._unit_of_work(read_only=True) as uow:
            due = uow.webhooks.due(self._clock.now(), limit)
        delivered = 0
        for item in due:
            body = body_of(item.event)
            timestamp = int(self._clock.now().timestamp())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "cityops-webhooks/1",
                "X-Cityops-Event": item.event.type,
                "X-Cityops-Delivery": str(item.delivery.id),
                "X-Cityops-Timestamp": str(timestamp),
                "X-Cityops-Signature": sign(item.secret, timestamp, body),
            }
            try:
                status, error = send(item.url, headers, body), ""
            except OSError as failure:
                status, error = 0, str(failure) or type(failure).__name__
            with self._unit_of_work() as uow:
                if 200 <= status < 300:
                    uow.webhooks.delivered(item.delivery.id, self._clock.now(), status)
                    delivered += 1
                else:
                    attempts = item.delivery.attempts + 1
                    next_at = (
                        self._clock.now() + backoff(attempts) if attempts < MAX_ATTEMPTS else None
                    )
                    uow.webhooks.retry(
                        item.delivery.id, attempts, next_at, error or f"HTTP {status}"
                    )
                uow.commit()
        return delivered
