"""Deadline sweeps: announce cases turning yellow or red, and climb the escalation ladder.

A sweep reads the running cases past their yellow moment, compares the live light with the
last one announced, and for each change writes a history entry and a ``CaseLightChanged`` event
(the department's and the command centre's notification). Overdue cases climb the configured
ladder (e.g. street → district → city) with a ``CaseEscalated`` event per step. Sweeps are
idempotent: running one twice announces nothing new. ``cityops serve`` sweeps periodically;
``cityops cases sweep`` runs one by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cityops.cases import deadlines
from cityops.cases.events import CaseEscalated, CaseLightChanged
from cityops.cases.lights import Light
from cityops.cases.model import HistoryEntry, case_number
from cityops.cases.policy import CasePolicy
from cityops.cases.ports import CasesUnitOfWork
from cityops.cases.workflow import Status
from cityops.kernel.clock import Clock
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.kernel.worktime import WorkingCalendar

log = logging.getLogger(__name__)
_RANK = {None: 0, Light.GREEN.value: 0, Light.YELLOW.value: 1, Light.RED.value: 2}
SWEEPER = "system:deadlines"
BATCH = 500


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What a sweep announced."""

    checked: int
    yellow: int
    red: int
    escalated: int


class DeadlineSweeper:
    """Find cases whose light or escalation step changed and announce them."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[CasesUnitOfWork],
        clock: Clock,
        calendar: WorkingCalendar,
        policy: CasePolicy,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._calendar = calendar
        self._policy = policy

    def sweep(self) -> SweepReport:
        """Run one sweep over every running case past its yellow moment."""
        now = self._clock.now()
        checked = yellow = red = escalated = 0
        with self._unit_of_work() as uow:
            for case in uow.cases.to_sweep(now, limit=1_000_000):
                checked += 1
                number = case_number(case.id, case.accepted_at, self._policy.zone)
                light = deadlines.current_light(case, now, self._calendar, self._policy.deadlines)
                entries = []
                if light is not None and _RANK[light.value] > _RANK[case.light]:
                    case.light = light.value
                    yellow += light is Light.YELLOW
                    red += light is Light.RED
                    entries.append(self._entry(case.id, now, case.status, f"light_{light.value}"))
                    uow.record(
                        CaseLightChanged(
                            case_id=case.id,
                            number=number,
                            light=light.value,
                            due_at=case.due_at.isoformat() if case.due_at else None,
                            department_code=case.department_code,
                        )
                    )
                level = deadlines.escalation_level(
                    case, now, self._calendar, self._policy.deadlines
                )
                while case.escalation < level:
                    step = self._policy.deadlines.ladder[case.escalation]
                    case.escalation += 1
                    escalated += 1
                    entries.append(
                        self._entry(case.id, now, case.status, "escalate", {"level": step.level})
                    )
                    uow.record(
                        CaseEscalated(
                            case_id=case.id,
                            number=number,
                            level=step.level,
                            step=case.escalation,
                            department_code=case.department_code,
                        )
                    )
                if entries:
                    case.updated_at = now
                    uow.cases.update(case)
                    uow.cases.add_history(entries)
            uow.commit()
        return SweepReport(checked, yellow, red, escalated)

    @staticmethod
    def _entry(
        case_id: int,
        now: datetime,
        status: Status,
        command: str,
        data: dict[str, str] | None = None,
    ) -> HistoryEntry:
        return HistoryEntry(
            case_id=case_id,
            at=now,
            actor=SWEEPER,
            role="system",
            command=command,
            from_status=status,
            to_status=status,
            data=dict(data or {}),
        )


def logged_sweep(sweeper: DeadlineSweeper) -> Callable[[], SweepReport]:
    """Return a task for :class:`~cityops.kernel.periodic.Periodic` that logs what changed."""

    def sweep() -> SweepReport:
        report = sweeper.sweep()
        if report.yellow or report.red or report.escalated:
            log.info("deadline sweep: %s", report)
        return report

    return sweep
