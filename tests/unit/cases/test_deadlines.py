"""Deadlines in working time: dispatch, holds, verification pauses, rework, extensions, lights."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.cases.advance import Step, advance
from cityops.cases.deadlines import (
    DeadlinePolicy,
    EscalationStep,
    current_light,
    escalation_level,
    parse_ladder,
)
from cityops.cases.lights import Light
from cityops.cases.model import Case, Channel, Urgency
from cityops.cases.policy import CasePolicy
from cityops.cases.rules import MatterRule
from cityops.cases.workcalendar import build_calendar
from cityops.cases.workflow import Command, Status
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.worktime import parse_limit

ZONE = ZoneInfo("Asia/Shanghai")
CALENDAR = build_calendar("Asia/Shanghai", "09:00-12:00,13:30-17:30")
LADDER = (
    EscalationStep(timedelta(hours=0), "department"),
    EscalationStep(timedelta(hours=8), "street"),
)
POLICY = CasePolicy(zone=ZONE, deadlines=DeadlinePolicy(ladder=LADDER))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


def new_case(accepted: str = "2026-09-30T15:00") -> Case:
    return Case(
        id=7,
        channel=Channel.HOTLINE,
        description="井盖破损",
        accepted_at=at(accepted),
        accepted_by="intake",
        matter_code="01001",
        department_code="SZ",
    )


def step(case: Case, command: Command, when: str, rule: MatterRule | None = None, **kw) -> None:
    advance(
        case,
        Step(command, actor="someone", **kw),
        now=at(when),
        calendar=CALENDAR,
        policy=POLICY,
        rule=rule,
    )


RULE = MatterRule("01001", limit_normal="3 工作日", limit_urgent="2 工作时")


def test_dispatch_starts_the_clock_across_national_day():
    case = new_case()
    step(case, Command.FILE, "2026-09-30T15:30")
    step(case, Command.DISPATCH, "2026-09-30T16:00", RULE)
    # 1.5 h on 30 Sep, 1–7 Oct holiday, 8 and 9 Oct (7 h each), Saturday 10 Oct is a 调休 workday.
    assert case.due_at == at("2026-10-10T16:00")
    # 80 % of 21 h = 16.8 h: 1.5 + 7 + 7 = 15.5, then 1.3 h from 09:00 on 10 Oct.
    assert case.yellow_at == at("2026-10-10T10:18")
    assert case.limit_text == "3 工作日"
    assert case.seconds_to_dispatch == 3600  # 15:00 → 16:00, all inside working hours
    assert current_light(case, at("2026-10-09T17:00"), CALENDAR, POLICY.deadlines) is Light.GREEN
    assert current_light(case, at("2026-10-10T11:00"), CALENDAR, POLICY.deadlines) is Light.YELLOW
    assert current_light(case, at("2026-10-12T09:30"), CALENDAR, POLICY.deadlines) is Light.RED


def test_urgent_cases_take_the_urgent_limit_and_default_without_a_rule():
    case = new_case("2026-11-23T09:00")
    case.urgency = Urgency.URGENT
    step(case, Command.FILE, "2026-11-23T09:00")
    step(case, Command.DISPATCH, "2026-11-23T09:00", RULE)
    assert case.due_at == at("2026-11-23T11:00")
    other = new_case("2026-11-23T09:00")
    step(other, Command.FILE, "2026-11-23T09:00")
    step(other, Command.DISPATCH, "2026-11-23T09:00", None)
    # No rule: the city's default "5 工作日" (35 working hours) → Monday 30 Nov 09:00 + 0.
    assert other.limit_text == "5 工作日"
    assert other.due_at == at("2026-11-27T17:30")


def test_hold_time_is_not_counted_and_moves_the_deadline():
    case = new_case("2026-11-23T09:00")
    one_day = MatterRule("01001", limit_normal="1 工作日")
    step(case, Command.FILE, "2026-11-23T09:00")
    step(case, Command.DISPATCH, "2026-11-23T09:00", one_day)
    assert case.due_at == at("2026-11-23T17:30")
    step(case, Command.HOLD, "2026-11-23T10:00", comment="等待产权单位确认")
    assert case.status is Status.ON_HOLD
    # The light is frozen while on hold.
    assert current_light(case, at("2026-11-30T10:00"), CALENDAR, POLICY.deadlines) is Light.GREEN
    step(case, Command.RESUME, "2026-11-24T10:00")
    assert case.status is Status.DISPATCHED
    # 1 h used; 6 h left from Tuesday 10:00: 2 h before lunch, 4 h after → 17:30.
    assert case.due_at == at("2026-11-24T17:30")
    step(case, Command.REPORT, "2026-11-24T11:00")
    assert case.handled_on_time is True
    assert case.seconds_to_handle == 2 * 3600
    step(case, Command.VERIFY_PASS, "2026-11-25T09:00")
    assert case.closed_on_time is True
    assert case.status is Status.CLOSED
    # accepted Mon 09:00 → closed Wed 09:00 is 14 working hours, minus the 7 h on hold.
    assert case.seconds_to_close == 7 * 3600


def test_waiting_for_verification_does_not_count_and_rework_resumes_the_same_deadline():
    case = new_case("2026-11-23T09:00")
    one_day = MatterRule("01001", limit_normal="1 工作日")
    step(case, Command.FILE, "2026-11-23T09:00")
    step(case, Command.DISPATCH, "2026-11-23T09:00", one_day)
    step(case, Command.REPORT, "2026-11-23T11:00")  # 2 h used
    step(case, Command.VERIFY_FAIL, "2026-11-24T09:00", comment="垃圾仍未清除")
    assert case.status is Status.DISPATCHED
    assert case.state.reworks == 1
    # 5 h left from Tuesday 09:00 → 3 h before lunch, 2 h after → 15:30.
    assert case.due_at == at("2026-11-24T15:30")
    step(case, Command.REPORT, "2026-11-24T16:00")
    step(case, Command.VERIFY_PASS, "2026-11-24T17:00")
    # The department used 2 h + 5.5 h = 7.5 h of a 7 h limit: closed late.
    assert case.closed_on_time is False
    assert case.handled_on_time is True  # the first report was on time


def test_approved_extension_adds_to_the_limit():
    case = new_case("2026-11-23T09:00")
    one_day = MatterRule("01001", limit_normal="1 工作日")
    step(case, Command.FILE, "2026-11-23T09:00")
    step(case, Command.DISPATCH, "2026-11-23T09:00", one_day)
    step(
        case,
        Command.REQUEST_EXTENSION,
        "2026-11-23T10:00",
        comment="需协调",
        extension=parse_limit("2 工作时"),
    )
    assert case.state.extension_pending
    step(case, Command.APPROVE_EXTENSION, "2026-11-23T11:00", extension=parse_limit("2 工作时"))
    assert case.due_at == at("2026-11-24T11:00")
    assert case.state.extensions == 1


def test_return_then_redispatch_starts_a_fresh_clock_for_the_new_department():
    case = new_case("2026-11-23T09:00")
    one_day = MatterRule("01001", limit_normal="1 工作日")
    step(case, Command.FILE, "2026-11-23T09:00")
    step(case, Command.DISPATCH, "2026-11-23T09:00", one_day)
    step(case, Command.RETURN, "2026-11-23T10:00", comment="非本部门职责")
    assert case.department_code is None
    assert case.status is Status.FILED
    with pytest.raises(ValidationFailed) as refused:
        step(case, Command.DISPATCH, "2026-11-23T10:30", one_day)
    assert refused.value.issues[0].rule == "required_to_dispatch"
    step(case, Command.DISPATCH, "2026-11-23T11:00", one_day, department_code="HWS")
    assert case.department_code == "HWS"
    assert case.due_at == at("2026-11-24T11:00")
    assert case.dispatched_at == at("2026-11-23T09:00")  # KPIs keep the first dispatch


def test_filing_needs_a_class():
    case = new_case()
    case.matter_code = None
    with pytest.raises(ValidationFailed) as refused:
        step(case, Command.FILE, "2026-09-30T16:00")
    assert refused.value.issues[0].field == "matter_code"


def test_escalation_ladder_counts_working_hours_overdue():
    case = new_case("2026-11-23T09:00")
    one_day = MatterRule("01001", limit_normal="1 工作日")
    step(case, Command.FILE, "2026-11-23T09:00")
    step(case, Command.DISPATCH, "2026-11-23T09:00", one_day)
    assert escalation_level(case, at("2026-11-23T17:00"), CALENDAR, POLICY.deadlines) == 0
    assert escalation_level(case, at("2026-11-24T09:30"), CALENDAR, POLICY.deadlines) == 1
    # 8 working hours overdue: all of Tuesday (7 h) and one hour on Wednesday.
    assert escalation_level(case, at("2026-11-25T09:59"), CALENDAR, POLICY.deadlines) == 1
    assert escalation_level(case, at("2026-11-25T10:00"), CALENDAR, POLICY.deadlines) == 2


def test_parse_ladder():
    steps = parse_ladder("0:department, 8h:street,24:district")
    assert [s.level for s in steps] == ["department", "street", "district"]
    assert steps[1].overdue == timedelta(hours=8)
    with pytest.raises(ValidationFailed) as bad:
        parse_ladder("8:street,4:district")
    assert bad.value.issues[0].rule == "ladder_order"
    with pytest.raises(ValidationFailed) as bad:
        parse_ladder("soon:street")
    assert bad.value.issues[0].rule == "ladder_format"


def test_self_handled_case_closes_on_time_without_a_clock():
    case = new_case("2026-11-23T09:00")
    step(case, Command.SELF_HANDLE, "2026-11-23T09:10")
    assert case.status is Status.HANDLED
    step(case, Command.VERIFY_PASS, "2026-11-23T09:20")
    assert case.closed_on_time is True
    assert case.state.self_handled
    assert current_light(case, at("2026-11-23T09:30"), CALENDAR, POLICY.deadlines) is None
