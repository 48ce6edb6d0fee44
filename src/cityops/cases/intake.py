"""Intake (受理): register an appeal, report or detection as a case, with suggestions.

At intake the service places the case (point, component id or address via the gazetteer),
suggests its matter class (keyword rules first, then the text classifier, top 3 with their
confidence), looks for open duplicates of the same class nearby, and proposes the responsible
department and grid worker. The same channel + external reference never makes two cases. With
auto-dispatch on, a case whose class and route are both certain is filed and dispatched at once.
A preview (:meth:`IntakeService.preview`) runs the same steps as the clerk types, writing nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cityops.auth.audit import make_entry
from cityops.auth.model import Grant, Principal
from cityops.auth.scopes import ResourceScope
from cityops.cases.advance import Step, advance
from cityops.cases.classifier import Suggestion
from cityops.cases.events import CaseAccepted
from cityops.cases.intake_preview import IntakePreview
from cityops.cases.model import (
    AppealType,
    Case,
    Channel,
    DuplicateExternalRef,
    HistoryEntry,
    Reporter,
    Urgency,
    case_number,
    check_text,
    parse_enum,
)
from cityops.cases.policy import CasePolicy
from cityops.cases.ports import CasesUnitOfWork
from cityops.cases.routing_book import RoutingBook
from cityops.cases.rules import MatterRule, most_specific
from cityops.cases.workflow import Command, Status
from cityops.catalog.reference import check_matter_class
from cityops.geo.locate import LocationService, check_point
from cityops.geo.model import Location
from cityops.geo.places import GazetteerService
from cityops.kernel.clock import Clock
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.kernel.worktime import WorkingCalendar

MAX_DESCRIPTION = 2000
_METRES_PER_DEGREE = 111_320.0
AUTO_DISPATCHER = "system:auto-dispatch"


@dataclass(frozen=True, slots=True)
class IntakeRequest:
    """What arrives: a text, a place, a channel, and who reported it."""

    channel: str
    description: str
    appeal_type: str | None = None
    urgency: str = "normal"
    lon: float | None = None
    lat: float | None = None
    component_id: str | None = None
    address: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    external_ref: str | None = None
    matter_code: str | None = None  # the clerk's choice wins over suggestions


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An open case of the same class nearby."""

    case_id: int
    number: str
    distance_m: float
    status: str

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "case_id": self.case_id,
            "number": self.number,
            "distance_m": round(self.distance_m, 1),
            "status": self.status,
        }


@dataclass(slots=True)
class IntakeResult:
    """The case, whether it is new, and what the service found on the way."""

    case: Case
    created: bool
    duplicates: list[Duplicate] = field(default_factory=list)
    auto_dispatched: bool = False
    location_note: dict[str, Any] | None = None


Suggester = Callable[[str], list[Suggestion]]


@dataclass(frozen=True, slots=True)
class _Checked:
    """A request's fields once checked (accept and preview refuse the same things)."""

    channel: Channel
    description: str | None
    urgency: Urgency
    appeal: AppealType | None
    external_ref: str | None
    address: str | None
    reporter_name: str | None
    reporter_phone: str | None


def _check(request: IntakeRequest, *, described: bool) -> _Checked:
    """Check a request's fields; ``described``: the description is required."""
    channel = parse_enum(Channel, request.channel, "channel")
    description = check_text(request.description, "description", MAX_DESCRIPTION)
    if described and not description:
        raise ValidationFailed.single("description", "required", "describe the problem")
    urgency = parse_enum(Urgency, request.urgency, "urgency")
    appeal = (
        parse_enum(AppealType, request.appeal_type, "appeal_type") if request.appeal_type else None
    )
    checked = _Checked(
        channel,
        description,
        urgency,
        appeal,
        external_ref=check_text(request.external_ref, "external_ref", 64),
        address=check_text(request.address, "address", 200),
        reporter_name=check_text(request.reporter_name, "reporter_name", 50),
        reporter_phone=check_text(request.reporter_phone, "reporter_phone", 32),
    )
    if request.matter_code:
        check_matter_class(request.matter_code, field="matter_code")
    return checked


