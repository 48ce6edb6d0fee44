"""Working-time arithmetic: limits, periods, holidays, 调休 and holds."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.kernel.errors import ValidationFailed
from cityops.kernel.worktime import WorkingCalendar, WorkingLimit, parse_hours, parse_limit

SHANGHAI = ZoneInfo("Asia/Shanghai")
# National Day 2026 as published: Oct 1–7 off, Saturday Oct 10 worked (调休).
GOLDEN_WEEK = frozenset(date(2026, 10, d) for d in range(1, 8))
CALENDAR = WorkingCalendar(
    zone=SHANGHAI, holidays=GOLDEN_WEEK, workdays=frozenset({date(2026, 10, 10)})
)


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 工作日", WorkingLimit(3, "days")),
        ("3个工作日", WorkingLimit(3, "days")),
        ("5 工作时", WorkingLimit(5, "hours")),
        ("2 workdays", WorkingLimit(2, "days")),
        ("1 working day", WorkingLimit(1, "days")),
        ("4 working hours", WorkingLimit(4, "hours")),
        ("0.5 工作日", WorkingLimit(0.5, "days")),
        ("4h", WorkingLimit(4, "hours")),
    ],
)
def test_limits_are_parsed_in_chinese_and_english(text, expected):
    assert parse_limit(text) == expected


@pytest.mark.parametrize(
    "text", ["", "three days", "3 天", "-1 工作日", "0 工作时", "99999 工作日"]
)
def test_bad_limits_name_the_rule(text):
    with pytest.raises(ValidationFailed) as caught:
        parse_limit(text, field="--limit")
    assert caught.value.issues[0].field == "--limit"
    assert caught.value.issues[0].rule in {"limit_format", "limit_range"}


@given(st.text(max_size=30))
def test_parse_limit_only_ever_raises_validation_failed(text):
    with contextlib.suppress(ValidationFailed):
        parse_limit(text)


def test_working_hours_are_parsed_sorted_and_checked():
    assert parse_hours("13:30-17:30, 09:00-12:00") == (
        (time(9), time(12)),
        (time(13, 30), time(17, 30)),
    )
    for bad, rule in (
        ("9-12", "hours_format"),
        ("12:00-09:00", "hours_format"),
        ("09:00-13:00,12:00-17:00", "hours_overlap"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            parse_hours(bad)
        assert caught.value.issues[0].rule == rule


def test_the_issue_example_three_working_days_over_national_day():
    # Wed 16:00 + 21 h of working time: 1.5 h on Wed, Oct 8 and 9, then Saturday Oct 10 (调休).
    assert CALENDAR.add(at(30, 16, month=9), parse_limit("3 工作日")) == at(10, 16)


def test_working_hours_skip_lunch_nights_and_holidays():
    assert CALENDAR.add(at(30, 16, month=9), parse_limit("5 工作时")) == at(8, 14)
    assert CALENDAR.add(at(12, 11), parse_limit("2 工作时")) == at(12, 14, 30)


def test_a_start_outside_working_hours_counts_from_the_next_period():
    assert CALENDAR.add(at(12, 7), parse_limit("1 工作时")) == at(12, 10)
    assert CALENDAR.add(at(11, 10), parse_limit("1 工作时")) == at(12, 10)  # Sunday
    assert CALENDAR.add(at(12, 12, 30), parse_limit("1 工作时")) == at(12, 14, 30)


def test_weekday_holidays_are_off_and_adjusted_weekends_are_on():
    assert not CALENDAR.is_workday(date(2026, 10, 5))
    assert CALENDAR.is_workday(date(2026, 10, 10))
    assert not CALENDAR.is_workday(date(2026, 10, 11))
    assert CALENDAR.day_length == timedelta(hours=7)


def test_time_on_hold_is_not_counted():
    hold = [(at(8, 9), at(9, 9))]  # one whole working day on hold
    assert CALENDAR.add(at(30, 16, month=9), parse_limit("2 工作日"), hold) == at(10, 16)
    assert CALENDAR.elapsed(at(8, 9), at(9, 17, 30), hold) == timedelta(hours=7)


def test_an_open_hold_has_no_deadline():
    with pytest.raises(ValueError, match="open hold"):
        CALENDAR.add(at(12, 9), parse_limit("1 工作时"), [(at(12, 9), None)])


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.add(datetime(2026, 10, 12, 9), parse_limit("1 工作时"))  # noqa: DTZ001


def test_other_time_zones_are_converted_and_kept():
    start = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    due = CALENDAR.add(start, parse_limit("1 工作时"))
    assert due == at(12, 10)
    assert due.tzinfo is UTC


moments = st.datetimes(
    min_value=datetime(2026, 9, 1),  # noqa: DTZ001 — hypothesis wants naive bounds
    max_value=datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.just(SHANGHAI),
)


@settings(max_examples=150, deadline=None)
@given(start=moments, hours=st.integers(min_value=1, max_value=200))
def test_elapsed_working_time_up_to_the_deadline_equals_the_limit(start, hours):
    due = CALENDAR.add(start, timedelta(hours=hours))
    assert due > start
    assert CALENDAR.elapsed(start, due) == timedelta(hours=hours)


@settings(max_examples=100, deadline=None)
@given(
    start=moments,
    hours=st.integers(min_value=1, max_value=100),
    hold_offset=st.integers(min_value=0, max_value=72),
    hold_hours=st.integers(1, 72),
)
def test_holds_only_ever_push_the_deadline_later(start, hours, hold_offset, hold_hours):
    hold_start = start + timedelta(hours=hold_offset)
    holds = [(hold_start, hold_start + timedelta(hours=hold_hours))]
    plain = CALENDAR.add(start, timedelta(hours=hours))
    held = CALENDAR.add(start, timedelta(hours=hours), holds)
    assert held >= plain
    assert CALENDAR.elapsed(start, held, holds) == timedelta(hours=hours)
