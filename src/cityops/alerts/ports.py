"""What the alerts domain needs from a store: rules and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cityops.alerts.model import Alert
from cityops.kernel.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to insert."""

    rule_key: str
    level: str
    subject: str
    datastream_id: int | None
    thing_id: int | None
    grid_code: str | None
    department_code: str | None
    message: str
    value: float | None
    raised_at: datetime
    extra: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list."""

    statuses: tuple[str, ...] = ()
    level: str | None = None
    rule_key: str | None = None
    grid_prefix: str | None = None
    department_code: str | None = None
    limit: int = 200


class AlertRuleRepository(Protocol):
    """Alert rules stored as data."""

    def all(self) -> list[dict[str, Any]]:
        """Return every rule's data, by key."""
        ...

    def put(self, key: str, data: Mapping[str, Any], at: datetime) -> bool:
        """Insert or replace a rule; return True when it was new."""
        ...

    def delete(self, key: str) -> bool:
        """Delete a rule; return True when it existed."""
        ...


class AlertRepository(Protocol):
    """Alerts."""

    def add(self, alert: NewAlert) -> int:
        """Insert an alert and return its id."""
        ...

    def get(self, alert_id: int) -> Alert | None:
        """Return an alert by id."""
        ...

    def open_for(self, rule_key: str, subject: str) -> Alert | None:
        """Return the open alert of a rule on a subject."""
        ...

    def open_keys(self) -> list[tuple[str, str]]:
        """Return (rule key, subject) of every open alert."""
        ...

    def seen(self, alert_id: int, at: datetime, value: float | None, message: str) -> None:
        """Record another breach of an open alert."""
        ...

    def acknowledge(self, alert_id: int, at: datetime, by: str) -> None:
        """Mark an alert acknowledged."""
        ...

    def resolve(self, alert_id: int, at: datetime, by: str | None, resolution: str) -> None:
        """Mark an alert resolved."""
        ...

    def link_case(self, alert_id: int, case_id: int) -> None:
        """Record the case an alert opened."""
        ...

    def list(self, alert_filter: AlertFilter) -> list[Alert]:
        """Return alerts, most severe and newest first."""
        ...

    def counts(self) -> dict[tuple[str, str], int]:
        """Return the number of alerts by (status, level)."""
        ...


class AlertsUnitOfWork(UnitOfWork, Protocol):
    """A transaction with the alert repositories."""

    @property
    def alert_rules(self) -> AlertRuleRepository:
        """Rules."""
        ...

    @property
    def alerts(self) -> AlertRepository:
        """Alerts."""
        ...
