"""Random walks through the loop with the clock running: the deadline bookkeeping stays sound."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.cases.advance import Step, advance
from cityops.cases.deadlines import clock_running, current_light, elapsed
from cityops.cases.model import Case, Channel
from cityops.cases.policy import CasePolicy
from cityops.cases.rules import MatterRule
from cityops.cases.workcalendar import build_calendar
from cityops.cases.workflow import FINAL, WITH_DEPARTMENT, Command, Status, allowed
from cityops.kernel.worktime import parse_limit

ZONE = ZoneInfo("Asia/Shanghai")
CALENDAR = build_calendar("Asia/Shanghai", "09:00-12:00,13:30-17:30")
POLICY = CasePolicy(zone=ZONE)
RULE = MatterRule("01001", limit_normal="1 工作日", limit_urgent="2 工作时")
START = datetime(2026, 9, 28, 9, 0, tzinfo=ZONE)  # a week that runs into National Day


def _step(command: Command) -> Step:
    return Step(
        command,
        actor="tester",
        comment="因为",
        satisfaction=4 if command is Command.EVALUATE else None,
        department_code="SZ" if command is Command.DISPATCH else None,
        extension=parse_limit("3 工作时")
        if command in (Command.REQUEST_EXTENSION, Command.APPROVE_EXTENSION)
        else None,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 48 * 60)),
        min_size=1,
        max_size=25,
    )
)
def test_deadline_bookkeeping_survives_any_walk(moves):
    case = Case(
        id=1,
        channel=Channel.PATROLLER,
        description="井盖",
        accepted_at=START,
        accepted_by="p",
        matter_code="01001",
    )
    now = START
    for pick, minutes in moves:
        now += timedelta(minutes=minutes)
        choices = allowed(case.state)
        if not choices:
            assert case.status in FINAL
            break
        command = choices[pick % len(choices)]
        entry = advance(case, _step(command), now=now, calendar=CALENDAR, policy=POLICY, rule=RULE)
        assert entry.to_status is case.status
        # At most one pause is open, pauses are in order and never end before they start.
        open_pauses = [p for p in case.pauses if p.end is None]
        assert len(open_pauses) <= 1
        for earlier, later in zip(case.pauses, case.pauses[1:], strict=False):
            assert earlier.end is not None
            assert earlier.start <= earlier.end <= later.start
        if case.clock_started_at is not None:
            assert case.due_at is not None
            assert case.yellow_at is not None
            assert case.clock_started_at <= case.yellow_at <= case.due_at
            used = elapsed(case, now, CALENDAR)
            assert used is not None
            assert used >= timedelta()
            # The clock runs exactly when the department has the case and nothing is paused.
            if clock_running(case):
                assert case.status in WITH_DEPARTMENT
                assert not open_pauses
            light = current_light(case, now, CALENDAR, POLICY.deadlines)
            assert light is not None
        for name in ("seconds_to_dispatch", "seconds_to_handle", "seconds_to_close"):
            value = getattr(case, name)
            assert value is None or value >= 0
        if case.status is Status.CLOSED:
            assert case.closed_on_time is not None
            assert case.closed_at == now
