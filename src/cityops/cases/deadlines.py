"""The handling deadline of a case: when its clock runs, when it turns yellow and red, escalation.

The clock starts when a case is dispatched (派遣) and runs in working time while the department
has the case. It stops, without counting, while the case is on hold (挂账/缓办) or waiting for
verification (待核查); a failed verification (返工) restarts it against the same deadline, and a
re-dispatch after a return (回退) starts a fresh one for the new department. An approved
extension (延期) adds its working time to the limit.

``due_at`` and ``yellow_at`` are absolute moments computed whenever the clock starts, resumes
or is extended, so the store can filter and sort by light without a calendar. This module is
pure: the calendar and the clock's reading are passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from cityops.cases.lights import Light, LightThresholds
from cityops.cases.model import Case, Pause
from cityops.cases.workflow import WITH_DEPARTMENT
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.worktime import WorkingCalendar, WorkingLimit


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """After ``overdue`` working time past the deadline, the case goes up to ``level``."""

    overdue: timedelta
    level: str


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """A city's light thresholds and escalation ladder."""

    thresholds: LightThresholds = LightThresholds()
    ladder: tuple[EscalationStep, ...] = ()


_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*h?\s*:\s*([a-z_]+)\s*$")


def parse_ladder(text: str, *, field: str = "escalation_ladder") -> tuple[EscalationStep, ...]:
    """Parse ``"0:department,8:street,24:district"`` (working hours overdue : level)."""
    steps: list[EscalationStep] = []
    for index, part in enumerate(p for p in text.split(",") if p.strip()):
        match = _STEP.match(part)
        if not match:
            raise ValidationFailed.single(
                f"{field}[{index}]",
                "ladder_format",
                f"{part.strip()!r} is not '<working hours overdue>:<level>'",
            )
        steps.append(EscalationStep(timedelta(hours=float(match.group(1))), match.group(2)))
    if any(b.overdue <= a.overdue for a, b in zip(steps, steps[1:], strict=False)):
        raise ValidationFailed.single(field, "ladder_order", "steps must be in increasing order")
    return tuple(steps)


def holds_of(case: Case) -> list[tuple[datetime, datetime | None]]:
    """Return the case's pauses as (start, end) pairs for the calendar."""
    return [(pause.start, pause.end) for pause in case.pauses]


def clock_running(case: Case) -> bool:
    """Tell whether the case's handling clock runs now."""
    return case.clock_started_at is not None and case.status in WITH_DEPARTMENT


def start_clock(
    case: Case,
    now: datetime,
    limit: WorkingLimit,
    calendar: WorkingCalendar,
    policy: DeadlinePolicy,
) -> None:
    """Start a fresh deadline at ``now`` (on dispatch)."""
    case.clock_started_at = now
    case.limit_text = str(limit)
    duration = calendar.duration(limit)
    case.limit_seconds = int(duration.total_seconds())
    case.pauses = []
    case.light = Light.GREEN.value
    case.escalation = 0
    _recompute(case, calendar, policy)


def extend(
    case: Case, extra: WorkingLimit, calendar: WorkingCalendar, policy: DeadlinePolicy
) -> None:
    """Add an approved extension to the limit."""
    if case.limit_seconds is None:
        return
    case.limit_seconds += int(calendar.duration(extra).total_seconds())
    case.limit_text = f"{case.limit_text} + {extra}"
    _recompute(case, calendar, policy)
    if case.due_at is not None and case.light == Light.RED.value:
        case.light = Light.GREEN.value  # re-announced by the next sweep if still late


def pause(
    case: Case, now: datetime, kind: str, calendar: WorkingCalendar, policy: DeadlinePolicy
) -> None:
    """Stop the clock (hold or waiting for verification); the light is frozen."""
    if case.clock_started_at is None or any(p.end is None for p in case.pauses):
        return
    frozen = current_light(case, now, calendar, policy)
    case.pauses = [*case.pauses, Pause(now, None, kind)]
    if frozen is not None:
        case.light = frozen.value


def unpause(case: Case, now: datetime, calendar: WorkingCalendar, policy: DeadlinePolicy) -> None:
    """Run the clock again; the deadline moves by the working time paused."""
    if not case.pauses or case.pauses[-1].end is not None:
        return
    last = case.pauses[-1]
    case.pauses = [*case.pauses[:-1], Pause(last.start, now, last.kind)]
    _recompute(case, calendar, policy)


def elapsed(case: Case, now: datetime, calendar: WorkingCalendar) -> timedelta | None:
    """Return the working time used so far (pauses excluded), or None without a clock."""
    if case.clock_started_at is None:
        return None
    return calendar.elapsed(case.clock_started_at, _clock_end(case, now), holds_of(case))


def _clock_end(case: Case, now: datetime) -> datetime:
    """Return when the clock last stopped (or ``now`` while it runs): no need to count further."""
    open_pauses = [p.start for p in case.pauses if p.end is None]
    if open_pauses:
        return min(min(open_pauses), now)
    for moment in (case.ended_at, case.closed_at):
        if moment is not None:
            return min(moment, now)
    return now


def current_light(
    case: Case, now: datetime, calendar: WorkingCalendar, policy: DeadlinePolicy
) -> Light | None:
    """Return the light the case shows at ``now`` (None before dispatch)."""
    if case.clock_started_at is None or not case.limit_seconds:
        return None
    if not clock_running(case):
        return Light(case.light) if case.light else None
    used = elapsed(case, now, calendar)
    assert used is not None
    share = used / timedelta(seconds=case.limit_seconds)
    if share > policy.thresholds.red:
        return Light.RED
    if share > policy.thresholds.yellow:
        return Light.YELLOW
    return Light.GREEN


def escalation_level(
    case: Case, now: datetime, calendar: WorkingCalendar, policy: DeadlinePolicy
) -> int:
    """Return how many ladder steps an overdue case has climbed (0: none)."""
    if not clock_running(case) or case.due_at is None or now <= case.due_at:
        return 0
    overdue = calendar.elapsed(case.due_at, now, holds_of(case))
    return sum(1 for step in policy.ladder if overdue >= step.overdue)


def _recompute(case: Case, calendar: WorkingCalendar, policy: DeadlinePolicy) -> None:
    if case.clock_started_at is None or not case.limit_seconds:
        return
    if any(p.end is None for p in case.pauses):
        return  # no deadline exists while the clock is stopped
    limit = timedelta(seconds=case.limit_seconds)
    holds = holds_of(case)
    case.due_at = calendar.add(case.clock_started_at, limit, holds)
    case.yellow_at = calendar.add(case.clock_started_at, limit * policy.thresholds.yellow, holds)
