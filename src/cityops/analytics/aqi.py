"""Air quality index (AQI) under HJ 633—2026 (default) and HJ 633—2012 (for historical data).

The tables live in versioned data files (``data/hj633-2026.json``, ``data/hj633-2012.json``): the
IAQI breakpoints per indicator (表3 of 2026, 表1 of 2012), the levels with their colours, the
sensitive groups (2026 表2) and the indicator sets of the daily (日报) and real-time (实时报)
reports. The arithmetic is exact (fractions), so a value on a breakpoint never rounds up by a
float's error:

* concentrations are first rounded as the standard publishes them (GB/T 8170, half to even):
  whole µg/m³, CO to one decimal in mg/m³;
* IAQI by formula (1), between the two breakpoints nearest the concentration, rounded up (全部
  向上进位取整数); PM10 and PM2.5 hourly values use the daily breakpoints; beyond the last
  breakpoint the IAQI is 500 (the index's top) and the indicator is flagged;
* the over-800 rules: 2026 counts SO₂ 1h > 800 as IAQI 200 and O₃ 8h > 800 as 300; 2012 takes
  SO₂'s IAQI from the 24h value and O₃'s from the 1h value instead;
* AQI = the largest IAQI; the primary pollutants (首要污染物), when AQI > 50, are all those at
  that IAQI (ties are listed together);
* missing data (2026 5.3): AQI, level and primary pollutants are computed from the others and
  published only when AQI > 100; otherwise they are NA (None) and only the IAQIs are given.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

from cityops.kernel.errors import ValidationFailed

STANDARDS = {"HJ633-2026": "hj633-2026.json", "HJ633-2012": "hj633-2012.json"}
DEFAULT_STANDARD = "HJ633-2026"
REPORTS = ("daily", "hourly")
TOP_IAQI = 500


@dataclass(frozen=True)
class Level:
    """An AQI level (级别) with its category (类别) and colour (颜色)."""

    level: int
    grade: str
    category: str
    category_en: str
    color: str
    color_en: str
    rgb: tuple[int, int, int]
    health: str
    advice: str

    @property
    def hex(self) -> str:
        """The colour as ``#RRGGBB``."""
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


@dataclass(frozen=True)
class AqiResult:
    """An AQI report: the index, its level and primary pollutants, and every IAQI."""

    standard: str
    report: str
    aqi: int | None  # None: NA (incomplete data and AQI ≤ 100 under HJ 633—2026)
    level: Level | None
    primary_pollutants: tuple[str, ...]
    iaqi: dict[str, int]
    concentrations: dict[str, Decimal]
    missing: tuple[str, ...] = ()
    beyond_table: tuple[str, ...] = ()
    exceeding: tuple[str, ...] = ()  # HJ 633—2012 超标污染物 (IAQI > 100)
    sensitive_groups: dict[str, str] = field(default_factory=dict)  # HJ 633—2026 表2

    def as_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready values."""
        level = self.level
        return {
            "standard": self.standard,
            "report": self.report,
            "aqi": self.aqi,
            "level": level.level if level else None,
            "grade": level.grade if level else None,
            "category": level.category if level else None,
            "category_en": level.category_en if level else None,
            "color": level.hex if level else None,
            "color_name": level.color if level else None,
            "health": level.health if level else None,
            "advice": level.advice if level else None,
            "primary_pollutants": list(self.primary_pollutants),
            "iaqi": dict(self.iaqi),
            "concentrations": {k: float(v) for k, v in self.concentrations.items()},
            "missing": list(self.missing),
            "beyond_table": list(self.beyond_table),
            "exceeding": list(self.exceeding),
            "sensitive_groups": dict(self.sensitive_groups),
        }


@cache
def table(standard: str = DEFAULT_STANDARD) -> dict[str, Any]:
    """Return a standard's tables (the parsed data file)."""
    if standard not in STANDARDS:
        raise ValidationFailed.single(
            "standard", "one_of", f"unknown {standard!r}; expected one of {', '.join(STANDARDS)}"
        )
    text = resources.files("cityops.analytics").joinpath("data", STANDARDS[standard])
    return dict(json.loads(text.read_text(encoding="utf-8")))


