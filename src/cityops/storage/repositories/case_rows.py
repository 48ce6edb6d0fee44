"""Cases, history entries and reporters as rows of their tables, and back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cityops.cases.model import AppealType, Case, Channel, HistoryEntry, Pause, Reporter, Urgency
from cityops.cases.workflow import CaseState, Status

_STATE_FIELDS = (
    "resume_to",
    "extension_pending",
    "reworks",
    "returns",
    "urges",
    "extensions",
    "holds",
    "self_handled",
    "satisfaction",
)
_PLAIN_FIELDS = (
    "description",
    "accepted_at",
    "accepted_by",
    "matter_code",
    "class_source",
    "class_confidence",
    "suggestions",
    "lon",
    "lat",
    "address",
    "component_id",
    "location_source",
    "grid_code",
    "community_code",
    "street_code",
    "district_code",
    "reporter_name",
    "reporter_phone",
    "external_ref",
    "department_code",
    "grid_worker",
    "merged_into",
    "filed_by",
    "dispatched_by",
    "verified_by",
    "filed_at",
    "dispatched_at",
    "handled_at",
    "closed_at",
    "ended_at",
    "limit_text",
    "limit_seconds",
    "clock_started_at",
    "due_at",
    "yellow_at",
    "light",
    "escalation",
    "handled_on_time",
    "closed_on_time",
    "seconds_to_dispatch",
    "seconds_to_handle",
    "seconds_to_close",
    "updated_at",
)


def case_row(case: Case) -> dict[str, Any]:
    """Return the column values of a case (without its id)."""
    state = case.state
    row: dict[str, Any] = {name: getattr(case, name) for name in _PLAIN_FIELDS}
    row.update(
        channel=case.channel.value,
        appeal_type=case.appeal_type.value if case.appeal_type else None,
        urgency=case.urgency.value,
        status=state.status.value,
        resume_to=state.resume_to.value if state.resume_to else None,
        extension_pending=state.extension_pending,
        reworks=state.reworks,
        returns=state.returns,
        urges=state.urges,
        extensions=state.extensions,
        holds=state.holds,
        self_handled=state.self_handled,
        satisfaction=state.satisfaction,
        pauses=[
            [p.start.isoformat(), p.end.isoformat() if p.end else None, p.kind] for p in case.pauses
        ],
    )
    return row


def case_from_row(row: Any) -> Case:
    """Return the case of a row (a mapping of every column)."""
    state = CaseState(
        status=Status(row["status"]),
        resume_to=Status(row["resume_to"]) if row["resume_to"] else None,
        **{name: row[name] for name in _STATE_FIELDS if name != "resume_to"},
    )
    return Case(
        id=row["id"],
        channel=Channel(row["channel"]),
        appeal_type=AppealType(row["appeal_type"]) if row["appeal_type"] else None,
        urgency=Urgency(row["urgency"]),
        state=state,
        pauses=[
            Pause(
                datetime.fromisoformat(start),
                datetime.fromisoformat(end) if end else None,
                kind,
            )
            for start, end, kind in row["pauses"]
        ],
        **{name: row[name] for name in _PLAIN_FIELDS},
    )


def history_row(entry: HistoryEntry) -> dict[str, Any]:
    """Return the column values of a history entry (without its id)."""
    return {
        "case_id": entry.case_id,
        "at": entry.at,
        "actor": entry.actor,
        "role": entry.role,
        "command": entry.command,
        "from_status": entry.from_status.value if entry.from_status else None,
        "to_status": entry.to_status.value,
        "comment": entry.comment,
        "attachments": list(entry.attachments),
        "data": entry.data,
    }


def reporter_row(reporter: Reporter) -> dict[str, Any]:
    """Return the column values of a reporter (without its id)."""
    return {
        "case_id": reporter.case_id,
        "from_case_id": reporter.from_case_id,
        "channel": reporter.channel.value,
        "name": reporter.name,
        "phone": reporter.phone,
        "added_at": reporter.added_at,
    }