class IntakeService:
    """Accept cases from every channel."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[CasesUnitOfWork],
        clock: Clock,
        calendar: WorkingCalendar,
        policy: CasePolicy,
        locations: LocationService,
        gazetteer: GazetteerService,
        suggest: Suggester,
        routing: RoutingBook,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._calendar = calendar
        self._policy = policy
        self._locations = locations
        self._gazetteer = gazetteer
        self._suggest = suggest
        self._routing = routing
        self._geo = Principal.system("cases-intake")

    def accept(self, principal: Principal, request: IntakeRequest) -> IntakeResult:
        """Register a case (or return the one with the same channel + reference)."""
        principal.require_somewhere("cases:create")
        checked = _check(request, described=True)
        channel, external_ref = checked.channel, checked.external_ref
        if external_ref:
            with self._unit_of_work(read_only=True) as uow:
                existing = uow.cases.by_external_ref(channel, external_ref)
            if existing is not None:
                principal.authorize("cases:create", ResourceScope(existing.division_code))
                return IntakeResult(existing, created=False)
        case, _, note = self._draft(principal, request, checked)
        grant = principal.authorize("cases:create", ResourceScope(case.division_code))
        try:
            return self._write(principal, grant, case, note)
        except DuplicateExternalRef:
            # A concurrent intake of the same reference committed first: answer with its case.
            assert external_ref is not None
            with self._unit_of_work(read_only=True) as uow:
                existing = uow.cases.by_external_ref(channel, external_ref)
            if existing is None:
                raise
            return IntakeResult(existing, created=False)

    def preview(self, principal: Principal, request: IntakeRequest) -> IntakePreview:
        """Return what intake would suggest for a request as the clerk types; write nothing.

        The checks are accept's, except that the description may still be empty (no
        suggestions then) and a repeated external reference is not looked up.
        """
        principal.require_somewhere("cases:create")
        case, location, note = self._draft(principal, request, _check(request, described=False))
        principal.authorize("cases:create", ResourceScope(case.division_code))
        with self._unit_of_work(read_only=True) as uow:
            _, certain = self._route(uow, case)
            duplicates = self._duplicates(uow, case)
            code = case.department_code
            department = uow.departments.get(code) if code else None
        return IntakePreview.of(case, location, note, certain, duplicates, department)

    def _draft(
        self, principal: Principal, request: IntakeRequest, checked: _Checked
    ) -> tuple[Case, Location | None, dict[str, Any] | None]:
        """Build the provisional case: placed and classified, not yet routed nor stored."""
        place, location, note = self._place(request)
        text = checked.description
        suggestions = [] if request.matter_code or not text else self._suggest(text)
        now = self._clock.now()
        case = Case(
            id=0,
            channel=checked.channel,
            description=text or "",
            accepted_at=now,
            accepted_by=principal.name,
            urgency=checked.urgency,
            appeal_type=checked.appeal,
            suggestions=[
                {"code": s.code, "confidence": round(s.confidence, 4), "source": s.source}
                for s in suggestions
            ],
            address=checked.address,
            reporter_name=checked.reporter_name,
            reporter_phone=checked.reporter_phone,
            external_ref=checked.external_ref,
            updated_at=now,
            **place,
        )
        if location is not None:
            _set_location(case, location)
        if request.matter_code:
            case.matter_code, case.class_source = request.matter_code, "clerk"
            case.class_confidence = 1.0
        elif suggestions:
            best = suggestions[0]
            case.matter_code, case.class_source = best.code, best.source
            case.class_confidence = best.confidence
        return case, location, note

    def _write(
        self, principal: Principal, grant: Grant, case: Case, note: dict[str, Any] | None
    ) -> IntakeResult:
        now, channel = case.accepted_at, case.channel
        # Read first, without a transaction that writes: the write is then one statement at
        # commit on PostgreSQL. (A duplicate registered in between is found by the next one.)
        with self._unit_of_work(read_only=True) as uow:
            rule, certain = self._route(uow, case)
            duplicates = self._duplicates(uow, case)
        accepted = HistoryEntry(
            case_id=case.id,
            at=now,
            actor=principal.name,
            role=grant.role,
            command="accept",
            to_status=Status.ACCEPTED,
            data={
                "channel": channel.value,
                "suggestions": case.suggestions,
                "duplicates": [d.case_id for d in duplicates],
                "department_code": case.department_code,
            },
        )
        reporter = (
            Reporter(case.id, case.id, channel, case.reporter_name, case.reporter_phone, now)
            if case.reporter_name or case.reporter_phone
            else None
        )
        auto = self._auto_dispatch(case, certain, duplicates)
        history = [accepted, *self._dispatch_at_once(case, rule)] if auto else [accepted]
        with self._unit_of_work() as uow:
            # A repeated reference was answered before; one that another intake registers
            # meanwhile makes the write fail with DuplicateExternalRef (see accept).
            case.id = uow.cases.add_new(case, history, reporter)
            number = case_number(case.id, now, self._policy.zone)
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="cases.accept",
                    object_type="case",
                    object_id=number,
                    after={
                        "channel": channel.value,
                        "matter_code": case.matter_code,
                        "grid_code": case.grid_code,
                        "department_code": case.department_code,
                        "auto_dispatched": auto,
                    },
                )
            )
            uow.record(
                CaseAccepted(
                    case_id=case.id,
                    number=number,
                    channel=channel.value,
                    matter_code=case.matter_code,
                    grid_code=case.grid_code,
                    department_code=case.department_code,
                    auto_dispatched=auto,
                )
            )
            uow.commit()
        return IntakeResult(case, True, duplicates, auto, note)

    def _dispatch_at_once(self, case: Case, rule: MatterRule | None) -> list[HistoryEntry]:
        """File and dispatch the new case (auto-dispatch); return the two history entries."""
        history = []
        for command in (Command.FILE, Command.DISPATCH):
            step = Step(
                command,
                actor=AUTO_DISPATCHER,
                role="system",
                data={"auto": True, "confidence": case.class_confidence},
            )
            history.append(
                advance(
                    case,
                    step,
                    now=case.accepted_at,
                    calendar=self._calendar,
                    policy=self._policy,
                    rule=rule,
                )
            )
        return history

    def _place(
        self, request: IntakeRequest
    ) -> tuple[dict[str, Any], Location | None, dict[str, Any] | None]:
        given = [
            name
            for name, value in (
                ("point", request.lon is not None or request.lat is not None),
                ("component_id", request.component_id),
                ("address", request.address),
            )
            if value
        ]
        if request.lon is not None or request.lat is not None:
            if request.lon is None or request.lat is None:
                raise ValidationFailed.single("lat", "pair", "give both lon and lat")
            check_point(request.lon, request.lat)
            location = self._locations.locate(self._geo, request.lon, request.lat)
            place = {"lon": request.lon, "lat": request.lat, "location_source": "point"}
            return place, location, None
        if request.component_id:
            with self._unit_of_work(read_only=True) as uow:
                found = uow.components.get_many([request.component_id.strip()])
            component = found.get(request.component_id.strip())
            if component is None:
                raise ValidationFailed.single(
                    "component_id", "component_exists", f"no component {request.component_id}"
                )
            location = self._locations.locate(self._geo, component.lon, component.lat)
            place = {
                "lon": component.lon,
                "lat": component.lat,
                "component_id": component.id,
                "location_source": "component",
            }
            return place, location, {"component_class": component.class_code, "given": given}
        if request.address and request.address.strip():
            resolution, resolved = self._gazetteer.resolve(self._geo, request.address.strip())
            if not resolution.found:
                return {}, None, resolution.as_json()
            place = {"lon": resolution.lon, "lat": resolution.lat, "location_source": "address"}
            return place, resolved, resolution.as_json()
        return {}, None, None

    def _route(self, uow: CasesUnitOfWork, case: Case) -> tuple[MatterRule | None, bool]:
        """Propose the department and grid worker; say whether the route is certain."""
        rule = None
        if case.matter_code:
            codes = [c for c in (case.grid_code, case.community_code, case.street_code) if c]
            codes.append(case.district_code or "")
            rule = most_specific(self._routing.rules_for(uow, case.matter_code), codes)
        unit = None
        if case.grid_code:
            units, workers = self._routing.grid(uow, case.grid_code)
            if case.matter_code:
                unit = units.get(("matter", case.matter_code))
            if unit is None and rule and rule.department_code:
                unit = units.get(("department", rule.department_code))
            case.grid_worker = workers[0] if workers else None
        case.department_code = unit or (rule.department_code if rule else None)
        return rule, case.department_code is not None and case.grid_code is not None

    def _duplicates(self, uow: CasesUnitOfWork, case: Case) -> list[Duplicate]:
        if case.matter_code is None or case.lon is None or case.lat is None:
            return []
        metres = self._policy.dedupe_metres
        dlat = metres / _METRES_PER_DEGREE
        dlon = dlat / max(math.cos(math.radians(case.lat)), 0.01)
        since = case.accepted_at - timedelta(hours=self._policy.dedupe_hours)
        box = (case.lon - dlon, case.lat - dlat, case.lon + dlon, case.lat + dlat)
        found = []
        for other in uow.cases.nearby_open(case.matter_code, box, since, None, 20):
            if other.lon is None or other.lat is None:
                continue
            distance = _distance_m(case.lon, case.lat, other.lon, other.lat)
            if distance <= metres:
                number = case_number(other.id, other.accepted_at, self._policy.zone)
                found.append(Duplicate(other.id, number, distance, other.status.value))
        return sorted(found, key=lambda d: d.distance_m)

    def _auto_dispatch(self, case: Case, certain: bool, duplicates: list[Duplicate]) -> bool:
        if not self._policy.auto_dispatch or not certain or duplicates:
            return False
        if case.class_source in ("clerk", "rule"):
            return True
        confidence = case.class_confidence or 0.0
        return confidence >= self._policy.auto_dispatch_confidence


def _set_location(case: Case, location: Location) -> None:
    case.grid_code = location.grid_id
    case.community_code = location.community.code if location.community else None
    case.street_code = location.street.code if location.street else None
    case.district_code = location.district.code if location.district else None


def _distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance: exact enough for tens of metres."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return math.hypot(x, y) * 6_371_000.0