def indicators(standard: str, report: str) -> tuple[str, ...]:
    """Return the indicators of a report (``daily`` or ``hourly``) under a standard."""
    if report not in REPORTS:
        raise ValidationFailed.single(
            "report", "one_of", f"unknown {report!r}; expected daily or hourly"
        )
    return tuple(table(standard)["reports"][report])


def levels(standard: str = DEFAULT_STANDARD) -> list[Level]:
    """Return the six levels of a standard, lowest first."""
    return [
        Level(
            level=item["level"],
            grade=item["grade"],
            category=item["category"],
            category_en=item["category_en"],
            color=item["color"],
            color_en=item["color_en"],
            rgb=(item["rgb"][0], item["rgb"][1], item["rgb"][2]),
            health=item["health"],
            advice=item["advice"],
        )
        for item in table(standard)["levels"]
    ]


def level_of(aqi: int, standard: str = DEFAULT_STANDARD) -> Level:
    """Return the level of an AQI value (above 500 is 六级)."""
    for item, found in zip(table(standard)["levels"], levels(standard), strict=True):
        if aqi <= item["max"]:
            return found
    return levels(standard)[-1]


def resolve(name: str, standard: str = DEFAULT_STANDARD, report: str = "daily") -> str:
    """Return the indicator a name means in a report: ``pm25`` is ``pm25_24h`` in a daily one.

    A full indicator name is returned as it is; a bare pollutant (``so2``, ``no2``, ``co``,
    ``o3``, ``pm10``, ``pm25``, also ``pm2.5``) must have one indicator in the report.
    """
    key = name.strip().lower().replace(".", "")
    wanted = indicators(standard, report)
    if key in wanted or key in _replacements(standard):
        return key
    matches = [indicator for indicator in wanted if indicator.split("_")[0] == key]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValidationFailed.single(
            name, "indicator", f"ambiguous in the {report} report: say {' or '.join(matches)}"
        )
    raise ValidationFailed.single(
        name,
        "indicator",
        f"not an indicator of the {report} report under {standard}; expected {', '.join(wanted)}",
    )


