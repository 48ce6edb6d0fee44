"""Events of the cases domain: the live feed and notifications read these from the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from cityops.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class CaseAccepted(DomainEvent):
    """A new case was registered (受理)."""

    aggregate_type = "case"
    case_id: int
    number: str
    channel: str
    matter_code: str | None
    grid_code: str | None
    department_code: str | None
    auto_dispatched: bool = False


@dataclass(frozen=True, kw_only=True)
class CaseMoved(DomainEvent):
    """A command was applied to a case (filed, dispatched, handled, closed, urged …)."""

    aggregate_type = "case"
    case_id: int
    number: str
    command: str
    from_status: str
    to_status: str
    actor: str
    department_code: str | None
    grid_code: str | None


@dataclass(frozen=True, kw_only=True)
class CaseLightChanged(DomainEvent):
    """A case turned yellow (due soon) or red (overdue); for its department and the centre."""

    aggregate_type = "case"
    case_id: int
    number: str
    light: str
    due_at: str | None
    department_code: str | None
    notify: tuple[str, ...] = ("department", "command_center")


@dataclass(frozen=True, kw_only=True)
class CaseEscalated(DomainEvent):
    """An overdue case climbed a step of the escalation ladder."""

    aggregate_type = "case"
    case_id: int
    number: str
    level: str
    step: int
    department_code: str | None


@dataclass(frozen=True, kw_only=True)
class CasesMerged(DomainEvent):
    """A duplicate case was merged into another; its reporters follow the surviving case."""

    aggregate_type = "case"
    case_id: int
    merged_case_id: int
    reporters_moved: int
