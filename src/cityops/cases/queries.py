"""How cases are looked for: filters, what a principal may see, queues per role, KPI groups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, tzinfo
from enum import StrEnum

from cityops.auth.model import Department, Principal
from cityops.auth.scopes import division_prefix
from cityops.cases.workflow import OPEN, Status
from cityops.kernel.errors import ValidationFailed

MAX_PAGE = 500
MAX_EXPORT = 100_000


class Order(StrEnum):
    """Sort orders of case lists."""

    NEWEST = "newest"
    OLDEST = "oldest"
    DUE = "due"  # soonest deadline first
    OVERDUE_FIRST = "overdue_first"  # red, then yellow, then by deadline


class Queue(StrEnum):
    """The work lists of the roles."""

    INTAKE = "intake"  # new appeals to register and file
    DISPATCH = "dispatch"  # to file and dispatch, returned cases, extension requests
    DEPARTMENT = "department"  # dispatched to us, by deadline
    VERIFY = "verify"  # handled cases to verify in my grids
    COMMAND = "command"  # everything open, overdue first


GROUPS = (
    "department",
    "district",
    "street",
    "community",
    "grid",
    "channel",
    "matter",
    "intake",
    "dispatcher",
    "patroller",
    "month",
    "all",
)


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """What to look for; every field is optional and they combine with AND."""

    text: str | None = None
    matter_codes: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = ()
    light: str | None = None  # green, yellow, red (cases with a running or frozen clock)
    channels: tuple[str, ...] = ()
    division_code: str | None = None  # a district, street, community or grid and inside it
    department_codes: tuple[str, ...] = ()
    accepted_from: datetime | None = None
    accepted_to: datetime | None = None
    grid_codes: tuple[str, ...] = ()
    extension_pending: bool | None = None
    returned: bool | None = None
    include_merged: bool = False
    dispatcher_work: bool = False  # to file, to dispatch, or an extension to decide
    after_id: int | None = None  # keyset paging for long reads (with Order.OLDEST)
    order: Order = Order.NEWEST


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which cases a principal may see: all, or those in some divisions or departments."""

    everything: bool = False
    division_prefixes: tuple[str, ...] = ()
    department_codes: tuple[str, ...] = ()

    @property
    def nothing(self) -> bool:
        """True when no case is visible."""
        return not (self.everything or self.division_prefixes or self.department_codes)


def visibility(
    principal: Principal, permission: str, departments: Iterable[Department]
) -> Visibility:
    """Return what ``permission`` lets the principal see; department scopes include children."""
    tree: dict[str, list[str]] = {}
    for department in departments:
        if department.parent_code:
            tree.setdefault(department.parent_code, []).append(department.code)
    prefixes: set[str] = set()
    codes: set[str] = set()
    for grant in principal.grants:
        if permission not in grant.permissions:
            continue
        if grant.scope.kind == "city":
            return Visibility(everything=True)
        if grant.scope.kind == "division":
            prefixes.add(division_prefix(grant.scope.code))
        else:
            codes |= _subtree(grant.scope.code, tree)
    return Visibility(False, tuple(sorted(prefixes)), tuple(sorted(codes)))


def department_chain(code: str | None, departments: Mapping[str, Department]) -> tuple[str, ...]:
    """Return ``code`` and its ancestors (a department scope covers its sub-departments)."""
    chain: list[str] = []
    while code is not None and code not in chain:
        chain.append(code)
        parent = departments.get(code)
        code = parent.parent_code if parent else None
    return tuple(chain)


def _subtree(code: str, tree: dict[str, list[str]]) -> set[str]:
    found, stack = set(), [code]
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(tree.get(current, []))
    return found


def queue_filter(
    queue: Queue, *, department_codes: tuple[str, ...] = (), grid_codes: tuple[str, ...] = ()
) -> CaseFilter:
    """Return the filter of a role's queue."""
    if queue is Queue.INTAKE:
        return CaseFilter(statuses=(Status.ACCEPTED,), order=Order.OLDEST)
    if queue is Queue.DISPATCH:
        return CaseFilter(dispatcher_work=True, order=Order.OLDEST)
    if queue is Queue.DEPARTMENT:
        return CaseFilter(
            statuses=(Status.DISPATCHED, Status.IN_PROGRESS),
            department_codes=department_codes,
            order=Order.DUE,
        )
    if queue is Queue.VERIFY:
        return CaseFilter(statuses=(Status.HANDLED,), grid_codes=grid_codes, order=Order.OLDEST)
    return CaseFilter(statuses=tuple(sorted(OPEN)), order=Order.OVERDUE_FIRST)


def dispatch_queue_parts() -> dict[str, CaseFilter]:
    """Return the dispatcher's queue in parts: to file, to dispatch, returned, extensions."""
    return {
        "to_file": CaseFilter(statuses=(Status.ACCEPTED,), order=Order.OLDEST),
        "to_dispatch": CaseFilter(statuses=(Status.FILED,), order=Order.OLDEST),
        "returned": CaseFilter(statuses=(Status.FILED,), returned=True, order=Order.OLDEST),
        "extension_requests": CaseFilter(
            statuses=(Status.DISPATCHED, Status.IN_PROGRESS),
            extension_pending=True,
            order=Order.DUE,
        ),
    }


