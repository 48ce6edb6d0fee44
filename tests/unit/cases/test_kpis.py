"""KPI rates and composite grades against hand-computed examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.cases.kpis import (
    DEFAULT_WEIGHTS,
    check_weights,
    composite,
    grade,
    parse_weights,
    rates,
)
from cityops.cases.queries import KpiCounters
from cityops.kernel.errors import ValidationFailed


def example() -> KpiCounters:
    # 10 accepted, 8 filed (1 voided later), 7 dispatched, 6 handled (5 on time),
    # 5 closed (4 on time), 1 reworked, 1 extended, 2 returned, 4 rated (5, 4, 3, 5).
    return KpiCounters(
        group="SZ",
        accepted=10,
        filed=8,
        dispatched=7,
        handled=6,
        handled_on_time=5,
        to_close=7,
        closed=5,
        closed_on_time=4,
        reworked=1,
        extended=1,
        returned=2,
        evaluated=4,
        satisfaction_sum=17,
        satisfied=3,
        avg_seconds_to_close=3 * 3600,
        median_seconds_to_close=2.5 * 3600,
    )


def test_rates_by_hand():
    kpis = rates(example())
    r = kpis["rates"]
    assert r["closing_rate"] == round(5 / 7, 4)  # 结案率 = 结案数 / 应结案数
    assert r["on_time_closing_rate"] == round(4 / 7, 4)  # 按期结案率
    assert r["handling_rate"] == round(6 / 7, 4)  # 处置率 = 处置数 / 应处置数 (派遣数)
    assert r["on_time_handling_rate"] == round(5 / 7, 4)
    assert r["rework_rate"] == round(1 / 6, 4)  # 返工率 = 返工数 / 处置数
    assert r["extension_rate"] == round(1 / 7, 4)
    assert r["return_rate"] == round(2 / 7, 4)
    assert r["satisfaction_rate"] == 0.75
    assert kpis["satisfaction"] == 4.25
    assert kpis["working_hours"]["avg_close"] == 3.0
    assert kpis["working_hours"]["median_close"] == 2.5
    assert kpis["working_hours"]["median_dispatch"] is None
    assert kpis["counts"]["accepted"] == 10


def test_rates_with_nothing_due_are_unknown_not_zero():
    kpis = rates(KpiCounters(group="empty", accepted=3))
    assert all(value is None for value in kpis["rates"].values())
    assert kpis["satisfaction"] is None


def test_department_composite_by_hand():
    kpis = rates(example())
    score = composite(kpis, "department", DEFAULT_WEIGHTS)
    assert score is not None
    # 0.4 × 71.43 + 0.2 × 85.71 + 0.2 × (100 − 16.67) + 0.2 × 75
    expected = 0.4 * 71.43 + 0.2 * 85.71 + 0.2 * 83.33 + 0.2 * 75.0
    assert score["score"] == pytest.approx(expected, abs=0.01)
    assert score["score"] == pytest.approx(77.38, abs=0.01)
    assert score["grade"] == "B"  # 75 ≤ 77.38 < 90
    assert score["points"]["rework_rate"] == pytest.approx(83.33, abs=0.01)


def test_composite_rescales_when_a_measure_has_no_data():
    kpis = rates(KpiCounters(group="x", dispatched=4, handled=4, handled_on_time=4))
    # rework 0 of 4 handled → 100 points; no ratings: satisfaction left out and weights rescaled.
    score = composite(kpis, "department", DEFAULT_WEIGHTS)
    assert score is not None
    assert score["score"] == 100.0
    assert "satisfaction_rate" not in score["points"]
    assert composite(rates(KpiCounters(group="none")), "department", DEFAULT_WEIGHTS) is None


@pytest.mark.parametrize(
    ("score", "letter"),
    [(100, "A"), (90, "A"), (89.99, "B"), (75, "B"), (60, "C"), (59.9, "D"), (40, "D"), (39, "E")],
)
def test_grade_boundaries(score, letter):
    assert grade(score) == letter


def test_weights_must_be_known_and_sum_to_one():
    with pytest.raises(ValidationFailed) as bad:
        check_weights({"department": {"closing_rate": 0.5}})
    assert bad.value.issues[0].rule == "sum_to_one"
    with pytest.raises(ValidationFailed) as bad:
        check_weights({"department": {"speed": 1.0}})
    assert bad.value.issues[0].rule == "measure_known"
    custom = parse_weights('{"department": {"closing_rate": 1.0}}')
    assert custom["department"] == {"closing_rate": 1.0}
    assert custom["region"] == DEFAULT_WEIGHTS["region"]


@given(
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
)
def test_rates_stay_between_zero_and_one(dispatched, handled_extra, on_time):
    handled = min(dispatched, handled_extra)
    counters = KpiCounters(
        group="g",
        dispatched=dispatched,
        handled=handled,
        handled_on_time=min(on_time, handled),
        to_close=dispatched,
        closed=handled,
        closed_on_time=min(on_time, handled),
    )
    for value in rates(counters)["rates"].values():
        assert value is None or 0.0 <= value <= 1.0
