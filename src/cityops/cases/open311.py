"""Open311 GeoReport v2 in the words of the case domain: services, service requests, errors.

GeoReport v2 (http://wiki.open311.org/GeoReport_v2) is what citizen apps speak. Here a
*service* is a GB/T 47678.5 matter class (``service_code`` = the 5-digit class code) and a
*service request* is a case (``service_request_id`` = the case number). This module is pure: it
turns form fields into an :class:`~cityops.cases.intake.IntakeRequest`, cases into the public
service-request records (never a reporter's name or phone), query parameters into a
:class:`~cityops.cases.queries.CaseFilter`, domain errors into Open311 error lists, and any of
XML documents are built in :mod:`cityops.cases.open311_xml`. No store, no web.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from cityops.cases import deadlines
from cityops.cases.corpus import phrase_book
from cityops.cases.intake import IntakeRequest
from cityops.cases.model import Case, Channel, HistoryEntry, case_number
from cityops.cases.queries import CaseFilter
from cityops.cases.workflow import OPEN, STATUS_LABELS_ZH, Command, Status
from cityops.catalog.model import MatterClass
from cityops.catalog.reference import matter_classes
from cityops.kernel.errors import (
    AuthenticationFailed,
    CityOpsError,
    NotFound,
    ValidationFailed,
)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("json", "xml")
MAX_REQUESTS = 1000  # GET requests answers at most this many (the spec's default)
WINDOW = timedelta(days=90)  # the default and the widest start_date–end_date range
MAX_IDS = 100  # service_request_id values in one GET requests
MAX_KEYWORDS = 8
MAX_ADDRESS = 200  # what a case keeps (checked before the gazetteer reads the text)
CHANNEL = Channel.APP
CLOSED = frozenset(Status) - OPEN  # closed, evaluated, rejected, voided
# Steps whose comment a citizen may read: what was done, and why a case ended.
PUBLIC_NOTES = frozenset(
    {
        Command.REPORT.value,
        Command.VERIFY_PASS.value,
        Command.REJECT.value,
        Command.VOID.value,
        Command.SELF_HANDLE.value,
        "merge",
    }
)
# Domain field names → the Open311 parameter a client sent.
FORM_FIELDS = {
    "lon": "long",
    "lat": "lat",
    "address": "address_string",
    "component_id": "address_id",
    "matter_code": "service_code",
    "class_code": "service_code",
    "reporter_name": "first_name",
    "reporter_phone": "phone",
    "satisfaction": "rating",
    "reason": "comment",
    "case": "service_request_id",
}


# --------------------------------------------------------------------------- services


def keywords(code: str) -> str:
    """Return what people call the matter (comma separated), for a client's search box."""
    phrases = phrase_book().classes.get(code)
    names = phrases.names[:MAX_KEYWORDS] if phrases else ()
    return ",".join(dict.fromkeys(names))


def service(matter: MatterClass) -> dict[str, Any]:
    """Return the GeoReport service of one matter class."""
    return {
        "service_code": matter.code,
        "service_name": matter.name,
        "description": f"{matter.major_name} · {matter.name}（GB/T 47678.5 事项 {matter.code}）",
        "metadata": False,
        "type": "realtime",
        "keywords": keywords(matter.code),
        "group": matter.major_name,
    }


def services() -> list[dict[str, Any]]:
    """Return every service: one per GB/T 47678.5 matter class, by code."""
    return [service(matter) for _, matter in sorted(matter_classes().items())]


def matter_of(service_code: str) -> MatterClass:
    """Return the matter class a service code names, or raise NotFound (Open311: 404)."""
    found = matter_classes().get(service_code.strip())
    if found is None:
        raise NotFound(f"service_code: there is no service {service_code!r}")
    return found


def service_definition(service_code: str) -> dict[str, Any]:
    """Return the definition of a service; it asks for no extra attributes (metadata=false)."""
    return {"service_code": matter_of(service_code).code, "attributes": []}


# --------------------------------------------------------------------------- posting


@dataclass(frozen=True, slots=True)
class RequestForm:
    """The form fields of ``POST requests`` (all text, as a client sends them)."""

    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    media_url: str | None = None

    def given(self) -> dict[str, str]:
        """Return the fields that carry text."""
        return {
            name: value
            for name in self.__dataclass_fields__
            if (value := getattr(self, name)) is not None and value.strip()
        }


def no_nul(values: Mapping[str, str | None]) -> None:
    """Raise ValidationFailed if a text value carries NUL (no store keeps it faithfully)."""
    for name, value in values.items():
        if value is not None and "\x00" in value:
            raise ValidationFailed.single(name, "no_nul", "must not contain NUL characters")


