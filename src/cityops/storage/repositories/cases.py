"""Cases, their history, reporters and attachments in SQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import Literal

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cityops.cases.model import (
    Attachment,
    Case,
    Channel,
    DuplicateExternalRef,
    HistoryEntry,
    NearbyCase,
    Reporter,
)
from cityops.cases.ports import NewAttachment
from cityops.cases.queries import CaseFilter, KpiCounters, OpenCounts, Visibility
from cityops.cases.situation_charts import BucketCount, DepartmentCounts
from cityops.cases.situation_map import MapCase
from cityops.cases.workflow import OPEN, WITH_DEPARTMENT, Status
from cityops.storage.case_ids import CaseIdBlocks
from cityops.storage.prepared import constant_in, insert_row, insert_rows
from cityops.storage.repositories import case_situation
from cityops.storage.repositories.case_filters import order_by, where
from cityops.storage.repositories.case_kpis import kpi_counters
from cityops.storage.repositories.case_rows import (
    case_from_row,
    case_row,
    history_row,
    reporter_row,
)
from cityops.storage.schema import case_attachments, case_history, case_reporters, cases
from cityops.storage.types import UtcDateTime
from cityops.storage.write_batches import NewCaseRows, insert_case

# Built once: compiling a 60-column statement per call costs more than running it.
_UPDATE_CASE = update(cases).where(cases.c.id == bindparam("case_id"))


_ID_BY_EXTERNAL_REF = select(cases.c.id).where(
    cases.c.channel == bindparam("channel"), cases.c.external_ref == bindparam("ref")
)
# Only what duplicate detection reads (a 60-column row costs more than the query), and the
# open statuses written into the SQL, not expanded into parameters on every call.
_NEARBY_OPEN = (
    select(cases.c.id, cases.c.lon, cases.c.lat, cases.c.accepted_at, cases.c.status)
    .where(
        cases.c.matter_code == bindparam("matter"),
        constant_in(cases.c.status, [s.value for s in OPEN]),
        cases.c.accepted_at >= bindparam("since", type_=UtcDateTime()),
        cases.c.lon.between(bindparam("min_lon"), bindparam("max_lon")),
        cases.c.lat.between(bindparam("min_lat"), bindparam("max_lat")),
        cases.c.id != bindparam("exclude"),
    )
    .order_by(cases.c.id.desc())
    .limit(bindparam("limit"))
)


@contextmanager
def refusing_repeated_references(*references: tuple[str, str | None]) -> Iterator[None]:
    """Turn the unique violation of a repeated channel + reference into DuplicateExternalRef.

    ``references`` are the (channel, external reference) pairs of the cases being inserted.
    """
    try:
        yield
    except IntegrityError as error:
        for channel, external_ref in references:
            if external_ref and "external_ref" in str(error.orig):
                raise DuplicateExternalRef(
                    f"{channel} reference {external_ref} is already registered"
                ) from None
        raise


def staged_references(new_cases: Sequence[NewCaseRows]) -> list[tuple[str, str | None]]:
    """Return the (channel, external reference) pairs of staged new cases."""
    return [(c.case["channel"], c.case.get("external_ref")) for c in new_cases]


class SqlCaseRepository:
    """Cases by id, reference, place, filter and deadline.

    With ``case_ids`` (PostgreSQL) a new case's id is drawn ahead and its rows are staged:
    the unit of work writes them at commit, with the audit entry and the event, in one
    statement. Without (SQLite) a new case is inserted at once and the store gives its id.
    """

    def __init__(self, connection: Connection, case_ids: CaseIdBlocks | None = None) -> None:
        self._connection = connection
        self._case_ids = case_ids
        self._staged: list[NewCaseRows] = []

    def add(self, case: Case) -> int:
        """Insert a case and return its id; a repeated channel + reference is refused."""
        with refusing_repeated_references((case.channel.value, case.external_ref)):
            result = insert_row(self._connection, cases, case_row(case), returning=cases.c.id)
        return int(result.scalar_one())

    def add_new(
        self, case: Case, history: Sequence[HistoryEntry], reporter: Reporter | None
    ) -> int:
        """Register a new case with its history entries and reporter; return its id.

        The entries' and the reporter's case ids are ignored: all get the new case's. Staged
        rows are written at commit (do not read the case back before); a repeated channel +
        reference is refused, then or now, with DuplicateExternalRef.
        """
        history_rows = [history_row(entry) for entry in history]
        reporter_values = None if reporter is None else reporter_row(reporter)
        if self._case_ids is None:
            for row in history_rows:
                del row["case_id"]
            if reporter_values is not None:
                del reporter_values["case_id"], reporter_values["from_case_id"]
            with refusing_repeated_references((case.channel.value, case.external_ref)):
                return insert_case(self._connection, case_row(case), history_rows, reporter_values)
        case_id = self._case_ids.take()
        for row in history_rows:
            row["case_id"] = case_id
        if reporter_values is not None:
            reporter_values.update(case_id=case_id, from_case_id=case_id)
        row = {"id": case_id, **case_row(case)}
        self._staged.append(NewCaseRows(row, history_rows, reporter_values))
        return case_id

    def take_staged(self) -> list[NewCaseRows]:
        """Return the staged new cases and forget them (the unit of work writes them)."""
        staged, self._staged = self._staged, []
        return staged

    def add_many(self, items: Sequence[Case]) -> list[int]:
        """Insert many cases in one batch; return their ids in order (for loaders)."""
        if not items:
            return []
        result = self._connection.execute(
            insert(cases).returning(cases.c.id, sort_by_parameter_order=True),
            [case_row(case) for case in items],
        )
        return [int(row[0]) for row in result]

    def get(self, case_id: int, *, for_update: bool = False) -> Case | None:
        """Return a case, optionally locking its row."""
        query = select(cases).where(cases.c.id == case_id)
        if for_update and self._connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._connection.execute(query).mappings().first()
        return case_from_row(row) if row else None

    def by_external_ref(self, channel: Channel, external_ref: str) -> Case | None:
        """Return the case of a channel's external reference."""
        # Usually there is none: ask for the id alone, read the whole case only when found.
        found = self._connection.execute(
            _ID_BY_EXTERNAL_REF, {"channel": channel.value, "ref": external_ref}
        ).scalar()
        return self.get(int(found)) if found is not None else None

    def update(self, case: Case) -> None:
        """Write a case back."""
        self._connection.execute(_UPDATE_CASE, {**case_row(case), "case_id": case.id})

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Append history entries."""
        if not entries:
            return
        insert_rows(self._connection, case_history, [history_row(e) for e in entries])

    def history(self, case_id: int) -> list[HistoryEntry]:
        """Return a case's history, oldest first."""
        rows = self._connection.execute(
            select(case_history)
            .where(case_history.c.case_id == case_id)
            .order_by(case_history.c.id)
        ).mappings()
        return [
            HistoryEntry(
                id=row["id"],
                case_id=row["case_id"],
                at=row["at"],
                actor=row["actor"],
                role=row["role"],
                command=row["command"],
                from_status=Status(row["from_status"]) if row["from_status"] else None,
                to_status=Status(row["to_status"]),
                comment=row["comment"],
                attachments=tuple(row["attachments"]),
                data=row["data"],
            )
            for row in rows
        ]

    def add_reporter(self, reporter: Reporter) -> None:
        """Record a reporter."""
        self.add_reporters([reporter])

    def add_reporters(self, reporters: Sequence[Reporter]) -> None:
        """Record reporters in one batch."""
        if not reporters:
            return
        insert_rows(self._connection, case_reporters, [reporter_row(r) for r in reporters])

    def reporters(self, case_id: int) -> list[Reporter]:
        """Return a case's reporters."""
        rows = self._connection.execute(
            select(case_reporters)
            .where(case_reporters.c.case_id == case_id)
            .order_by(case_reporters.c.id)
        ).mappings()
        return [
            Reporter(
                case_id=row["case_id"],
                from_case_id=row["from_case_id"],
                channel=Channel(row["channel"]),
                name=row["name"],
                phone=row["phone"],
                added_at=row["added_at"],
            )
            for row in rows
        ]

    def move_reporters(self, from_case_id: int, to_case_id: int) -> int:
        """Move reporters to the surviving case of a merge."""
        result = self._connection.execute(
            update(case_reporters)
            .where(case_reporters.c.case_id == from_case_id)
            .values(case_id=to_case_id)
        )
        return int(result.rowcount)

    def add_attachment(self, attachment: NewAttachment) -> int:
        """Store an attachment record."""
        result = self._connection.execute(
            insert(case_attachments)
            .values(
                case_id=attachment.case_id,
                kind=attachment.kind,
                sha256=attachment.sha256,
                content_type=attachment.content_type,
                size=attachment.size,
                filename=attachment.filename,
                url=attachment.url,
                added_by=attachment.added_by,
                added_at=attachment.added_at,
            )
            .returning(case_attachments.c.id)
        )
        return int(result.scalar_one())

    def attachments(self, case_id: int) -> list[Attachment]:
        """Return a case's attachments."""
        rows = self._connection.execute(
            select(case_attachments)
            .where(case_attachments.c.case_id == case_id)
            .order_by(case_attachments.c.id)
        ).mappings()
        return [Attachment(**dict(row)) for row in rows]

    def attachment(self, attachment_id: int) -> Attachment | None:
        """Return one attachment."""
        row = (
            self._connection.execute(
                select(case_attachments).where(case_attachments.c.id == attachment_id)
            )
            .mappings()
            .first()
        )
        return Attachment(**dict(row)) if row else None

    def nearby_open(
        self,
        matter_code: str,
        box: tuple[float, float, float, float],
        since: datetime,
        exclude_id: int | None,
        limit: int,
    ) -> list[NearbyCase]:
        """Return open cases of a class in a box, newest first."""
        min_lon, min_lat, max_lon, max_lat = box
        rows = self._connection.execute(
            _NEARBY_OPEN,
            {
                "matter": matter_code,
                "since": since,
                "min_lon": min_lon,
                "max_lon": max_lon,
                "min_lat": min_lat,
                "max_lat": max_lat,
                "exclude": -1 if exclude_id is None else exclude_id,
                "limit": limit,
            },
        )
        return [NearbyCase(i, lon, lat, at, Status(status)) for i, lon, lat, at, status in rows]

    def search(
        self,
        case_filter: CaseFilter,
        visibility: Visibility,
        now: datetime,
        *,
        limit: int,
        offset: int,
        with_total: bool = True,
    ) -> tuple[list[Case], int]:
        """Return one page of matching cases and the total (-1 without ``with_total``)."""
        conditions = where(case_filter, visibility, now)
        total = (
            self._connection.execute(
                select(func.count()).select_from(cases).where(*conditions)
            ).scalar_one()
            if with_total
            else -1
        )
        query = select(cases).where(*conditions).limit(limit).offset(offset)
        query = query.order_by(*order_by(case_filter.order, now))
        rows = self._connection.execute(query).mappings()
        return [case_from_row(row) for row in rows], int(total)

    def to_sweep(self, now: datetime, limit: int) -> list[Case]:
        """Return running cases past their yellow moment that may need a new light or step."""
        query = (
            select(cases)
            .where(
                cases.c.status.in_([s.value for s in WITH_DEPARTMENT]),
                cases.c.yellow_at <= now,
            )
            .order_by(cases.c.due_at)
            .limit(limit)
        )
        return [case_from_row(row) for row in self._connection.execute(query).mappings()]

    def kpi_counters(
        self,
        case_filter: CaseFilter,
        visibility: Visibility,
        group_by: str,
        now: datetime,
        zone: tzinfo,
    ) -> list[KpiCounters]:
        """Return KPI counters per group."""
        conditions = where(case_filter, visibility, now)
        return kpi_counters(self._connection, conditions, group_by, now, zone)

    def open_counts(
        self, visibility: Visibility, division_code: str | None, now: datetime
    ) -> list[OpenCounts]:
        """Count open, yellow and red cases per division one level below ``division_code``."""
        return case_situation.open_counts(self._connection, visibility, division_code, now)

    def closed_between(
        self,
        visibility: Visibility,
        division_code: str | None,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> int:
        """Count the cases closed in [start, end) in a division (or everywhere)."""
        return case_situation.closed_between(
            self._connection, visibility, division_code, start, end, now
        )

    def accepted_per_bucket(
        self,
        visibility: Visibility,
        division_code: str | None,
        edges: Sequence[datetime],
        now: datetime,
    ) -> list[BucketCount]:
        """Count the cases accepted in each bucket between the edges, per channel."""
        return case_situation.accepted_per_bucket(
            self._connection, visibility, division_code, edges, now
        )

    def closed_per_bucket(
        self,
        visibility: Visibility,
        division_code: str | None,
        edges: Sequence[datetime],
        now: datetime,
    ) -> list[BucketCount]:
        """Count the cases closed in each bucket between the edges, and those on time."""
        return case_situation.closed_per_bucket(
            self._connection, visibility, division_code, edges, now
        )

    def accepted_by(
        self,
        column: Literal["channel", "matter"],
        visibility: Visibility,
        division_code: str | None,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> list[tuple[str, int]]:
        """Count the cases accepted in [start, end) per channel or matter class."""
        return case_situation.accepted_by(
            self._connection, column, visibility, division_code, start, end, now
        )

    def department_counts(
        self,
        visibility: Visibility,
        division_code: str | None,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> list[DepartmentCounts]:
        """Count per department: open and red now, closed in [start, end), on-time counters."""
        return case_situation.department_counts(
            self._connection, visibility, division_code, start, end, now
        )

    def open_on_map(
        self, visibility: Visibility, division_code: str | None, now: datetime, limit: int
    ) -> tuple[list[MapCase], int]:
        """Return up to ``limit`` placed open cases, most urgent first, and their total."""
        return case_situation.open_on_map(self._connection, visibility, division_code, now, limit)

    def child_areas(self, division_code: str | None) -> dict[str, float]:
        """Return code → area in m² of the divisions one level below a division."""
        return case_situation.child_areas(self._connection, division_code)

    def training_texts(self, limit: int) -> list[tuple[str, str]]:
        """Return texts and classes of closed cases, newest first."""
        rows = self._connection.execute(
            select(cases.c.description, cases.c.matter_code)
            .where(
                cases.c.closed_at.is_not(None),
                cases.c.matter_code.is_not(None),
            )
            .order_by(cases.c.id.desc())
            .limit(limit)
        )
        return [(row[0], row[1]) for row in rows]
