"""Evaluation (考核): KPI rates from counters, and role composite scores graded A–E.

Definitions follow the GB/T 30428.4 style used by local rules (see docs/cases.md):

- 结案率 = 结案数 / 应结案数; 按期结案率 = 按期结案数 / 应结案数 (应结案数: filed, not voided);
- 处置率 = 处置数 / 应处置数; 按期处置率 = 按期处置数 / 应处置数 (应处置数 = 派遣数);
- 返工率 = cases reworked / 处置数; 延期率 and 回退率 = cases extended / returned ÷ 派遣数;
- working times are in working hours; satisfaction is the mean of 1–5 ratings.

A rate whose denominator is zero is ``None`` (not 0 %, not 100 %): nothing was due.
Composite scores weight rates (as 0–100 points) per role; weights are configurable and must sum
to 1; grades are A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else E.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from cityops.cases.queries import KpiCounters
from cityops.kernel.errors import ValidationFailed

GRADES = ((90.0, "A"), (75.0, "B"), (60.0, "C"), (40.0, "D"))

# Role → measure → weight. Higher-is-better measures are taken as points; lower-is-better
# ones (rework, returns) as 100 − points.
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "department": {
        "on_time_handling_rate": 0.4,
        "handling_rate": 0.2,
        "rework_rate": 0.2,
        "satisfaction_rate": 0.2,
    },
    "region": {
        "on_time_closing_rate": 0.4,
        "closing_rate": 0.3,
        "rework_rate": 0.1,
        "satisfaction_rate": 0.2,
    },
    "dispatcher": {"on_time_handling_rate": 0.5, "return_rate": 0.5},
    "patroller": {"closing_rate": 0.5, "on_time_closing_rate": 0.5},
}
LOWER_IS_BETTER = frozenset({"rework_rate", "return_rate", "extension_rate"})
ROLE_OF_GROUP = {
    "department": "department",
    "district": "region",
    "street": "region",
    "community": "region",
    "grid": "region",
    "all": "region",
    "month": "region",
    "dispatcher": "dispatcher",
    "patroller": "patroller",
}


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else round(numerator / denominator, 4)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def rates(counters: KpiCounters) -> dict[str, Any]:
    """Return the KPIs of one group: the counts, the rates (0–1) and the working hours."""
    k = counters
    return {
        "group": k.group,
        "counts": {
            name: value
            for name, value in asdict(k).items()
            if name != "group" and not name.startswith(("avg_", "median_"))
        },
        "rates": {
            "closing_rate": _rate(k.closed, k.to_close),  # 结案率
            "on_time_closing_rate": _rate(k.closed_on_time, k.to_close),  # 按期结案率
            "handling_rate": _rate(k.handled, k.dispatched),  # 处置率
            "on_time_handling_rate": _rate(k.handled_on_time, k.dispatched),  # 按期处置率
            "rework_rate": _rate(k.reworked, k.handled),  # 返工率
            "extension_rate": _rate(k.extended, k.dispatched),  # 延期率
            "return_rate": _rate(k.returned, k.dispatched),  # 回退率
            "satisfaction_rate": _rate(k.satisfied, k.evaluated),  # 满意率 (4–5 of 5)
        },
        "satisfaction": round(k.satisfaction_sum / k.evaluated, 2) if k.evaluated else None,
        "working_hours": {
            f"{kind}_{stage}": _hours(getattr(k, f"{kind}_seconds_to_{stage}"))
            for stage in ("dispatch", "handle", "close")
            for kind in ("avg", "median")
        },
    }


def check_weights(weights: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Validate role weights: known measures, non-negative, summing to 1 per role."""
    known = set(rates(KpiCounters(group=""))["rates"])
    checked: dict[str, dict[str, float]] = {}
    for role, measures in weights.items():
        for measure, weight in measures.items():
            if measure not in known:
                raise ValidationFailed.single(
                    f"weights.{role}.{measure}", "measure_known", f"use one of {sorted(known)}"
                )
            if weight < 0:
                raise ValidationFailed.single(f"weights.{role}.{measure}", "range", "≥ 0")
        if abs(sum(measures.values()) - 1.0) > 1e-6:
            raise ValidationFailed.single(f"weights.{role}", "sum_to_one", "weights must sum to 1")
        checked[role] = dict(measures)
    return checked


def parse_weights(text: str | None) -> dict[str, dict[str, float]]:
    """Return weights from JSON text (missing roles keep their defaults)."""
    if not text:
        return DEFAULT_WEIGHTS
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationFailed.single("kpi_weights", "json", str(error)) from None
    if not isinstance(data, dict):
        raise ValidationFailed.single("kpi_weights", "object", "role → measure → weight")
    return {**DEFAULT_WEIGHTS, **check_weights(data)}


def grade(score: float) -> str:
    """Return the grade A–E of a 0–100 score."""
    for floor, letter in GRADES:
        if score >= floor:
            return letter
    return "E"


def composite(
    kpis: Mapping[str, Any], role: str, weights: Mapping[str, Mapping[str, float]]
) -> dict[str, Any] | None:
    """Return the role's composite score and grade, or None when a weighted rate is unknown.

    Measures without data (rate None) are left out and the remaining weights rescaled, so a
    department that had nothing to rework is not punished; with no data at all there is no score.
    """
    measures = weights.get(role)
    if not measures:
        return None
    total = weight_used = 0.0
    parts: dict[str, float] = {}
    for measure, weight in measures.items():
        value = kpis["rates"].get(measure)
        if value is None or weight == 0:
            continue
        points = 100.0 * (1.0 - value if measure in LOWER_IS_BETTER else value)
        parts[measure] = round(points, 2)
        total += weight * points
        weight_used += weight
    if weight_used == 0:
        return None
    score = round(total / weight_used, 2)
    return {"role": role, "score": score, "grade": grade(score), "points": parts}
