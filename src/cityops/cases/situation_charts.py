"""The command center's charts: a trend, the top matter classes and the department leaderboard.

Everything is counted within one scope (a division or the whole city, and the reader's
``analytics:read`` scopes) and, but for the trend, one period of the cards:

- the trend counts the cases accepted per hour over the last 24 hours (period ``day``) or per
  local day over the last 30 days (``week``, ``month``), split by channel, beside the cases
  closed (结案) and closed on time in each hour or day;
- the top classes are the 10 matter classes with the most cases accepted in the period;
- the leaderboard gives each department its open and overdue (red) cases now, the cases it
  closed in the period and its 按期结案率 (on-time closings ÷ cases to close) over the cases
  accepted in the period, the definition of :mod:`cityops.cases.kpis`; best rate first.

This module holds the shapes the store returns and the pure arithmetic; the store's queries sit
behind :class:`cityops.cases.ports.CaseRepository`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cityops.auth.model import Department
from cityops.cases.model import Channel
from cityops.catalog.reference import find_matter_class

TOP_CLASSES = 10
TREND_DAYS = 30
TREND_HOURS = 24
_CHANNEL_ORDER = {channel.value: index for index, channel in enumerate(Channel)}


@dataclass(frozen=True, slots=True)
class BucketCount:
    """Cases of one time bucket (``edges[index] <= t < edges[index + 1]``) and one key."""

    index: int
    key: str  # the channel of accepted cases; "" for closings
    count: int
    on_time: int = 0  # closings only: closed on time


@dataclass(frozen=True, slots=True)
class DepartmentCounts:
    """One department's cases: open and red now, closed in a period, its on-time counters."""

    code: str
    open: int = 0
    red: int = 0
    closed: int = 0  # closed in the period, wherever accepted
    to_close: int = 0  # of the cases accepted in the period (应结案数)
    closed_on_time: int = 0  # of the cases accepted in the period (按期结案数)


def trend_edges(period: str, now: datetime, zone: ZoneInfo) -> tuple[str, list[datetime]]:
    """Return the trend's unit and its bucket edges (one more edge than buckets).

    Hours: the last 24 whole local hours, the current one included. Days: the last 30 local
    days, today included; a day is from local midnight to local midnight.
    """
    local = now.astimezone(zone)
    if period == "day":
        # Counted in UTC: local wall-clock arithmetic would skip or repeat an hour at DST.
        last = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        first = last - timedelta(hours=TREND_HOURS - 1)
        return "hour", [first + timedelta(hours=h) for h in range(TREND_HOURS + 1)]
    tomorrow = local.date() + timedelta(days=1)
    days = [tomorrow - timedelta(days=TREND_DAYS - d) for d in range(TREND_DAYS + 1)]
    return "day", [datetime.combine(day, time(), zone) for day in days]


def trend(
    unit: str,
    edges: Sequence[datetime],
    accepted: Iterable[BucketCount],
    closed: Iterable[BucketCount],
    zone: ZoneInfo,
) -> dict[str, Any]:
    """Return the trend: bucket starts, accepted per channel and in all, closed, on time."""
    size = len(edges) - 1
    per_channel: dict[str, list[int]] = {}
    total = [0] * size
    for found in accepted:
        per_channel.setdefault(found.key, [0] * size)[found.index] += found.count
        total[found.index] += found.count
    closings = [0] * size
    on_time = [0] * size
    for found in closed:
        closings[found.index] += found.count
        on_time[found.index] += found.on_time
    ordered = sorted(per_channel, key=lambda c: (_CHANNEL_ORDER.get(c, len(_CHANNEL_ORDER)), c))
    return {
        "unit": unit,
        "from": edges[0].astimezone(zone).isoformat(),
        "to": edges[-1].astimezone(zone).isoformat(),
        "buckets": [edge.astimezone(zone).isoformat() for edge in edges[:-1]],
        "accepted": {channel: per_channel[channel] for channel in ordered},
        "accepted_total": total,
        "closed": closings,
        "closed_on_time": on_time,
    }


def channels(counts: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    """Return the cases accepted in the period per channel, in the channels' order."""
    ordered = sorted(counts, key=lambda c: (_CHANNEL_ORDER.get(c[0], len(_CHANNEL_ORDER)), c[0]))
    return [{"channel": channel, "accepted": count} for channel, count in ordered if count]


def top_classes(counts: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    """Return the classes with the most accepted cases (most first, then by code), named."""
    ranked = sorted(counts, key=lambda c: (-c[1], c[0]))[:TOP_CLASSES]
    found = []
    for code, count in ranked:
        matter = find_matter_class(code)
        found.append({"code": code, "name": matter.name if matter else code, "accepted": count})
    return found


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else round(numerator / denominator, 4)


def leaderboard(
    counts: Iterable[DepartmentCounts], departments: Mapping[str, Department]
) -> list[dict[str, Any]]:
    """Return the departments best 按期结案率 first (none last), then fewest overdue, by code."""
    rows = []
    for found in counts:
        department = departments.get(found.code)
        rows.append(
            {
                "code": found.code,
                "name": department.name if department else found.code,
                "open": found.open,
                "overdue": found.red,
                "closed": found.closed,
                "to_close": found.to_close,
                "closed_on_time": found.closed_on_time,
                "on_time_closing_rate": _rate(found.closed_on_time, found.to_close),
            }
        )

    def rank(row: dict[str, Any]) -> tuple[bool, float, int, str]:
        rate = row["on_time_closing_rate"]
        return (rate is None, -(rate or 0.0), row["overdue"], row["code"])

    return sorted(rows, key=rank)
