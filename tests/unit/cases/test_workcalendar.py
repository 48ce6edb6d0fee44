"""The national calendar from chinesecalendar, a city's overrides, and coverage."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from cityops.cases.workcalendar import build_calendar, coverage, read_overrides
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.worktime import parse_limit

HOURS = "09:00-12:00,13:30-17:30"


def test_national_holidays_and_adjusted_workdays_of_2026():
    calendar = build_calendar("Asia/Shanghai", HOURS)
    assert not calendar.is_workday(date(2026, 10, 1))  # 国庆节
    assert not calendar.is_workday(date(2026, 10, 7))
    assert calendar.is_workday(date(2026, 10, 10))  # Saturday worked in lieu (调休)
    assert calendar.is_workday(date(2026, 9, 28))
    assert not calendar.is_workday(date(2026, 10, 11))
    assert coverage(calendar, [2025, 2026]) == []


def test_overrides_win_and_extend_the_years(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text(
        json.dumps(
            {
                "holidays": ["2027-01-01", "2026-10-09"],
                "workdays": ["2026-10-05"],
                "years": [2027],
                "note": "city decisions",
            }
        ),
        encoding="utf-8",
    )
    calendar = build_calendar("Asia/Shanghai", HOURS, read_overrides(path))
    assert not calendar.is_workday(date(2027, 1, 1))
    assert not calendar.is_workday(date(2026, 10, 9))
    assert calendar.is_workday(date(2026, 10, 5))
    assert coverage(calendar, [2027, 2028]) == [2028]


def test_deadlines_use_the_national_calendar():
    calendar = build_calendar("Asia/Shanghai", HOURS)
    zone = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 9, 30, 16, 0, tzinfo=zone)
    assert calendar.add(start, parse_limit("3 工作日")) == datetime(
        2026, 10, 10, 16, 0, tzinfo=zone
    )


@pytest.mark.parametrize(
    ("content", "field", "rule"),
    [
        ("not json", "calendar_file", "readable_json"),
        ("[]", "calendar_file", "object"),
        ('{"holiday": []}', "calendar_file", "keys"),
        ('{"holidays": "2027-01-01"}', "holidays", "list"),
        ('{"holidays": ["2027-13-01"]}', "holidays[0]", "date_format"),
        ('{"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}', "calendar_file", "disjoint"),
        ('{"years": ["2027"]}', "years", "integers"),
    ],
)
def test_bad_override_files_name_the_rule(tmp_path, content, field, rule):
    path = tmp_path / "calendar.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        read_overrides(path)
    assert (caught.value.issues[0].field, caught.value.issues[0].rule) == (field, rule)
