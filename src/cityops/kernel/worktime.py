"""Working time (工作日 / 工作时): deadlines and elapsed time that skip nights, weekends, holidays.

A :class:`WorkingCalendar` knows which dates are working days (weekdays, minus public holidays,
plus the weekend days made working days by 调休) and the working periods of a day (e.g.
09:00–12:00 and 13:30–17:30, in the city's time zone). Limits are counted in working time only:

* ``N 工作时`` / ``N working hours``: N hours inside working periods;
* ``N 工作日`` / ``N workdays``: N times the length of a working day, so a case accepted at
  16:00 with "3 工作日" is due at 16:00 three working days later.

Time on hold (挂账/缓办) is given as intervals and is not counted. Everything here is pure and
standard-library only; where the holidays come from is the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from cityops.kernel.errors import ValidationFailed

_MAX_DAYS = 3660  # a deadline more than ten years out is a mistake, not a plan


@dataclass(frozen=True, slots=True)
class WorkingLimit:
    """A time limit in working hours or working days."""

    amount: float
    unit: str  # "hours" or "days"

    def __str__(self) -> str:
        number = f"{self.amount:g}"
        return f"{number} 工作时" if self.unit == "hours" else f"{number} 工作日"


_LIMIT = re.compile(
    r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>工作日|个工作日|工作时|个工作时|工作小时|"
    r"workdays?|working\s+days?|working\s+hours?|work\s*hours?|[dh])\s*$",
    re.IGNORECASE,
)


def parse_limit(text: str, *, field: str = "limit") -> WorkingLimit:
    """Parse "3 工作日", "5 工作时", "2 workdays", "4 working hours" (or "3d", "4h")."""
    match = _LIMIT.match(text)
    if not match:
        raise ValidationFailed.single(
            field,
            "limit_format",
            f"{text!r} is not a limit; write e.g. '3 工作日', '5 工作时', '2 workdays', "
            "'4 working hours'",
        )
    amount = float(match.group("amount"))
    unit_text = match.group("unit").lower()
    unit = "days" if ("日" in unit_text or "day" in unit_text or unit_text == "d") else "hours"
    if amount <= 0 or (unit == "days" and amount > _MAX_DAYS):
        raise ValidationFailed.single(field, "limit_range", "must be positive and sensible")
    return WorkingLimit(amount, unit)


def parse_hours(text: str, *, field: str = "working_hours") -> tuple[tuple[time, time], ...]:
    """Parse "09:00-12:00,13:30-17:30" into ordered, non-overlapping periods."""
    periods: list[tuple[time, time]] = []
    for part in text.split(","):
        start_text, sep, end_text = part.strip().partition("-")
        try:
            start, end = (
                time.fromisoformat(start_text.strip()),
                time.fromisoformat(end_text.strip()),
            )
        except ValueError:
            start = end = time(0)
            sep = ""
        if not sep or start >= end:
            raise ValidationFailed.single(
                field, "hours_format", f"{part.strip()!r} is not HH:MM-HH:MM with start < end"
            )
        periods.append((start, end))
    periods.sort()
    for (_, first_end), (second_start, _) in zip(periods, periods[1:], strict=False):
        if second_start < first_end:
            raise ValidationFailed.single(field, "hours_overlap", "working periods overlap")
    return tuple(periods)


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days and which hours of them count, in one time zone."""

    zone: tzinfo
    periods: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13, 30), time(17, 30)))
    holidays: frozenset[date] = frozenset()  # weekdays that are days off (法定节假日)
    workdays: frozenset[date] = frozenset()  # weekend days that are working days (调休)
    known_years: frozenset[int] = field(default_factory=frozenset)

    @property
    def day_length(self) -> timedelta:
        """The working time in one working day."""
        return sum(
            (
                datetime.combine(date.min, end) - datetime.combine(date.min, start)
                for start, end in self.periods
            ),
            timedelta(),
        )

    def is_workday(self, day: date) -> bool:
        """Tell whether ``day`` is a working day."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def _working_intervals(self, start: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Yield the working intervals from ``start``'s day on, in order (local time)."""
        day = start.astimezone(self.zone).date()
        for _ in range(_MAX_DAYS * 2):
            if self.is_workday(day):
                for begin, end in self.periods:
                    yield (
                        datetime.combine(day, begin, self.zone),
                        datetime.combine(day, end, self.zone),
                    )
            day += timedelta(days=1)

    def add(
        self,
        start: datetime,
        limit: WorkingLimit | timedelta,
        holds: Sequence[tuple[datetime, datetime | None]] = (),
    ) -> datetime:
        """Return the moment when ``limit`` of working time after ``start`` is used up.

        Working time inside ``holds`` (挂账/缓办; an open hold has no end) is not counted; a
        deadline during an open hold does not exist, so an open hold raises ValueError.
        """
        _aware(start)
        remaining = self._as_duration(limit)
        if remaining <= timedelta():
            raise ValueError("the limit must be positive")
        cursor = start
        for begin, end in self._working_intervals(start):
            if end <= cursor:
                continue
            for piece_start, piece_end in _minus_holds(max(begin, cursor), end, holds):
                span = piece_end - piece_start
                if span >= remaining:
                    return (piece_start + remaining).astimezone(start.tzinfo)
                remaining -= span
        raise ValueError("the deadline is more than ten years away or inside an open hold")

    def elapsed(
        self,
        start: datetime,
        end: datetime,
        holds: Sequence[tuple[datetime, datetime | None]] = (),
    ) -> timedelta:
        """Return the working time between ``start`` and ``end``, holds excluded."""
        _aware(start)
        _aware(end)
        if end <= start:
            return timedelta()
        total = timedelta()
        for begin, finish in self._working_intervals(start):
            if begin >= end:
                break
            lo, hi = max(begin, start), min(finish, end)
            if hi <= lo:
                continue
            for piece_start, piece_end in _minus_holds(lo, hi, holds):
                total += piece_end - piece_start
        return total

    def duration(self, limit: WorkingLimit | timedelta) -> timedelta:
        """Return a limit as working time (a working day is the length of the periods)."""
        return self._as_duration(limit)

    def _as_duration(self, limit: WorkingLimit | timedelta) -> timedelta:
        if isinstance(limit, timedelta):
            return limit
        if limit.unit == "hours":
            return timedelta(hours=limit.amount)
        return self.day_length * limit.amount


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("working time needs timezone-aware datetimes")


def _minus_holds(
    start: datetime, end: datetime, holds: Sequence[tuple[datetime, datetime | None]]
) -> list[tuple[datetime, datetime]]:
    """Return [start, end) with the hold intervals cut out."""
    pieces = [(start, end)]
    for hold_start, hold_end in holds:
        cut: list[tuple[datetime, datetime]] = []
        for lo, hi in pieces:
            stop = hold_end if hold_end is not None else hi + timedelta(days=1)
            if stop <= lo or hold_start >= hi:
                cut.append((lo, hi))
                continue
            if hold_start > lo:
                cut.append((lo, hold_start))
            if stop < hi:
                cut.append((stop, hi))
        pieces = cut
    return pieces