def published(indicator: str, value: Decimal | float | int | str) -> Decimal:
    """Round a concentration as the standard publishes it (GB/T 8170, half to even)."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed.single(indicator, "number", f"not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ValidationFailed.single(
            indicator, "non_negative", f"must be a finite number ≥ 0, got {value}"
        )
    step = Decimal("0.1") if indicator.startswith("co_") else Decimal(1)
    return number.quantize(step, rounding=ROUND_HALF_EVEN)


def _breakpoints(standard: str, indicator: str) -> list[int]:
    found = table(standard)["indicators"].get(_table_key(indicator))
    if found is None:
        raise ValidationFailed.single(indicator, "indicator", f"not an indicator of {standard}")
    return list(found["breakpoints"])


def _table_key(indicator: str) -> str:
    # PM10 and PM2.5 hourly values are read against the daily breakpoints (2026 formula (1)).
    return {"pm10_1h": "pm10_24h", "pm25_1h": "pm25_24h"}.get(indicator, indicator)


def iaqi(indicator: str, concentration: Decimal, standard: str = DEFAULT_STANDARD) -> int:
    """Return the IAQI of one published concentration by formula (1), rounded up.

    The over-800 rules are applied by :func:`aqi`, which sees the other indicators.
    """
    points = _breakpoints(standard, indicator)
    grades: list[int] = table(standard)["iaqi"]
    value = Fraction(concentration)
    if value >= points[-1]:
        return grades[len(points) - 1] if value == points[-1] else TOP_IAQI
    for index in range(1, len(points)):
        high = points[index]
        if value <= high:
            low = points[index - 1]
            i_low, i_high = grades[index - 1], grades[index]
            exact = Fraction(i_high - i_low, high - low) * (value - low) + i_low
            return math.ceil(exact)
    raise AssertionError("unreachable")


def pollutant(indicator: str, standard: str = DEFAULT_STANDARD) -> str:
    """Return the pollutant of an indicator (``PM2.5`` for ``pm25_24h``)."""
    return str(table(standard)["indicators"][_table_key(indicator)]["pollutant"])


def aqi(
    values: dict[str, Decimal | float | int | str],
    *,
    standard: str = DEFAULT_STANDARD,
    report: str = "daily",
) -> AqiResult:
    """Return the AQI report for the concentrations of one station or area.

    ``values`` maps indicators (``pm25_24h``, ``o3_8h``, ``so2_1h`` …) to concentrations in
    µg/m³ (CO in mg/m³); indicators of the report that are missing are listed as such.
    """
    wanted = indicators(standard, report)
    rules = table(standard)
    extra = sorted(set(values) - set(wanted) - _replacements(standard))
    if extra:
        raise ValidationFailed.single(
            extra[0],
            "indicator",
            f"not an indicator of the {report} report under {standard}; "
            f"expected {', '.join(wanted)}",
        )
    given = {name: published(name, value) for name, value in values.items()}
    scores: dict[str, int] = {}
    beyond: list[str] = []
    for name in wanted:
        if name not in given:
            continue
        concentration = given[name]
        cap = rules["capped_above"].get(name)
        swap = rules["replaced_above"].get(name)
        if cap is not None and concentration > cap["above"]:
            scores[name] = cap["iaqi"]
        elif swap is not None and concentration > swap["above"]:
            other = given.get(swap["by"])
            if other is not None:
                scores[name] = iaqi(swap["by"], other, standard)
        else:
            scores[name] = iaqi(name, concentration, standard)
            if concentration > _breakpoints(standard, name)[-1]:
                beyond.append(name)
    missing = tuple(name for name in wanted if name not in scores)
    return _report(standard, report, scores, given, missing, tuple(beyond))


def _replacements(standard: str) -> set[str]:
    return {rule["by"] for rule in table(standard)["replaced_above"].values()}


def _report(
    standard: str,
    report: str,
    scores: dict[str, int],
    given: dict[str, Decimal],
    missing: tuple[str, ...],
    beyond: tuple[str, ...],
) -> AqiResult:
    rules = table(standard)
    top = max(scores.values(), default=None)
    if top is not None:
        top = max(top, rules["aqi_min"])
    publish_above = rules["publish_incomplete_above"]
    if top is not None and missing and publish_above is not None and top <= publish_above:
        top = None  # NA: incomplete, and not bad enough to publish anyway
    primary: list[str] = []
    if top is not None and top > 50:
        for name, score in scores.items():
            name_pollutant = pollutant(name, standard)
            if score == top and name_pollutant not in primary:
                primary.append(name_pollutant)
    exceeding: list[str] = []
    if rules["exceedance_iaqi"] is not None:
        limit = rules["exceedance_iaqi"]
        exceeding = sorted({pollutant(n, standard) for n, s in scores.items() if s > limit})
    groups = {
        pollutant(name, standard): rules["sensitive_groups"][pollutant(name, standard)]
        for name, score in scores.items()
        if score > 100 and pollutant(name, standard) in rules["sensitive_groups"]
    }
    return AqiResult(
        standard=standard,
        report=report,
        aqi=top,
        level=level_of(top, standard) if top is not None else None,
        primary_pollutants=tuple(primary),
        iaqi=scores,
        concentrations=given,
        missing=missing,
        beyond_table=beyond,
        exceeding=tuple(exceeding),
        sensitive_groups=groups,
    )
