"""Finding cases: search with filters and paging, each role's queue, exports and KPIs.

What a principal sees is limited by the scopes of their ``cases:read`` grants: a department
handler sees their department's cases (and its sub-departments'), a street's staff the cases
inside the street; KPIs follow ``analytics:read`` the same way.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cityops.auth.model import Principal
from cityops.cases.kpis import ROLE_OF_GROUP, composite, rates
from cityops.cases.ports import CasesUnitOfWork
from cityops.cases.queries import (
    MAX_EXPORT,
    CaseFilter,
    CellQuery,
    KpiCounters,
    Order,
    Queue,
    Visibility,
    cell_query,
    check_group,
    check_page,
    dispatch_queue_parts,
    queue_filter,
    visibility,
    with_period,
)
from cityops.cases.service import CaseService
from cityops.cases.views import EXPORT_HEADERS_ZH, export_row
from cityops.kernel.clock import Clock
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory

EXPORT_PAGE = 2_000
ROLE_QUEUES = {
    "intake": Queue.INTAKE,
    "dispatcher": Queue.DISPATCH,
    "department_handler": Queue.DEPARTMENT,
    "patroller": Queue.VERIFY,
    "command_center": Queue.COMMAND,
    "admin": Queue.COMMAND,
}


class CaseListService:
    """Search, queues, exports and KPIs over the cases a principal may see."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[CasesUnitOfWork],
        clock: Clock,
        cases: CaseService,
        weights: dict[str, dict[str, float]],
        zone: ZoneInfo,
    ) -> None:
        self._zone = zone
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._cases = cases
        self._weights = weights

    def _visible(self, uow: CasesUnitOfWork, principal: Principal, permission: str) -> Visibility:
        principal.require_somewhere(permission)
        return visibility(principal, permission, uow.departments.list())

    def search(
        self, principal: Principal, case_filter: CaseFilter, *, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """Return one page of cases and the total."""
        check_page(limit, offset)
        with self._unit_of_work(read_only=True) as uow:
            seen = self._visible(uow, principal, "cases:read")
            found, total = uow.cases.search(
                case_filter, seen, self._clock.now(), limit=limit, offset=offset
            )
            departments = {d.code: d for d in uow.departments.list()}
            items = [self._cases.view(principal, case, uow, departments) for case in found]
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    def queue(
        self, principal: Principal, name: str | None, *, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """Return a role's queue (by default the first role the principal holds)."""
        queue = self._queue_of(principal, name)
        department_codes: tuple[str, ...] = ()
        grid_codes: tuple[str, ...] = ()
        if queue is Queue.DEPARTMENT:
            department_codes = tuple(
                g.scope.code for g in principal.grants if g.scope.kind == "department"
            ) or ((principal.department_code,) if principal.department_code else ())
        if queue is Queue.VERIFY and principal.kind == "user":
            with self._unit_of_work(read_only=True) as uow:
                grid_codes = tuple(uow.grid_assignments.grids_of_worker(principal.name))
        case_filter = queue_filter(queue, department_codes=department_codes, grid_codes=grid_codes)
        result = self.search(principal, case_filter, limit=limit, offset=offset)
        result["queue"] = queue.value
        if queue is Queue.DISPATCH:
            with self._unit_of_work(read_only=True) as uow:
                seen = self._visible(uow, principal, "cases:read")
                now = self._clock.now()
                result["parts"] = {
                    part: uow.cases.search(f, seen, now, limit=1, offset=0)[1]
                    for part, f in dispatch_queue_parts().items()
                }
        return result

    @staticmethod
    def _queue_of(principal: Principal, name: str | None) -> Queue:
        if name:
            try:
                return Queue(name)
            except ValueError:
                choices = ", ".join(q.value for q in Queue)
                raise ValidationFailed.single(
                    "queue", "one_of", f"{name!r} is not one of {choices}"
                ) from None
        for grant in principal.grants:
            if grant.role in ROLE_QUEUES:
                return ROLE_QUEUES[grant.role]
        return Queue.COMMAND

    def export(self, principal: Principal, case_filter: CaseFilter, fmt: str) -> tuple[bytes, str]:
        """Return matching cases as CSV (UTF-8 with BOM, for Excel) or XLSX bytes.

        Cases are read and turned into rows a page at a time (keyset paging by id), so only the
        file itself is held in memory, not every case and its view.
        """
        if fmt not in ("csv", "xlsx"):
            raise ValidationFailed.single("format", "one_of", "csv or xlsx")
        ordered = replace(case_filter, order=Order.OLDEST)
        headers = list(EXPORT_HEADERS_ZH)
        sheet = _CsvSheet() if fmt == "csv" else _XlsxSheet()
        sheet.append([EXPORT_HEADERS_ZH[h] for h in headers])
        with self._unit_of_work(read_only=True) as uow:
            seen = self._visible(uow, principal, "cases:read")
            now = self._clock.now()
            total = uow.cases.search(ordered, seen, now, limit=1, offset=0)[1]
            if total > MAX_EXPORT:
                raise ValidationFailed.single(
                    "filter", "max_export", f"{total} cases match; narrow to at most {MAX_EXPORT}"
                )
            departments = {d.code: d for d in uow.departments.list()}
            last_id = 0
            while True:
                page, _ = uow.cases.search(
                    replace(ordered, after_id=last_id),
                    seen,
                    now,
                    limit=EXPORT_PAGE,
                    offset=0,
                    with_total=False,
                )
                for case in page:
                    row = export_row(case, self._cases.view(principal, case, uow, departments))
                    sheet.append([row[h] for h in headers])
                if len(page) < EXPORT_PAGE:
                    break
                last_id = page[-1].id
        return sheet.content()

    def kpis(
        self,
        principal: Principal,
        *,
        group_by: str = "department",
        start: datetime | None = None,
        end: datetime | None = None,
        case_filter: CaseFilter | None = None,
    ) -> dict[str, Any]:
        """Return KPIs per group for cases accepted in [start, end), with composite grades."""
        check_group(group_by)
        filtered = with_period(case_filter or CaseFilter(), start, end)
        now = self._clock.now()
        with self._unit_of_work(read_only=True) as uow:
            seen = self._visible(uow, principal, "analytics:read")
            cells = cell_query(filtered, seen, group_by, self._zone)
            if cells is None:
                counters = uow.cases.kpi_counters(filtered, seen, group_by, now, self._zone)
            stale = cells is not None and uow.kpi_cells.stale(self._zone)
        if stale:
            # Folding the changed days first keeps the KPIs up to the last committed change.
            with self._unit_of_work() as uow:
                uow.kpi_cells.fold(self._zone, now)
                uow.commit()
        if cells is not None:
            counters = self._from_cells(cells, now)
        role = ROLE_OF_GROUP.get(group_by)
        groups = []
        for counter in counters:
            kpis = rates(counter)
            kpis["composite"] = composite(kpis, role, self._weights) if role else None
            groups.append(kpis)
        return {
            "by": group_by,
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "groups": groups,
        }

    def _from_cells(self, cells: CellQuery, now: datetime) -> list[KpiCounters]:
        with self._unit_of_work(read_only=True) as uow:
            found = uow.kpi_cells.counters(
                cells.group_by, cells.first_day, cells.end_day, self._zone, now
            )
        if cells.only is None:
            return found
        return [replace(c, group="all") for c in found if c.group == cells.only]


class _CsvSheet:
    """CSV rows into a buffer; UTF-8 with a BOM so Excel reads the Chinese correctly."""

    def __init__(self) -> None:
        self._out = io.StringIO()
        self._writer = csv.writer(self._out, lineterminator="\r\n")

    def append(self, values: list[Any]) -> None:
        self._writer.writerow(values)

    def content(self) -> tuple[bytes, str]:
        return ("\ufeff" + self._out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"


class _XlsxSheet:
    """Rows into a write-only workbook (openpyxl keeps them out of memory until saved)."""

    def __init__(self) -> None:
        from openpyxl import Workbook

        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet("案件")

    def append(self, values: list[Any]) -> None:
        self._sheet.append(values)

    def content(self) -> tuple[bytes, str]:
        out = io.BytesIO()
        self._book.save(out)
        return out.getvalue(), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