def _degrees(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValidationFailed.single(
            name, "number", f"{value!r} is not a number of degrees (WGS84)"
        ) from None
    if not math.isfinite(number):
        raise ValidationFailed.single(name, "number", "must be a finite number of degrees")
    return number


def reporter_name(first_name: str | None, last_name: str | None) -> str | None:
    """Join a reporter's names: 姓 + 名 for Chinese names, "first last" otherwise."""
    parts = [p.strip() for p in (last_name, first_name) if p and p.strip()]
    if not parts:
        return None
    if all(part.isascii() for part in parts):
        return " ".join(reversed(parts))
    return "".join(parts)


def check_media_url(url: str) -> str:
    """Return a media URL the case service will accept, or raise ValidationFailed."""
    cleaned = url.strip()
    if not cleaned.startswith(("http://", "https://")) or len(cleaned) > 1000:
        raise ValidationFailed.single(
            "media_url", "url", "an http(s) URL of at most 1000 characters"
        )
    return cleaned


def intake_request(form: RequestForm) -> IntakeRequest:
    """Return the intake of a posted service request, or raise ValidationFailed / NotFound.

    The place is ``lat`` + ``long``, ``address_string`` (resolved with the gazetteer, kept as
    text either way) or ``address_id`` (a 17-digit component id); one of them is required. A
    request without a description is described by its service's name. ``email``, ``device_id``
    and ``account_id`` are not stored (cityops calls reporters back by phone).
    """
    no_nul(form.given())
    if not form.service_code or not form.service_code.strip():
        raise ValidationFailed.single("service_code", "required", "name the service (5 digits)")
    matter = matter_of(form.service_code)
    lat = _degrees(form.lat, "lat")
    lon = _degrees(form.long, "long")
    if (lat is None) != (lon is None):
        missing = "long" if lon is None else "lat"
        raise ValidationFailed.single(missing, "pair", "give lat and long together")
    address = (form.address_string or "").strip() or None
    if address and len(address) > MAX_ADDRESS:
        raise ValidationFailed.single(
            "address_string", "max_length", f"at most {MAX_ADDRESS} characters"
        )
    component = (form.address_id or "").strip() or None
    if lat is None and address is None and component is None:
        raise ValidationFailed.single(
            "lat", "location_required", "give lat and long, address_string or address_id"
        )
    if form.media_url and form.media_url.strip():
        check_media_url(form.media_url)
    description = (form.description or "").strip() or matter.name
    return IntakeRequest(
        channel=CHANNEL.value,
        description=description,
        lon=lon,
        lat=lat,
        component_id=None if lat is not None else component,
        address=address,
        reporter_name=reporter_name(form.first_name, form.last_name),
        reporter_phone=(form.phone or "").strip() or None,
        matter_code=matter.code,
    )


def posted(case: Case, zone: tzinfo, account_id: str | None, duplicates: int) -> dict[str, Any]:
    """Return the answer to ``POST requests`` for the case it made."""
    number = case_number(case.id, case.accepted_at, zone)
    notice = f"已受理，案卷号 {number}，可凭此号查询办理进度。"
    if duplicates:
        notice += f"附近已有同类案件 {duplicates} 件，可能并案处理。"
    return {
        "service_request_id": number,
        "service_notice": notice,
        "account_id": (account_id or "").strip() or None,
    }


def check_rating(value: str | None) -> int:
    """Return a rating 1–5 from form text, or raise ValidationFailed."""
    text = (value or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= 5:
        raise ValidationFailed.single("rating", "range", "a whole number from 1 to 5")
    return int(text)


# --------------------------------------------------------------------------- service requests


def w3c(moment: datetime | None, zone: tzinfo) -> str | None:
    """Return a W3C date-time in the city's time zone, to the second (``…T10:00:00+08:00``)."""
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None


def open311_status(status: Status) -> str:
    """Return ``open`` or ``closed``: rejected, voided, closed and evaluated cases are closed."""
    return "closed" if status in CLOSED else "open"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """A case with what its public record needs besides the case itself.

    ``history`` gives the latest public note, ``media_url`` the first media URL, ``agency``
    the name of the department handling it; ``survivor`` is the case a merged case lives on in.
    """

    case: Case
    history: Sequence[HistoryEntry] = ()
    media_url: str | None = None
    agency: str | None = None
    survivor: RequestFacts | None = None


def latest_note(history: Iterable[HistoryEntry]) -> str | None:
    """Return the newest comment of a step a citizen may read (what was done, why it ended)."""
    notes = [e.comment.strip() for e in history if e.command in PUBLIC_NOTES and e.comment]
    notes = [note for note in notes if note]
    return notes[-1] if notes else None


def status_notes(facts: RequestFacts) -> str:
    """Return the status label (Chinese), with the latest public note after it."""
    label = STATUS_LABELS_ZH[facts.case.status]
    note = latest_note(facts.history)
    return f"{label}：{note}" if note else label


def _expected(case: Case) -> datetime | None:
    # Like the case view: the deadline while the department's clock runs.
    return case.due_at if deadlines.clock_running(case) else None


def service_request(facts: RequestFacts, zone: tzinfo) -> dict[str, Any]:
    """Return the public record of a case: no reporter name, phone or staff names.

    A merged case (并案) shows the state, notes, agency and deadline of the case it was merged
    into, so its reporter follows the work that is being done.
    """
    case = facts.case
    live = facts.survivor or facts
    matter = matter_classes().get(case.matter_code or "")
    notes = status_notes(live)
    if facts.survivor is not None:
        into = case_number(live.case.id, live.case.accepted_at, zone)
        notes = f"已并案至 {into}。{notes}"
    return {
        "service_request_id": case_number(case.id, case.accepted_at, zone),
        "status": open311_status(live.case.status),
        "status_notes": notes,
        "service_name": matter.name if matter else None,
        "service_code": case.matter_code,
        "description": case.description,
        "agency_responsible": live.agency,
        "service_notice": f"处置时限 {live.case.limit_text}" if live.case.limit_text else None,
        "requested_datetime": w3c(case.accepted_at, zone),
        "updated_datetime": w3c(live.case.updated_at or live.case.accepted_at, zone),
        "expected_datetime": w3c(_expected(live.case), zone),
        "address": case.address,
        "address_id": case.component_id,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": facts.media_url,
    }


# --------------------------------------------------------------------------- querying


def parse_w3c(text: str, name: str, zone: tzinfo) -> datetime:
    """Return an aware moment from a W3C date-time (or a date); no offset means the city's."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), zone)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.single(
            name, "w3c_datetime", f"{text!r} is not a W3C date-time like 2026-11-20T00:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _listed(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """What ``GET requests`` asks for: some ids, or a filter over a window of at most 90 days."""

    ids: tuple[str, ...] = ()
    case_filter: CaseFilter = field(default_factory=CaseFilter)


def request_query(
    *,
    service_request_id: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
    now: datetime,
    zone: tzinfo,
) -> RequestQuery:
    """Return the query of ``GET requests`` or raise ValidationFailed / NotFound.

    ``service_request_id`` (comma separated) overrides every other parameter. Without dates
    the window is the last 90 days; with one date it is the 90 days after ``start_date`` or
    before ``end_date``; a window may not be longer than 90 days. Dates bound
    ``requested_datetime`` (both ends included).
    """
    no_nul(
        {
            "service_request_id": service_request_id,
            "service_code": service_code,
            "start_date": start_date,
            "end_date": end_date,
            "status": status,
        }
    )
    ids = _listed(service_request_id)
    if ids:
        if len(ids) > MAX_IDS:
            raise ValidationFailed.single(
                "service_request_id", "max_items", f"at most {MAX_IDS} ids at once"
            )
        for value in ids:
            if not (value.isascii() and value.isdigit()):
                raise ValidationFailed.single(
                    "service_request_id", "case_number", f"{value!r} is not a case number"
                )
        return RequestQuery(ids=tuple(dict.fromkeys(ids)))
    codes = tuple(dict.fromkeys(matter_of(code).code for code in _listed(service_code)))
    statuses: set[Status] = set()
    for value in _listed(status):
        if value.lower() not in ("open", "closed"):
            raise ValidationFailed.single("status", "one_of", f"{value!r} is not open or closed")
        statuses |= OPEN if value.lower() == "open" else CLOSED
    start = parse_w3c(start_date, "start_date", zone) if start_date else None
    end = parse_w3c(end_date, "end_date", zone) if end_date else None
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - WINDOW
    if end is None:
        end = start + WINDOW
    if end < start:
        raise ValidationFailed.single("end_date", "after_start", "must not be before start_date")
    if end - start > WINDOW:
        raise ValidationFailed.single(
            "end_date", "max_window", "start_date to end_date may not span more than 90 days"
        )
    return RequestQuery(
        case_filter=CaseFilter(
            matter_codes=codes,
            statuses=tuple(sorted(statuses)),
            accepted_from=start,
            accepted_to=end + timedelta(microseconds=1),
        )
    )


# --------------------------------------------------------------------------- errors


def error_status(error: CityOpsError) -> int:
    """Return the HTTP status of an error: bad input 400, a bad or missing api_key 403."""
    if isinstance(error, ValidationFailed):
        return 400
    if isinstance(error, AuthenticationFailed):
        return 403
    return error.status


def errors(error: CityOpsError) -> list[dict[str, Any]]:
    """Return an error as the spec's list of ``{code, description}``, naming Open311 fields."""
    status = error_status(error)
    if isinstance(error, ValidationFailed):
        return [
            {
                "code": status,
                "description": (
                    f"{FORM_FIELDS.get(i.field, i.field)}: {i.message} (rule: {i.rule})"
                ),
            }
            for i in error.issues
        ]
    return [{"code": status, "description": error.message}]
