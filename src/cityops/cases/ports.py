"""What the cases domain needs from a store (implemented in cityops.storage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from cityops.cases.model import Attachment, Case, Channel, HistoryEntry, NearbyCase, Reporter
from cityops.cases.queries import CaseFilter, KpiCounters, OpenCounts, Visibility
from cityops.cases.rules import MatterRule
from cityops.cases.situation_charts import BucketCount, DepartmentCounts
from cityops.cases.situation_map import MapCase
from cityops.catalog.components import ComponentRepository
from cityops.geo.places import PlaceRepository
from cityops.geo.ports import GeoUnitOfWork


@dataclass(frozen=True, slots=True)
class NewAttachment:
    """An attachment before it is stored."""

    case_id: int
    kind: str
    added_by: str
    added_at: datetime
    sha256: str | None = None
    content_type: str | None = None
    size: int | None = None
    filename: str | None = None
    url: str | None = None


class CaseRepository(Protocol):
    """Cases, their history, reporters and attachments."""

    def add(self, case: Case) -> int:
        """Insert a new case (its id is ignored) and return the id given to it."""
        ...

    def add_new(
        self, case: Case, history: Sequence[HistoryEntry], reporter: Reporter | None
    ) -> int:
        """Register a new case in its final state, with its history and reporter; return its id.

        The entries' and the reporter's case ids are ignored: they get the new case's id. The
        rows may be written only at commit (with the audit entries and events, in one
        statement), so the case is not read back in the same unit of work. A repeated channel
        + external reference raises DuplicateExternalRef, here or at commit.
        """
        ...

    def add_many(self, items: Sequence[Case]) -> list[int]:
        """Insert many cases in one batch and return their ids in order (for loaders)."""
        ...

    def get(self, case_id: int, *, for_update: bool = False) -> Case | None:
        """Return a case; ``for_update`` locks its row until the transaction ends."""
        ...

    def by_external_ref(self, channel: Channel, external_ref: str) -> Case | None:
        """Return the case registered with this channel and external reference."""
        ...

    def update(self, case: Case) -> None:
        """Write a changed case back."""
        ...

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Append history entries."""
        ...

    def history(self, case_id: int) -> list[HistoryEntry]:
        """Return a case's history, oldest first."""
        ...

    def add_reporter(self, reporter: Reporter) -> None:
        """Record a reporter of a case."""
        ...

    def add_reporters(self, reporters: Sequence[Reporter]) -> None:
        """Record many reporters in one batch (for loaders)."""
        ...

    def reporters(self, case_id: int) -> list[Reporter]:
        """Return every reporter of a case."""
        ...

    def move_reporters(self, from_case_id: int, to_case_id: int) -> int:
        """Move a merged case's reporters to the case it was merged into."""
        ...

    def add_attachment(self, attachment: NewAttachment) -> int:
        """Store an attachment record and return its id."""
        ...

    def attachments(self, case_id: int) -> list[Attachment]:
        """Return a case's attachments."""
        ...

    def attachment(self, attachment_id: int) -> Attachment | None:
        """Return one attachment."""
        ...

    def nearby_open(
        self,
        matter_code: str,
        box: tuple[float, float, float, float],
        since: datetime,
        exclude_id: int | None,
        limit: int,
    ) -> list[NearbyCase]:
        """Return open cases of a class inside a lon/lat box accepted since ``since``."""
        ...

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
        """Return one page of matching cases and the total count (-1 without ``with_total``)."""
        ...

    def to_sweep(self, now: datetime, limit: int) -> list[Case]:
        """Return running cases whose light may have changed or that may need escalation."""
        ...

    def kpi_counters(
        self,
        case_filter: CaseFilter,
        visibility: Visibility,
        group_by: str,
        now: datetime,
        zone: ZoneInfo,
    ) -> list[KpiCounters]:
        """Return KPI counters per group for cases accepted in the filter's period."""
        ...

    def open_counts(
        self, visibility: Visibility, division_code: str | None, now: datetime
    ) -> list[OpenCounts]:
        """Count open, yellow and red cases per division one level below ``division_code``."""
        ...

    def closed_between(
        self,
        visibility: Visibility,
        division_code: str | None,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> int:
        """Count the cases closed in [start, end) in a division (or everywhere)."""
        ...

    def accepted_per_bucket(
        self,
        visibility: Visibility,
        division_code: str | None,
        edges: Sequence[datetime],
        now: datetime,
    ) -> list[BucketCount]:
        """Count the cases accepted in each bucket between the edges, per channel."""
        ...

    def closed_per_bucket(
        self,
        visibility: Visibility,
        division_code: str | None,
        edges: Sequence[datetime],
        now: datetime,
    ) -> list[BucketCount]:
        """Count the cases closed in each bucket between the edges, and those on time."""
        ...

    def accepted_by(
        self,
        column: Literal["channel", "matter"],
        visibility: Visibility,
        division_code: str | None,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> list[tuple[str, int]]:
        """Count the cases accepted in [start, end) per channel or matter class (not none)."""
        ...

    def department_counts(
        self,
        visibility: Visibility,
        division_code: str | None,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> list[DepartmentCounts]:
        """Count per department: open and red now, closed in [start, end), on-time counters."""
        ...

    def open_on_map(
        self, visibility: Visibility, division_code: str | None, now: datetime, limit: int
    ) -> tuple[list[MapCase], int]:
        """Return up to ``limit`` open cases with a point, most urgent first, and their total."""
        ...

    def child_areas(self, division_code: str | None) -> dict[str, float]:
        """Return code → area in m² of the current divisions one level below a division."""
        ...

    def training_texts(self, limit: int) -> list[tuple[str, str]]:
        """Return (description, matter class) of closed cases, newest first."""
        ...


class KpiCellRepository(Protocol):
    """KPI counters pre-aggregated per local day and group, kept in step with the cases."""

    def stale(self, zone: ZoneInfo) -> bool:
        """Return True when cases changed since the cells were last brought up to date."""
        ...

    def fold(self, zone: ZoneInfo, now: datetime) -> int:
        """Bring the cells up to date with the cases; return how many days were recomputed."""
        ...

    def counters(
        self,
        group_by: str,
        first_day: date | None,
        end_day: date | None,
        zone: ZoneInfo,
        now: datetime,
    ) -> list[KpiCounters]:
        """Return KPI counters per group for all cases accepted on [first_day, end_day)."""
        ...


class MatterRuleRepository(Protocol):
    """A city's matter rules (department, conditions, time limits, keywords)."""

    def get(self, matter_code: str, division_code: str) -> MatterRule | None:
        """Return one rule ('' is the whole city)."""
        ...

    def for_matter(self, matter_code: str) -> list[MatterRule]:
        """Return every rule of a matter class."""
        ...

    def list(self) -> list[MatterRule]:
        """Return all rules ordered by class and division."""
        ...

    def put(self, rule: MatterRule) -> None:
        """Insert or replace a rule."""
        ...

    def delete(self, matter_code: str, division_code: str) -> bool:
        """Delete a rule; False if there was none."""
        ...

    def revision(self) -> tuple[int, str]:
        """Return a value that changes whenever a rule changes."""
        ...


class CasesUnitOfWork(GeoUnitOfWork, Protocol):
    """A transaction with the cases repositories and what intake reads."""

    @property
    def cases(self) -> CaseRepository:
        """Cases."""
        ...

    @property
    def matter_rules(self) -> MatterRuleRepository:
        """Matter rules."""
        ...

    @property
    def kpi_cells(self) -> KpiCellRepository:
        """KPI day cells."""
        ...

    @property
    def components(self) -> ComponentRepository:
        """Managed components."""
        ...

    @property
    def places(self) -> PlaceRepository:
        """The gazetteer's places."""
        ...
