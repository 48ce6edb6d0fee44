"""Cases, their history, reporters and attachments in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cityops.cases.model import (
    AppealType,
    Attachment,
    Case,
    Channel,
    DuplicateExternalRef,
    HistoryEntry,
    Pause,
    Reporter,
    Urgency,
)
from cityops.cases.ports import NewAttachment
from cityops.cases.queries import CaseFilter, KpiCounters, OpenCounts, Visibility
from cityops.cases.workflow import OPEN, WITH_DEPARTMENT, CaseState, Status
from cityops.storage.repositories import case_situation
from cityops.storage.repositories.case_filters import order_by, where
from cityops.storage.repositories.case_kpis import kpi_counters
from cityops.storage.schema import case_attachments, case_history, case_reporters, cases
from cityops.storage.types import UtcDateTime

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


# Built once: compiling a 60-column statement per call costs more than running it.
_INSERT_CASE = insert(cases).returning(cases.c.id)
_UPDATE_CASE = update(cases).where(cases.c.id == bindparam("case_id"))
_BY_EXTERNAL_REF = select(cases).where(
    cases.c.channel == bindparam("channel"), cases.c.external_ref == bindparam("ref")
)
_NEARBY_OPEN = (
    select(cases)
    .where(
        cases.c.matter_code == bindparam("matter"),
        cases.c.status.in_([s.value for s in sorted(OPEN)]),
        cases.c.accepted_at >= bindparam("since", type_=UtcDateTime()),
        cases.c.lon.between(bindparam("min_lon"), bindparam("max_lon")),
        cases.c.lat.between(bindparam("min_lat"), bindparam("max_lat")),
        cases.c.id != bindparam("exclude"),
    )
    .order_by(cases.c.id.desc())
    .limit(bindparam("limit"))
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


def _case(row: Any) -> Case:
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


class SqlCaseRepository:
    """Cases by id, reference, place, filter and deadline."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, case: Case) -> int:
        """Insert a case and return its id; a repeated channel + reference is refused."""
        try:
            result = self._connection.execute(_INSERT_CASE, case_row(case))
        except IntegrityError as error:
            if case.external_ref and "external_ref" in str(error.orig):
                raise DuplicateExternalRef(
                    f"{case.channel.value} reference {case.external_ref} is already registered"
                ) from None
            raise
        return int(result.scalar_one())

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
        return _case(row) if row else None

    def by_external_ref(self, channel: Channel, external_ref: str) -> Case | None:
        """Return the case of a channel's external reference."""
        row = (
            self._connection.execute(
                _BY_EXTERNAL_REF, {"channel": channel.value, "ref": external_ref}
            )
            .mappings()
            .first()
        )
        return _case(row) if row else None

    def update(self, case: Case) -> None:
        """Write a case back."""
        self._connection.execute(_UPDATE_CASE, {**case_row(case), "case_id": case.id})

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Append history entries."""
        if not entries:
            return
        self._connection.execute(
            insert(case_history),
            [
                {
                    "case_id": e.case_id,
                    "at": e.at,
                    "actor": e.actor,
                    "role": e.role,
                    "command": e.command,
                    "from_status": e.from_status.value if e.from_status else None,
                    "to_status": e.to_status.value,
                    "comment": e.comment,
                    "attachments": list(e.attachments),
                    "data": e.data,
                }
                for e in entries
            ],
        )

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
        self._connection.execute(
            insert(case_reporters),
            [
                {
                    "case_id": r.case_id,
                    "from_case_id": r.from_case_id,
                    "channel": r.channel.value,
                    "name": r.name,
                    "phone": r.phone,
                    "added_at": r.added_at,
                }
                for r in reporters
            ],
        )

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
    ) -> list[Case]:
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
        ).mappings()
        return [_case(row) for row in rows]

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
        return [_case(row) for row in rows], int(total)

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
        return [_case(row) for row in self._connection.execute(query).mappings()]

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
