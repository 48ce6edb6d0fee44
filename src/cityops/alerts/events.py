"""Alert events: raised, acknowledged, resolved, and the case an alert opened."""

from __future__ import annotations

from dataclasses import dataclass

from cityops.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class AlertRaised(DomainEvent):
    """A rule's condition held on a subject: a new alert (预警)."""

    aggregate_type = "alert"
    alert_id: int
    rule: str
    level: str
    subject: str
    grid_code: str | None
    department_code: str | None
    message: str
    value: float | None


@dataclass(frozen=True, kw_only=True)
class AlertAcknowledged(DomainEvent):
    """Someone took charge of an alert."""

    aggregate_type = "alert"
    alert_id: int
    by: str


@dataclass(frozen=True, kw_only=True)
class AlertResolved(DomainEvent):
    """An alert ended: its condition cleared (``auto``) or someone closed it (``manual``)."""

    aggregate_type = "alert"
    alert_id: int
    resolution: str
    by: str | None


@dataclass(frozen=True, kw_only=True)
class AlertCaseOpened(DomainEvent):
    """An alert's policy opened a case in the loop."""

    aggregate_type = "alert"
    alert_id: int
    case_id: int
    number: str
