"""Apply one command to a case: the state machine plus what each step records.

The state machine (:mod:`cityops.cases.workflow`) decides whether a move is allowed; this module
stamps the times and actors the KPIs read, runs the deadline clock, and returns the history
entry. It is pure: the caller passes the moment, the calendar and the policy, and writes the
result in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cityops.cases import deadlines
from cityops.cases.model import Case, HistoryEntry, Urgency
from cityops.cases.policy import CasePolicy
from cityops.cases.rules import MatterRule, limit_of
from cityops.cases.workflow import WITH_DEPARTMENT, Command, apply
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.worktime import WorkingCalendar, WorkingLimit


@dataclass(frozen=True, slots=True)
class Step:
    """What the actor asks for, with what the command needs."""

    command: Command
    actor: str
    role: str | None = None
    comment: str | None = None
    attachments: tuple[int, ...] = ()
    satisfaction: int | None = None
    department_code: str | None = None  # dispatch: to whom
    extension: WorkingLimit | None = None  # request/approve extension: how much
    data: dict[str, Any] | None = None


def advance(
    case: Case,
    step: Step,
    *,
    now: datetime,
    calendar: WorkingCalendar,
    policy: CasePolicy,
    rule: MatterRule | None,
) -> HistoryEntry:
    """Apply ``step`` to ``case`` in place and return its history entry."""
    before = case.state
    command = step.command
    if command is Command.FILE and case.matter_code is None:
        raise ValidationFailed.single(
            "matter_code", "required_to_file", "set the matter class before filing the case"
        )
    if command is Command.DISPATCH and not (step.department_code or case.department_code):
        raise ValidationFailed.single(
            "department_code", "required_to_dispatch", "name the department to dispatch to"
        )
    if command is Command.REQUEST_EXTENSION and step.extension is None:
        raise ValidationFailed.single("extension", "required", "say how much time, e.g. '2 工作日'")
    case.state = apply(before, command, reason=step.comment, satisfaction=step.satisfaction)
    data: dict[str, Any] = dict(step.data or {})
    _record(case, step, now, calendar, policy, rule, data)
    case.updated_at = now
    if case.due_at is not None and deadlines.clock_running(case):
        data.setdefault("due_at", case.due_at.isoformat())
    return HistoryEntry(
        case_id=case.id,
        at=now,
        actor=step.actor,
        role=step.role,
        command=command.value,
        from_status=before.status,
        to_status=case.state.status,
        comment=step.comment,
        attachments=step.attachments,
        data=data,
    )


def _record(
    case: Case,
    step: Step,
    now: datetime,
    calendar: WorkingCalendar,
    policy: CasePolicy,
    rule: MatterRule | None,
    data: dict[str, Any],
) -> None:
    command = step.command
    rules = policy.deadlines
    if command is Command.FILE:
        case.filed_at, case.filed_by = now, step.actor
    elif command is Command.DISPATCH:
        case.department_code = step.department_code or case.department_code
        case.dispatched_by = step.actor
        if case.dispatched_at is None:
            case.dispatched_at = now
            case.seconds_to_dispatch = _seconds(calendar.elapsed(case.accepted_at, now))
        default = policy.default_limit(case.urgency is Urgency.URGENT)
        deadlines.start_clock(case, now, limit_of(rule, case.urgency, default), calendar, rules)
        data.update(department_code=case.department_code, limit=case.limit_text)
    elif command is Command.REPORT:
        used = deadlines.elapsed(case, now, calendar)
        case.handled_at = now
        if case.handled_on_time is None:
            case.handled_on_time = _within(used, case.limit_seconds)
            case.seconds_to_handle = _seconds(used) if used is not None else None
        deadlines.pause(case, now, "verify", calendar, rules)
    elif command is Command.RETURN:
        data["returned_by"] = case.department_code
        case.department_code = None
    elif command is Command.VERIFY_PASS:
        case.closed_at, case.verified_by = now, step.actor
        case.closed_on_time = _within(_department_time(case, calendar), case.limit_seconds)
        holds = [(p.start, p.end) for p in case.pauses if p.kind == "hold"]
        case.seconds_to_close = _seconds(calendar.elapsed(case.accepted_at, now, holds))
    elif command is Command.VERIFY_FAIL:
        case.verified_by = step.actor
        deadlines.unpause(case, now, calendar, rules)
    elif command is Command.SELF_HANDLE:
        case.handled_at = now
        case.handled_on_time = True
        case.seconds_to_handle = 0
    elif command is Command.HOLD:
        deadlines.pause(case, now, "hold", calendar, rules)
    elif command is Command.RESUME:
        if case.status in WITH_DEPARTMENT:
            deadlines.unpause(case, now, calendar, rules)
    elif command in (Command.REQUEST_EXTENSION, Command.APPROVE_EXTENSION):
        if step.extension is not None:
            data["extension"] = str(step.extension)
        if command is Command.APPROVE_EXTENSION and step.extension is not None:
            deadlines.extend(case, step.extension, calendar, rules)
    elif command is Command.URGE:
        data["urges"] = case.state.urges
    if command in (Command.REJECT, Command.VOID, Command.EVALUATE):
        case.ended_at = now


def _department_time(case: Case, calendar: WorkingCalendar) -> timedelta | None:
    """Working time the department had the case: up to the last report, pauses excluded."""
    if case.clock_started_at is None or case.handled_at is None:
        return None
    return calendar.elapsed(
        case.clock_started_at,
        case.handled_at,
        [(p.start, p.end) for p in case.pauses],
    )


def _within(used: timedelta | None, limit_seconds: int | None) -> bool:
    if used is None or not limit_seconds:
        return True  # self-handled on the spot, or closed without a clock
    return used <= timedelta(seconds=limit_seconds)


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())
