"""HJ 633 report concentrations from hourly means under the validity rules, per station and area.

The AQI itself is :func:`cityops.analytics.aqi.aqi`; this module turns a station's valid hourly
means into the concentrations a report uses, and says how many values each one rests on:

* a **1 h mean** is valid when the hour holds at least 45 minutes of readings (readings × the
  datastream's reporting interval); an invalid hour counts as missing;
* **daily report** (日报, the local calendar day): SO₂, NO₂, CO, PM10, PM2.5 24 h means need at
  least 20 valid hourly means; the O₃ daily maximum 8 h moving average is the largest of the 8 h
  means ending at 08:00 … 24:00 of the day (each needs at least 6 valid hours), valid with at
  least 14 such means, or with fewer when that maximum exceeds the 二级 limit (160 µg/m³), since
  more data could only have raised it; HJ 633—2012's O₃ 1 h daily maximum needs 20 valid hours
  (a choice: a maximum over a few hours says little about the day);
* **hourly report** (实时报): the 1 h means of the hour ending at the report's time; the moving
  means that HJ 633—2012 also reports (O₃ 8 h, PM 24 h, and SO₂ 24 h for its over-800 rule) use
  the hours before it, with the same counts as above.

Sources: the 45-minute, 20-hour and 6-hour rules are GB 3095 数据统计的有效性规定 (表4 of the
2012 edition), the 14-window rule and its exceedance exception HJ 663; neither text is in
``shared/reference/standards-cn.md`` (§2 has HJ 633 only: "Concentrations follow HJ 663"), so the
numbers are constants here, to be checked against the texts (see docs/air-quality.md).

An area's (division's) concentration of an indicator is the arithmetic mean of its stations'
valid concentrations, each station counting once, as HJ 663 forms a city's value from its
stations'; a station whose value is invalid is left out of that indicator only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cityops.analytics.aqi import indicators, table

MIN_HOUR_COVERAGE_S = 45 * 60  # GB 3095 表4: 1 h mean, ≥ 45 min of sampling in the hour
MIN_HOURS_24H = 20  # GB 3095 表4: 24 h mean, ≥ 20 hourly means
MIN_HOURS_8H = 6  # GB 3095 表4: 8 h mean, ≥ 6 hourly means
MIN_WINDOWS_O3_8H = 14  # HJ 663: daily max 8 h, ≥ 14 valid 8 h means (those ending 08–24 h)
O3_8H_LIMIT = 160  # GB 3095 二级 O₃ 日最大8小时平均 (µg/m³): the HJ 663 exception's threshold
FIRST_WINDOW_END = 8  # the first 8 h mean of a day ends at 08:00 (covers 00:00–08:00)

Hours = Sequence[float | None]  # valid hourly means, oldest first; None: missing or invalid


@dataclass(frozen=True, slots=True)
class Concentration:
    """One indicator's concentration (None: not valid) and what it rests on."""

    value: float | None
    count: int  # valid hours (or 8 h means, or stations) used
    required: int
    counts: str  # "hours", "windows" or "stations"

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready values."""
        return {
            "value": self.value,
            "valid": self.value is not None,
            self.counts: self.count,
            "required": self.required,
        }


def hour_is_valid(readings: int, interval_seconds: int) -> bool:
    """Tell whether an hour's readings cover the 45 minutes a 1 h mean needs."""
    return min(readings * interval_seconds, 3600) >= MIN_HOUR_COVERAGE_S


def wanted(standard: str, report: str) -> tuple[str, ...]:
    """Return the report's indicators and those its over-800 rules may fall back on."""
    found = list(indicators(standard, report))
    for rule in table(standard)["replaced_above"].values():
        if rule["by"] not in found:
            found.append(rule["by"])
    return tuple(found)


def history_hours(standard: str, report: str) -> int:
    """Return how many hours before the report's time an hourly report reads (1, 8 or 24)."""
    spans = {"1h": 1, "8h": 8, "24h": 24}
    return max(spans[name.rsplit("_", 1)[1]] for name in wanted(standard, report))


def mean(hours: Hours, required: int) -> Concentration:
    """Return the mean of the valid hours, valid with at least ``required`` of them."""
    found = [value for value in hours if value is not None]
    value = math.fsum(found) / len(found) if found and len(found) >= required else None
    return Concentration(value, len(found), required, "hours")


def o3_daily_max_8h(day: Hours) -> Concentration:
    """Return the O₃ daily maximum 8 h moving average of one day's hourly means."""
    means = [
        mean(day[end - 8 : end], MIN_HOURS_8H).value
        for end in range(FIRST_WINDOW_END, len(day) + 1)
    ]
    valid = [value for value in means if value is not None]
    top = max(valid, default=None)
    enough = len(valid) >= MIN_WINDOWS_O3_8H or (top is not None and top > O3_8H_LIMIT)
    return Concentration(top if enough else None, len(valid), MIN_WINDOWS_O3_8H, "windows")


def daily_max_1h(day: Hours) -> Concentration:
    """Return the largest valid hourly mean of a day (HJ 633—2012's O₃ 1 h daily maximum)."""
    found = [value for value in day if value is not None]
    top = max(found) if len(found) >= MIN_HOURS_24H else None
    return Concentration(top, len(found), MIN_HOURS_24H, "hours")


def concentration(indicator: str, report: str, hours: Hours) -> Concentration:
    """Return one indicator's concentration from a metric's hourly means.

    ``hours`` is the local day (daily report) or the hours up to the report's time, the hour
    ending at it last (hourly report).
    """
    span = indicator.rsplit("_", 1)[1]
    if report == "daily":
        if span == "8h":
            return o3_daily_max_8h(hours)
        if span == "1h":
            return daily_max_1h(hours)
        return mean(hours, MIN_HOURS_24H)
    if span == "1h":
        return mean(hours[-1:], 1)
    return mean(hours[-8:], MIN_HOURS_8H) if span == "8h" else mean(hours[-24:], MIN_HOURS_24H)


def area(stations: Sequence[Mapping[str, Concentration]]) -> dict[str, Concentration]:
    """Return an area's concentrations: per indicator, the mean of its stations' valid values."""
    names = list(dict.fromkeys(name for station in stations for name in station))
    found: dict[str, Concentration] = {}
    for name in names:
        values = [s[name].value for s in stations if name in s and s[name].value is not None]
        value = math.fsum(v for v in values if v is not None) / len(values) if values else None
        found[name] = Concentration(value, len(values), 1, "stations")
    return found
