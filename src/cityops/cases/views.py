"""How a case is shown: its number, labels, live deadline and light, contact masked if need be."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cityops.auth.model import Principal
from cityops.auth.scopes import ResourceScope
from cityops.cases import deadlines
from cityops.cases.model import (
    APPEAL_LABELS_ZH,
    CHANNEL_LABELS_ZH,
    Case,
    case_number,
    mask_name,
    mask_phone,
)
from cityops.cases.policy import CasePolicy
from cityops.cases.workflow import STATUS_LABELS_ZH, allowed
from cityops.catalog.reference import find_matter_class
from cityops.kernel.worktime import WorkingCalendar


def contact_visible(
    principal: Principal, case: Case, resource: Callable[[], ResourceScope]
) -> bool:
    """Tell whether the principal may see the reporter's contact (``cases:contact``).

    City and division scopes decide on the case's division alone; the owning department chain
    (``resource()``, which reads the departments) is only built when a department-scoped grant
    could decide. The answer is the same as ``principal.can("cases:contact", resource())``.
    """
    if principal.can("cases:contact", ResourceScope(case.division_code)):
        return True
    if not any(
        g.scope.kind == "department" and "cases:contact" in g.permissions for g in principal.grants
    ):
        return False
    return principal.can("cases:contact", resource())


def case_view(
    case: Case,
    *,
    now: datetime,
    calendar: WorkingCalendar,
    policy: CasePolicy,
    show_contact: bool,
) -> dict[str, Any]:
    """Return a case as JSON-ready data."""
    light = deadlines.current_light(case, now, calendar, policy.deadlines)
    used = deadlines.elapsed(case, now, calendar)
    matter = find_matter_class(case.matter_code)
    state = case.state
    return {
        "id": case.id,
        "number": case_number(case.id, case.accepted_at, policy.zone),
        "channel": case.channel.value,
        "channel_label": CHANNEL_LABELS_ZH[case.channel],
        "appeal_type": case.appeal_type.value if case.appeal_type else None,
        "appeal_type_label": APPEAL_LABELS_ZH[case.appeal_type] if case.appeal_type else None,
        "urgency": case.urgency.value,
        "description": case.description,
        "status": state.status.value,
        "status_label": STATUS_LABELS_ZH[state.status],
        "allowed_commands": [c.value for c in allowed(state)],
        "matter": {
            "code": case.matter_code,
            "name": matter.name if matter else None,
            "major_name": matter.major_name if matter else None,
            "source": case.class_source,
            "confidence": case.class_confidence,
        },
        "suggestions": [{**s, "name": _matter_name(s.get("code"))} for s in case.suggestions],
        "location": {
            "lon": case.lon,
            "lat": case.lat,
            "address": case.address,
            "component_id": case.component_id,
            "source": case.location_source,
            "grid_code": case.grid_code,
            "community_code": case.community_code,
            "street_code": case.street_code,
            "district_code": case.district_code,
        },
        "reporter": {
            "name": case.reporter_name if show_contact else mask_name(case.reporter_name),
            "phone": case.reporter_phone if show_contact else mask_phone(case.reporter_phone),
            "masked": not show_contact,
        },
        "external_ref": case.external_ref,
        "department_code": case.department_code,
        "grid_worker": case.grid_worker,
        "merged_into": case.merged_into,
        "deadline": {
            "limit": case.limit_text,
            "limit_hours": round(case.limit_seconds / 3600, 2) if case.limit_seconds else None,
            "started_at": _iso(case.clock_started_at),
            "due_at": _iso(case.due_at) if deadlines.clock_running(case) else None,
            "elapsed_hours": round(used.total_seconds() / 3600, 2) if used is not None else None,
            "running": deadlines.clock_running(case),
            "light": light.value if light else None,
            "escalation": case.escalation,
        },
        "counts": {
            "reworks": state.reworks,
            "returns": state.returns,
            "urges": state.urges,
            "extensions": state.extensions,
            "holds": state.holds,
        },
        "extension_pending": state.extension_pending,
        "self_handled": state.self_handled,
        "satisfaction": state.satisfaction,
        "accepted_at": case.accepted_at.isoformat(),
        "accepted_by": case.accepted_by,
        "filed_at": _iso(case.filed_at),
        "dispatched_at": _iso(case.dispatched_at),
        "handled_at": _iso(case.handled_at),
        "closed_at": _iso(case.closed_at),
        "ended_at": _iso(case.ended_at),
        "closed_on_time": case.closed_on_time,
        "updated_at": _iso(case.updated_at),
    }


def export_row(case: Case, view: dict[str, Any]) -> dict[str, Any]:
    """Return the flat row of a case for CSV and Excel exports."""
    return {
        "number": view["number"],
        "status": view["status_label"],
        "channel": view["channel_label"],
        "matter_code": case.matter_code or "",
        "matter_name": view["matter"]["name"] or "",
        "description": case.description,
        "grid_code": case.grid_code or "",
        "street_code": case.street_code or "",
        "department_code": case.department_code or "",
        "light": view["deadline"]["light"] or "",
        "due_at": view["deadline"]["due_at"] or "",
        "accepted_at": view["accepted_at"],
        "closed_at": view["closed_at"] or "",
        "reporter_phone": view["reporter"]["phone"] or "",
    }


EXPORT_HEADERS_ZH = {
    "number": "案卷号",
    "status": "状态",
    "channel": "来源",
    "matter_code": "事项代码",
    "matter_name": "事项名称",
    "description": "问题描述",
    "grid_code": "单元网格",
    "street_code": "街道",
    "department_code": "处置部门",
    "light": "亮灯",
    "due_at": "处置时限",
    "accepted_at": "受理时间",
    "closed_at": "结案时间",
    "reporter_phone": "联系电话",
}


def _matter_name(code: object) -> str | None:
    found = find_matter_class(str(code)) if code else None
    return found.name if found else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
