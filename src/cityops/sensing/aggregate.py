"""Merge rollup buckets into coarser intervals and compute each metric's own statistics.

Rollup buckets (per datastream: count, sum, min, max, first and last reading, auxiliary sums) are
mergeable, so any interval that is a whole number of minutes, hours or days is answered from the
coarsest level that divides it, without reading raw observations. The "average" is the metric's
own: the arithmetic mean for concentrations, the energy mean 10·lg(mean of 10^(L/10)) for sound
levels, the vector mean for directions; a counter (a meter reading) reports its consumption
(last − first) as its sum. Percentiles need raw readings (:func:`percentile`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.ports import Bucket

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
FUNCTIONS = ("avg", "min", "max", "count", "sum", "first", "last")
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p98": 98.0, "p99": 99.0}
_INTERVAL = re.compile(r"([0-9]{1,6})([a-z]{1,3})", re.ASCII)
_UNITS = {"s": 1000, "m": MINUTE_MS, "min": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": 7 * DAY_MS}


def parse_interval(text: str) -> int:
    """Return an interval like ``15m``, ``1h``, ``1d`` or ``1w`` in milliseconds."""
    match = _INTERVAL.fullmatch(text.strip().lower())
    if match is None or match.group(2) not in _UNITS or int(match.group(1)) < 1:
        raise ValidationFailed.single(
            "interval", "duration", f"{text!r} is not an interval such as 1m, 15m, 1h, 1d or 1w"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def rollup_level(interval_ms: int) -> str | None:
    """Return the coarsest rollup level dividing the interval (None: only raw readings do)."""
    for level, size in (("day", DAY_MS), ("hour", HOUR_MS), ("minute", MINUTE_MS)):
        if interval_ms % size == 0:
            return level
    return None


@dataclass(slots=True)
class Merged:
    """Buckets merged into one interval."""

    start: int
    n: int = 0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    first_time: int = 0
    first_value: float = math.nan
    last_time: int = 0
    last_value: float = math.nan
    aux_a: float | None = None
    aux_b: float | None = None

    def add(self, bucket: Bucket) -> None:
        """Merge one rollup bucket in."""
        if self.n == 0 or bucket.first_time < self.first_time:
            self.first_time, self.first_value = bucket.first_time, bucket.first_value
        if self.n == 0 or bucket.last_time > self.last_time:
            self.last_time, self.last_value = bucket.last_time, bucket.last_value
        self.n += bucket.n
        self.total += bucket.total
        self.minimum = min(self.minimum, bucket.minimum)
        self.maximum = max(self.maximum, bucket.maximum)
        if bucket.aux_a is not None:
            self.aux_a = (self.aux_a or 0.0) + bucket.aux_a
        if bucket.aux_b is not None:
            self.aux_b = (self.aux_b or 0.0) + bucket.aux_b

    def value(self, function: str, kind: str) -> float | int | None:
        """Return one statistic, as the metric's aggregation ``kind`` defines it."""
        if self.n == 0:
            return None
        if function == "count":
            return self.n
        if function == "min":
            return self.minimum
        if function == "max":
            return self.maximum
        if function == "first":
            return self.first_value
        if function == "last":
            return self.last_value
        if function == "sum":
            return self.last_value - self.first_value if kind == "counter" else self.total
        return self._mean(kind)

    def _mean(self, kind: str) -> float | None:
        if kind == "energy_mean" and self.aux_a is not None and self.aux_a > 0:
            return 10 * math.log10(self.aux_a / self.n)
        if kind == "vector_mean" and self.aux_a is not None and self.aux_b is not None:
            if math.hypot(self.aux_a, self.aux_b) < 1e-9 * self.n:
                return None  # the directions cancel out: no mean direction
            bearing = math.degrees(math.atan2(self.aux_a, self.aux_b)) % 360
            return 0.0 if bearing >= 360 else bearing  # -1e-15 % 360 rounds to 360.0
        return self.total / self.n


def interval_start(millis: int, interval_ms: int, offset_ms: int) -> int:
    """Return the start of the interval holding ``millis`` (intervals cut at local midnight)."""
    return millis - (millis + offset_ms) % interval_ms


def merge(
    buckets: Iterable[Bucket], interval_ms: int, offset_ms: int, group: dict[int, str]
) -> dict[tuple[str, int], Merged]:
    """Merge buckets by (group of their datastream, interval start)."""
    merged: dict[tuple[str, int], Merged] = {}
    for bucket in buckets:
        key = group.get(bucket.datastream_id)
        if key is None:
            continue
        start = interval_start(bucket.start, interval_ms, offset_ms)
        found = merged.get((key, start))
        if found is None:
            found = merged[(key, start)] = Merged(start)
        found.add(bucket)
    return merged


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the q-th percentile by linear interpolation between closest ranks (None if empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
