"""SQL conditions and orderings for case filters, visibility, lights and queues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from cityops.cases.queries import CaseFilter, Order, Visibility
from cityops.cases.workflow import OPEN, WITH_DEPARTMENT, Status
from cityops.storage.schema import cases


def where(case_filter: CaseFilter, visibility: Visibility, now: datetime) -> list[Any]:
    """Return the SQL conditions of a filter and a visibility."""
    c = cases.c
    found: list[Any] = []
    if not visibility.everything:
        allowed: list[ColumnElement[bool]] = [
            _division_like(prefix) for prefix in visibility.division_prefixes
        ]
        if visibility.department_codes:
            allowed.append(c.department_code.in_(visibility.department_codes))
        found.append(or_(*allowed) if allowed else c.id < 0)
    if not case_filter.include_merged:
        found.append(c.merged_into.is_(None))
    if case_filter.text:
        found.append(c.description.contains(case_filter.text, autoescape=True))
    if case_filter.matter_codes:
        found.append(c.matter_code.in_(case_filter.matter_codes))
    if case_filter.statuses:
        found.append(c.status.in_([s.value for s in case_filter.statuses]))
    if case_filter.channels:
        found.append(c.channel.in_(case_filter.channels))
    if case_filter.division_code:
        found.append(_division_like(case_filter.division_code))
    if case_filter.department_codes:
        found.append(c.department_code.in_(case_filter.department_codes))
    if case_filter.grid_codes:
        found.append(c.grid_code.in_(case_filter.grid_codes))
    if case_filter.accepted_from:
        found.append(c.accepted_at >= case_filter.accepted_from)
    if case_filter.accepted_to:
        found.append(c.accepted_at < case_filter.accepted_to)
    if case_filter.extension_pending is not None:
        found.append(c.extension_pending.is_(case_filter.extension_pending))
    if case_filter.returned is not None:
        found.append(c.returns > 0 if case_filter.returned else c.returns == 0)
    if case_filter.light:
        found.append(_light_is(case_filter.light, now))
    if case_filter.after_id is not None:
        found.append(c.id > case_filter.after_id)
    if case_filter.dispatcher_work:
        found.append(
            or_(
                c.status.in_([Status.ACCEPTED.value, Status.FILED.value]),
                and_(running(), c.extension_pending.is_(True)),
            )
        )
    return found


def _division_like(code: str) -> ColumnElement[bool]:
    c = cases.c
    return or_(
        c.grid_code.startswith(code, autoescape=True),
        and_(c.grid_code.is_(None), c.community_code.startswith(code, autoescape=True)),
        and_(c.grid_code.is_(None), c.community_code.is_(None), c.street_code.startswith(code)),
        and_(
            c.grid_code.is_(None),
            c.community_code.is_(None),
            c.street_code.is_(None),
            c.district_code.startswith(code),
        ),
    )


def running() -> ColumnElement[bool]:
    """Cases whose handling clock runs now."""
    return cases.c.status.in_([s.value for s in WITH_DEPARTMENT])


def _light_is(light: str, now: datetime) -> ColumnElement[bool]:
    c = cases.c
    frozen = and_(
        c.status.in_([s.value for s in OPEN - WITH_DEPARTMENT]),
        c.clock_started_at.is_not(None),
        c.light == light,
    )
    if light == "red":
        live = and_(running(), c.due_at <= now)
    elif light == "yellow":
        live = and_(running(), c.yellow_at <= now, c.due_at > now)
    else:
        live = and_(running(), c.yellow_at > now)
    return or_(live, frozen)


def order_by(order: Order, now: datetime) -> list[Any]:
    """Return the ORDER BY terms of a sort order (overdue first ranks by the live light)."""
    c = cases.c
    if order is Order.OLDEST:
        return [c.id]
    if order is Order.DUE:
        return [c.due_at.is_(None), c.due_at, c.id]
    if order is Order.OVERDUE_FIRST:
        return [
            (and_(running(), c.due_at <= now)).desc(),
            (and_(running(), c.yellow_at <= now)).desc(),
            c.due_at.is_(None),
            c.due_at,
            c.id,
        ]
    return [c.id.desc()]
