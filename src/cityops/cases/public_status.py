"""What a citizen may see of a case by its number: where it is in the loop, and nothing personal.

A citizen who called 12345 or used the app gets a case number. The public status shows the
class, the street and district, when it was accepted, each step it went through (the step and
the time only: no actor, no comment, no photo, no reporter), its deadline, and whether it closed
on time. Only a full number (its date and its id) is looked up, so a bare id cannot be used to
walk through the cases; the answer is the same for a case that does not exist and a number whose
date does not match, and merged duplicates point to the case that carries on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityops.cases.model import case_number, parse_case_number
from cityops.cases.policy import CasePolicy
from cityops.cases.ports import CasesUnitOfWork
from cityops.cases.workflow import STATUS_LABELS_ZH, Status
from cityops.catalog.reference import find_matter_class
from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory

MAX_NUMBER_LENGTH = 32


@dataclass(frozen=True, slots=True)
class PublicStep:
    """One step of the loop: what happened and when."""

    command: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PublicStatus:
    """The public face of a case."""

    number: str
    status: str
    status_label: str
    matter_name: str | None
    street_name: str | None
    district_name: str | None
    accepted_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    closed_on_time: bool | None
    merged_into: str | None
    steps: tuple[PublicStep, ...]

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "number": self.number,
            "status": self.status,
            "status_label": self.status_label,
            "matter_name": self.matter_name,
            "street_name": self.street_name,
            "district_name": self.district_name,
            "accepted_at": self.accepted_at.isoformat(),
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_on_time": self.closed_on_time,
            "merged_into": self.merged_into,
            "steps": [
                {"command": s.command, "status": s.status, "at": s.at.isoformat()}
                for s in self.steps
            ],
        }


class PublicStatusService:
    """Look up a case's public status by its full number (no sign-in needed)."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory[CasesUnitOfWork], policy: CasePolicy
    ) -> None:
        self._unit_of_work = unit_of_work
        self._policy = policy

    def lookup(self, number: str) -> PublicStatus:
        """Return the public status of the case with this number, or raise NotFound."""
        text = number.strip()
        if len(text) > MAX_NUMBER_LENGTH:
            raise ValidationFailed.single("number", "max_length", "a case number is 15 digits")
        case_id, day = parse_case_number(text)
        if day is None:
            raise ValidationFailed.single(
                "number", "case_number", "give the whole case number (date and sequence)"
            )
        missing = NotFound(f"no case {text}")
        zone = self._policy.zone
        with self._unit_of_work(read_only=True) as uow:
            case = uow.cases.get(case_id)
            if case is None or f"{case.accepted_at.astimezone(zone):%Y%m%d}" != day:
                raise missing
            history = uow.cases.history(case.id)
            names = {
                code: uow.divisions.current(code)
                for code in (case.street_code, case.district_code)
                if code
            }
            merged = uow.cases.get(case.merged_into) if case.merged_into else None
        matter = find_matter_class(case.matter_code)
        status = case.state.status
        return PublicStatus(
            number=case_number(case.id, case.accepted_at, zone),
            status=status.value,
            status_label=STATUS_LABELS_ZH[status],
            matter_name=matter.name if matter else None,
            street_name=_name(names.get(case.street_code or "")),
            district_name=_name(names.get(case.district_code or "")),
            accepted_at=case.accepted_at,
            due_at=case.due_at if status not in _ENDED else None,
            closed_at=case.closed_at,
            closed_on_time=case.closed_on_time,
            merged_into=case_number(merged.id, merged.accepted_at, zone) if merged else None,
            steps=tuple(PublicStep(e.command, e.to_status.value, e.at) for e in history),
        )


_ENDED = frozenset({Status.CLOSED, Status.EVALUATED, Status.REJECTED, Status.VOIDED})


def _name(division: Any) -> str | None:
    return str(division.name) if division is not None else None
