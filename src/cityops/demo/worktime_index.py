"""A working calendar indexed over a span of days: the same answers as the plain one, faster.

:class:`~cityops.kernel.worktime.WorkingCalendar` walks the working periods day by day on every
``add`` and ``elapsed``; that is right for one request but slow for the demo loader, which asks
it a few hundred thousand times. :class:`IndexedCalendar` lays the working periods of a span of
days out once, with the working time before each, and answers by bisection. Outside the span it
asks the plain calendar. The demo tests check that both give identical results.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta

from cityops.kernel.worktime import WorkingCalendar, WorkingLimit

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
Holds = Sequence[tuple[datetime, datetime | None]]


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


@dataclass(frozen=True)
class IndexedCalendar(WorkingCalendar):
    """A WorkingCalendar whose working periods from ``first`` to ``last`` are precomputed."""

    first: date = date(2000, 1, 1)
    last: date = date(2000, 1, 1)
    _starts: list[int] = field(default_factory=list, init=False, repr=False, compare=False)
    _ends: list[int] = field(default_factory=list, init=False, repr=False, compare=False)
    _before: list[int] = field(default_factory=list, init=False, repr=False, compare=False)
    _done: list[int] = field(default_factory=list, init=False, repr=False, compare=False)
    _low: int = field(default=0, init=False, repr=False, compare=False)
    _high: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total, day = 0, self.first
        while day <= self.last:
            if self.is_workday(day):
                for begin, end in self.periods:
                    start = _us(datetime.combine(day, begin, self.zone))
                    finish = _us(datetime.combine(day, end, self.zone))
                    self._starts.append(start)
                    self._ends.append(finish)
                    self._before.append(total)
                    total += finish - start
                    self._done.append(total)
            day += timedelta(days=1)
        low = _us(datetime.combine(self.first, datetime.min.time(), self.zone))
        high = _us(datetime.combine(self.last + timedelta(days=1), datetime.min.time(), self.zone))
        object.__setattr__(self, "_low", low)
        object.__setattr__(self, "_high", high)

    def _covers(self, moment: int) -> bool:
        return self._low <= moment <= self._high

    def _worked(self, moment: int) -> int:
        """Return the working microseconds from the start of the span to ``moment``."""
        index = bisect.bisect_right(self._starts, moment) - 1
        if index < 0:
            return 0
        return self._before[index] + min(
            moment - self._starts[index], self._ends[index] - self._starts[index]
        )

    def _at(self, worked: int) -> int | None:
        """Return the earliest moment ``worked`` working microseconds are done (None: beyond)."""
        index = bisect.bisect_left(self._done, worked)
        if index >= len(self._done):
            return None
        return self._starts[index] + (worked - self._before[index])

    def add(
        self,
        start: datetime,
        limit: WorkingLimit | timedelta,
        holds: Holds = (),
    ) -> datetime:
        """Return the moment ``limit`` of working time after ``start`` (holds not counted)."""
        if start.tzinfo is None:
            raise ValueError("working time needs timezone-aware datetimes")
        remaining = self.duration(limit) // _US
        cursor = _us(start)
        if remaining <= 0 or not self._covers(cursor):
            return super().add(start, limit, holds)
        for hold_start, hold_end in _merged(holds):
            if hold_end is not None and hold_end <= cursor:
                continue
            if hold_start > cursor:
                available = self._worked(hold_start) - self._worked(cursor)
                if available >= remaining:
                    break
                remaining -= available
            if hold_end is None:
                return super().add(start, limit, holds)  # raises: no deadline in an open hold
            cursor = max(cursor, hold_end)
        found = self._at(self._worked(cursor) + remaining) if self._covers(cursor) else None
        if found is None:
            return super().add(start, limit, holds)
        return (_EPOCH + found * _US).astimezone(start.tzinfo)

    def elapsed(self, start: datetime, end: datetime, holds: Holds = ()) -> timedelta:
        """Return the working time between ``start`` and ``end``, holds excluded."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("working time needs timezone-aware datetimes")
        lo, hi = _us(start), _us(end)
        if hi <= lo:
            return timedelta()
        if not (self._covers(lo) and self._covers(hi)):
            return super().elapsed(start, end, holds)
        total = self._worked(hi) - self._worked(lo)
        for hold_start, hold_end in _merged(holds):
            cut_lo = max(hold_start, lo)
            cut_hi = hi if hold_end is None else min(hold_end, hi)
            if cut_hi > cut_lo:
                total -= self._worked(cut_hi) - self._worked(cut_lo)
        return total * _US


def _merged(holds: Holds) -> list[tuple[int, int | None]]:
    """Return the holds as a sorted union of [start, end) in microseconds (None: open)."""
    spans = sorted((_us(s), None if e is None else _us(e)) for s, e in holds)
    merged: list[tuple[int, int | None]] = []
    for start, end in spans:
        if end is not None and end <= start:
            continue
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break
            if start <= last_end:
                merged[-1] = (last_start, None if end is None else max(last_end, end))
                continue
        merged.append((start, end))
    return merged


def indexed(calendar: WorkingCalendar, first: date, last: date) -> IndexedCalendar:
    """Return ``calendar`` indexed from ``first`` to ``last`` (local dates)."""
    values = {f.name: getattr(calendar, f.name) for f in fields(WorkingCalendar)}
    return IndexedCalendar(**values, first=first, last=last)
