"""A case (案件) and the words it is described with: channels, appeal types, urgency, history.

A case's public number is the local date it was accepted and its id (``20261123`` +
``0000042`` → ``202611230000042``), so numbers are unique, sortable and cost no extra write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

from cityops.cases.workflow import CaseState, Status
from cityops.kernel.errors import Conflict, ValidationFailed

_ID_DIGITS = 7
E = TypeVar("E", bound=StrEnum)


class Channel(StrEnum):
    """Where a case came from."""

    HOTLINE = "hotline"  # 12345 热线
    WEB = "web"  # 网站
    APP = "app"  # 随手拍 / 小程序
    PATROLLER = "patroller"  # 监督员上报
    SENSOR = "sensor"  # 物联感知
    AI_DETECTION = "ai_detection"  # 视频/无人机 AI 识别
    ENTERPRISE = "enterprise"  # 企业平台推送


CHANNEL_LABELS_ZH: dict[Channel, str] = {
    Channel.HOTLINE: "12345热线",
    Channel.WEB: "网站",
    Channel.APP: "移动端",
    Channel.PATROLLER: "监督员上报",
    Channel.SENSOR: "物联感知",
    Channel.AI_DETECTION: "智能识别",
    Channel.ENTERPRISE: "企业平台",
}


class AppealType(StrEnum):
    """The 12345 appeal categories (国办发〔2020〕53号)."""

    CONSULT = "consult"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议


APPEAL_LABELS_ZH: dict[AppealType, str] = {
    AppealType.CONSULT: "咨询",
    AppealType.HELP: "求助",
    AppealType.COMPLAINT: "投诉",
    AppealType.REPORT: "举报",
    AppealType.SUGGESTION: "建议",
}


class Urgency(StrEnum):
    """How urgent a case is; each matter rule has a time limit for each."""

    NORMAL = "normal"  # 一般
    URGENT = "urgent"  # 紧急


class DuplicateExternalRef(Conflict):
    """Another intake registered the same channel + external reference first."""


@dataclass(frozen=True, slots=True)
class NearbyCase:
    """What duplicate detection reads of an open case nearby (not the whole case)."""

    id: int
    lon: float | None
    lat: float | None
    accepted_at: datetime
    status: Status


def parse_enum(kind: type[E], value: str, field_name: str) -> E:
    """Return ``value`` as a member of ``kind`` or raise ValidationFailed listing the choices."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ValidationFailed.single(
            field_name, "one_of", f"{value!r} is not one of {choices}"
        ) from None


def check_text(value: str | None, field_name: str, limit: int) -> str | None:
    """Return ``value`` stripped (None if blank); refuse NUL characters and overlong text."""
    if value is None:
        return None
    if "\x00" in value:
        raise ValidationFailed.single(field_name, "no_nul", "must not contain NUL characters")
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed.single(field_name, "max_length", f"at most {limit} characters")
    return value or None


def case_number(case_id: int, accepted_at: datetime, zone: tzinfo) -> str:
    """Return the public number of a case."""
    return f"{accepted_at.astimezone(zone):%Y%m%d}{case_id:0{_ID_DIGITS}d}"


MAX_CASE_ID = 2**63 - 1


def parse_case_number(text: str) -> tuple[int, str | None]:
    """Return (case id, the number's date part or None) from a case number or a bare id.

    A number is eight date digits and at least seven id digits; anything shorter is a bare id.
    Raise ValidationFailed for anything else (non-ASCII digits, ids beyond 64 bits).
    """
    value = text.strip()
    if not (value.isascii() and value.isdigit()):
        raise ValidationFailed.single("case", "case_number", f"{text!r} is not a case number or id")
    day: str | None = None
    if len(value) >= 8 + _ID_DIGITS:
        day, value = value[:8], value[8:]
    case_id = int(value)
    if not 0 < case_id <= MAX_CASE_ID:
        raise ValidationFailed.single("case", "case_number", f"{text!r} is out of range")
    return case_id, day


def mask_name(name: str | None) -> str | None:
    """Keep the family name: 张三丰 → 张**."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    """Keep the first three and last four digits: 13812345678 → 138****5678."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


@dataclass(frozen=True, slots=True)
class Pause:
    """Working time not counted against the limit: a hold, or waiting for verification."""

    start: datetime
    end: datetime | None = None
    kind: str = "hold"  # hold (挂账) or verify (待核查)


@dataclass(slots=True)
class Case:
    """A case with its place, owner, state, deadline and the figures the KPIs read."""

    id: int
    channel: Channel
    description: str
    accepted_at: datetime
    accepted_by: str
    urgency: Urgency = Urgency.NORMAL
    appeal_type: AppealType | None = None
    state: CaseState = field(default_factory=CaseState)
    matter_code: str | None = None
    class_source: str | None = None
    class_confidence: float | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    lon: float | None = None
    lat: float | None = None
    address: str | None = None
    component_id: str | None = None
    location_source: str | None = None
    grid_code: str | None = None
    community_code: str | None = None
    street_code: str | None = None
    district_code: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    external_ref: str | None = None
    department_code: str | None = None
    grid_worker: str | None = None
    merged_into: int | None = None
    filed_by: str | None = None
    dispatched_by: str | None = None
    verified_by: str | None = None
    filed_at: datetime | None = None
    dispatched_at: datetime | None = None
    handled_at: datetime | None = None
    closed_at: datetime | None = None
    ended_at: datetime | None = None
    limit_text: str | None = None
    limit_seconds: int | None = None
    clock_started_at: datetime | None = None
    pauses: list[Pause] = field(default_factory=list)
    due_at: datetime | None = None
    yellow_at: datetime | None = None
    light: str | None = None
    escalation: int = 0
    handled_on_time: bool | None = None
    closed_on_time: bool | None = None
    seconds_to_dispatch: int | None = None
    seconds_to_handle: int | None = None
    seconds_to_close: int | None = None
    updated_at: datetime | None = None

    @property
    def status(self) -> Status:
        """Where the case is in the loop."""
        return self.state.status

    @property
    def division_code(self) -> str | None:
        """The most precise division the case lies in (for scope checks)."""
        return self.grid_code or self.community_code or self.street_code or self.district_code


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One step in a case's life: who did what, when, from which state to which."""

    case_id: int
    at: datetime
    actor: str
    command: str
    to_status: Status
    from_status: Status | None = None
    role: str | None = None
    comment: str | None = None
    attachments: tuple[int, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "command": self.command,
            "from_status": self.from_status.value if self.from_status else None,
            "to_status": self.to_status.value,
            "comment": self.comment,
            "attachments": list(self.attachments),
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class Reporter:
    """Someone who reported the case (merged duplicates bring theirs along)."""

    case_id: int
    from_case_id: int
    channel: Channel
    name: str | None
    phone: str | None
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Attachment:
    """A stored photo (or, from Open311, a media URL) of a case."""

    id: int
    case_id: int
    kind: str  # file or url
    added_by: str
    added_at: datetime
    sha256: str | None = None
    content_type: str | None = None
    size: int | None = None
    filename: str | None = None
    url: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "id": self.id,
            "kind": self.kind,
            "content_type": self.content_type,
            "size": self.size,
            "filename": self.filename,
            "url": self.url,
            "sha256": self.sha256,
            "added_by": self.added_by,
            "added_at": self.added_at.isoformat(),
        }
