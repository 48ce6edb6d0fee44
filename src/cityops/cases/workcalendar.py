"""China's working-day calendar for deadlines: official holidays and 调休, plus a city's overrides.

Public holidays and adjusted working days come from the maintained ``chinesecalendar`` package
(the State Council's yearly notices, 2004 to its latest year). A city adds or corrects days in an
override file (JSON), e.g. for a year the package does not know yet or for local days off::

    {"holidays": ["2027-01-01"], "workdays": ["2027-02-06"], "years": [2027]}

Years known to neither are counted with plain weekdays, and :func:`coverage` says which those are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from cityops.kernel.errors import ValidationFailed
from cityops.kernel.worktime import WorkingCalendar, parse_hours


@dataclass(frozen=True, slots=True)
class CalendarOverrides:
    """Days a city adds to, or corrects in, the national calendar."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()


def read_overrides(path: Path) -> CalendarOverrides:
    """Read an override file; errors name the key and the rule."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationFailed.single("calendar_file", "readable_json", str(error)) from None
    if not isinstance(data, dict):
        raise ValidationFailed.single("calendar_file", "object", "the file must hold an object")
    unknown = set(data) - {"holidays", "workdays", "years", "note"}
    if unknown:
        raise ValidationFailed.single("calendar_file", "keys", f"unknown keys {sorted(unknown)}")
    holidays = _dates(data.get("holidays", []), "holidays")
    workdays = _dates(data.get("workdays", []), "workdays")
    both = holidays & workdays
    if both:
        raise ValidationFailed.single(
            "calendar_file", "disjoint", f"{min(both)} is both a holiday and a working day"
        )
    years = data.get("years", [])
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        raise ValidationFailed.single("years", "integers", "years must be a list of integers")
    return CalendarOverrides(holidays, workdays, frozenset(years))


def _dates(values: object, key: str) -> frozenset[date]:
    if not isinstance(values, list):
        raise ValidationFailed.single(key, "list", f"{key} must be a list of YYYY-MM-DD dates")
    found = set()
    for index, value in enumerate(values):
        try:
            found.add(date.fromisoformat(str(value)))
        except ValueError:
            raise ValidationFailed.single(
                f"{key}[{index}]", "date_format", f"{value!r} is not YYYY-MM-DD"
            ) from None
    return frozenset(found)


def national_days() -> tuple[frozenset[date], frozenset[date], frozenset[int]]:
    """Return (holidays, adjusted working days, years covered) from chinesecalendar."""
    import chinese_calendar

    holidays = frozenset(chinese_calendar.holidays)
    workdays = frozenset(chinese_calendar.workdays)
    years = frozenset(day.year for day in holidays)
    return holidays, workdays, years


def build_calendar(
    zone: str,
    working_hours: str,
    overrides: CalendarOverrides | None = None,
) -> WorkingCalendar:
    """Combine the national calendar, a city's overrides and its working hours."""
    holidays, workdays, years = national_days()
    if overrides is not None:
        # A city's word wins over the national list for the same day.
        holidays = (holidays - overrides.workdays) | overrides.holidays
        workdays = (workdays - overrides.holidays) | overrides.workdays
        years = years | overrides.years
    return WorkingCalendar(
        zone=ZoneInfo(zone),
        periods=parse_hours(working_hours),
        holidays=holidays,
        workdays=workdays,
        known_years=years,
    )


def coverage(calendar: WorkingCalendar, years: Iterable[int]) -> list[int]:
    """Return the years among ``years`` for which only plain weekdays are known."""
    return sorted(year for year in set(years) if year not in calendar.known_years)