def parse_moment(value: str | None, name: str, zone: tzinfo) -> datetime | None:
    """Return a period bound: ``YYYY-MM-DD`` (local midnight) or ISO 8601 (local if naive)."""
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), zone)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.single(name, "datetime", "use YYYY-MM-DD or ISO 8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def check_page(limit: int, offset: int, *, maximum: int = MAX_PAGE) -> None:
    """Raise ValidationFailed unless paging values are in range."""
    if not 1 <= limit <= maximum:
        raise ValidationFailed.single("limit", "range", f"must be between 1 and {maximum}")
    if offset < 0:
        raise ValidationFailed.single("offset", "range", "must not be negative")


def check_group(group_by: str) -> str:
    """Return a valid KPI group-by or raise ValidationFailed."""
    if group_by not in GROUPS:
        raise ValidationFailed.single("by", "one_of", f"use one of {', '.join(GROUPS)}")
    return group_by


def with_period(
    case_filter: CaseFilter, start: datetime | None, end: datetime | None
) -> CaseFilter:
    """Return the filter limited to cases accepted in [start, end)."""
    if start and end and end <= start:
        raise ValidationFailed.single("to", "after_from", "the period must end after it starts")
    return replace(case_filter, accepted_from=start, accepted_to=end)


# The groupings the store keeps pre-aggregated per local day (``month`` is read from ``all``).
CELL_GROUPS = frozenset(
    {"all", "month", "department", "district", "street", "community", "channel"}
)
# Division code length → the grouping whose cells hold that division's own counters.
_CELL_LEVELS = {6: "district", 9: "street", 12: "community"}


@dataclass(frozen=True, slots=True)
class CellQuery:
    """How the day cells answer a KPI query: which grouping, which days, maybe one group only."""

    group_by: str
    first_day: date | None
    end_day: date | None
    only: str | None = None  # the one group to keep (a division), reported as "all"


def cell_query(
    case_filter: CaseFilter, seen: Visibility, group_by: str, zone: tzinfo
) -> CellQuery | None:
    """Return how the day cells can answer a KPI query, or None when only the rows can.

    They can when the reader sees every case, the grouping is kept per day, and the filter is a
    period that starts and ends at local midnights (or is open) — plus, for the ``all`` grouping,
    one district, street or community, whose own cells hold its counters.
    """
    if not seen.everything or group_by not in CELL_GROUPS:
        return None
    division = case_filter.division_code
    level = _CELL_LEVELS.get(len(division)) if division else None
    if division and (group_by != "all" or level is None):
        return None
    bare = replace(
        case_filter, accepted_from=None, accepted_to=None, division_code=None, order=Order.NEWEST
    )
    if bare != CaseFilter():
        return None
    days: list[date | None] = []
    for bound in (case_filter.accepted_from, case_filter.accepted_to):
        if bound is None:
            days.append(None)
            continue
        local = bound.astimezone(zone)
        if local.timetz().replace(tzinfo=None) != time():
            return None
        days.append(local.date())
    if level is not None:
        return CellQuery(level, days[0], days[1], only=division)
    return CellQuery(group_by, days[0], days[1])


@dataclass(frozen=True, slots=True)
class OpenCounts:
    """Open cases of one division now, and how many of them show a yellow or a red light."""

    code: str  # the division ("" for cases not placed that deep)
    open: int
    yellow: int
    red: int


@dataclass(slots=True)
class KpiCounters:
    """The counts and working times of one group, as the store adds them up."""

    group: str
    accepted: int = 0  # 受理数
    filed: int = 0  # 立案数
    dispatched: int = 0  # 派遣数 (= 应处置数)
    handled: int = 0  # 处置数
    handled_on_time: int = 0  # 按期处置数
    to_close: int = 0  # 应结案数: filed and not voided
    closed: int = 0  # 结案数
    closed_on_time: int = 0  # 按期结案数
    reworked: int = 0  # cases with at least one 返工
    extended: int = 0  # cases with an approved 延期
    returned: int = 0  # cases returned (回退) at least once
    held: int = 0  # cases put on hold (挂账/缓办)
    overdue_open: int = 0  # open cases past their deadline now
    self_handled: int = 0  # 自处理
    evaluated: int = 0
    satisfaction_sum: int = 0
    satisfied: int = 0  # rated 4 or 5
    # working seconds: average and median over the cases that got that far
    avg_seconds_to_dispatch: float | None = None
    median_seconds_to_dispatch: float | None = None
    avg_seconds_to_handle: float | None = None
    median_seconds_to_handle: float | None = None
    avg_seconds_to_close: float | None = None
    median_seconds_to_close: float | None = None
