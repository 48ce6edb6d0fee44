"""Rollup arithmetic: intervals, levels, mergeable buckets and each metric's own statistics.

Expected values are worked by hand in the comments (energy means in decibels, vector means of
directions, local days in Asia/Shanghai starting at 16:00Z); percentiles are checked against
``numpy.percentile`` (linear interpolation), which the function claims to match.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.kernel.errors import ValidationFailed
from cityops.sensing.aggregate import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Merged,
    interval_start,
    merge,
    parse_interval,
    percentile,
    rollup_level,
)
from cityops.sensing.model import to_millis
from cityops.sensing.ports import Bucket

SHANGHAI_OFFSET = 8 * HOUR_MS


def _ms(*parts: int) -> int:
    return to_millis(datetime(*parts, tzinfo=UTC))


def _bucket(
    start: int,
    values: list[tuple[int, float]],
    *,
    stream: int = 1,
    aux: tuple[float | None, float | None] = (None, None),
) -> Bucket:
    """A bucket holding ``values`` (time, value), aggregated here by hand."""
    ordered = sorted(values)
    return Bucket(
        datastream_id=stream,
        start=start,
        n=len(values),
        total=sum(v for _, v in values),
        minimum=min(v for _, v in values),
        maximum=max(v for _, v in values),
        first_time=ordered[0][0],
        first_value=ordered[0][1],
        last_time=ordered[-1][0],
        last_value=ordered[-1][1],
        aux_a=aux[0],
        aux_b=aux[1],
    )


def _energy(levels: list[float]) -> tuple[float, None]:
    return sum(10 ** (level / 10) for level in levels), None


def _vector(degrees: list[float]) -> tuple[float, float]:
    return (
        sum(math.sin(math.radians(d)) for d in degrees),
        sum(math.cos(math.radians(d)) for d in degrees),
    )


def _angle_gap(a: float, b: float) -> float:
    gap = abs(a - b) % 360
    return min(gap, 360 - gap)


# ------------------------------------------------------------------ intervals


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("1m", 60_000),
        ("15m", 900_000),
        ("15min", 900_000),
        ("30s", 30_000),
        ("1h", 3_600_000),
        (" 2H ", 7_200_000),
        ("1d", 86_400_000),
        ("7d", 604_800_000),
        ("1w", 604_800_000),
        ("90m", 5_400_000),
    ],
)
def test_parse_interval_reads_a_count_and_a_unit(text, millis):
    assert parse_interval(text) == millis


@pytest.mark.parametrize(
    "text", ["", "m", "1", "0m", "00h", "-1m", "1.5h", "1y", "h1", "1 h x", "1hh", "m15", "1M5"]
)
def test_parse_interval_refuses_anything_else_on_the_interval_field(text):
    with pytest.raises(ValidationFailed) as caught:
        parse_interval(text)
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == ("interval", "duration")


def test_parse_interval_refuses_a_superscript_digit():
    with pytest.raises(ValidationFailed):
        parse_interval("²h")


@pytest.mark.parametrize(
    ("interval", "level"),
    [
        (MINUTE_MS, "minute"),
        (15 * MINUTE_MS, "minute"),
        (90 * MINUTE_MS, "minute"),
        (HOUR_MS, "hour"),
        (36 * HOUR_MS, "hour"),
        (DAY_MS, "day"),
        (7 * DAY_MS, "day"),
        (30_000, None),
        (90_000, None),
    ],
)
def test_rollup_level_is_the_coarsest_level_dividing_the_interval(interval, level):
    assert rollup_level(interval) == level


def test_interval_start_cuts_days_at_local_midnight():
    # Shanghai (UTC+8): the local day of 2026-11-20 runs from 2026-11-19T16:00Z.
    day = _ms(2026, 11, 19, 16, 0)
    assert interval_start(day, DAY_MS, SHANGHAI_OFFSET) == day
    assert interval_start(_ms(2026, 11, 20, 15, 59) + 59_999, DAY_MS, SHANGHAI_OFFSET) == day
    assert interval_start(_ms(2026, 11, 19, 15, 59), DAY_MS, SHANGHAI_OFFSET) == day - DAY_MS
    assert interval_start(_ms(2026, 11, 20, 2, 0), DAY_MS, 0) == _ms(2026, 11, 20, 0, 0)
    assert interval_start(_ms(2026, 11, 20, 2, 44), 15 * MINUTE_MS, SHANGHAI_OFFSET) == _ms(
        2026, 11, 20, 2, 30
    )


# ------------------------------------------------------------------ one merged interval


def test_an_empty_interval_has_no_statistics():
    empty = Merged(0)
    for function in ("avg", "min", "max", "count", "sum", "first", "last"):
        assert empty.value(function, "mean") is None


def test_merged_buckets_report_count_extremes_sum_first_and_last():
    merged = Merged(0)
    # Added out of order: the later bucket first, so first/last must compare times.
    merged.add(_bucket(60_000, [(60_000, 12.0), (90_000, 3.0)]))
    merged.add(_bucket(0, [(0, 5.0), (30_000, 20.0)]))
    assert merged.value("count", "mean") == 4
    assert merged.value("min", "mean") == 3.0
    assert merged.value("max", "mean") == 20.0
    assert merged.value("sum", "mean") == 40.0
    assert merged.value("avg", "mean") == 10.0
    assert merged.value("first", "mean") == 5.0
    assert merged.value("last", "mean") == 3.0
    assert (merged.first_time, merged.last_time) == (0, 90_000)


def test_a_counters_sum_is_its_consumption_last_minus_first():
    merged = Merged(0)
    merged.add(_bucket(HOUR_MS, [(HOUR_MS, 1_250.5), (HOUR_MS + 1, 1_260.0)]))
    merged.add(_bucket(0, [(0, 1_200.0), (1, 1_210.0)]))
    assert merged.value("sum", "counter") == pytest.approx(60.0)
    assert merged.value("sum", "mean") == pytest.approx(4_920.5)


def test_the_energy_mean_of_60_and_70_db_is_67_4_db_not_65():
    # 10·lg((10^6 + 10^7) / 2) = 10·lg(5.5·10^6) = 60 + 10·lg 5.5 = 67.40362689494244 dB.
    merged = Merged(0)
    merged.add(_bucket(0, [(0, 60.0)], aux=_energy([60.0])))
    merged.add(_bucket(MINUTE_MS, [(MINUTE_MS, 70.0)], aux=_energy([70.0])))
    assert merged.value("avg", "energy_mean") == pytest.approx(67.40362689494244, abs=1e-9)
    assert merged.value("avg", "mean") == 65.0
    assert merged.value("max", "energy_mean") == 70.0


def test_the_energy_mean_of_equal_levels_is_that_level():
    merged = Merged(0)
    merged.add(_bucket(0, [(0, 55.0), (1, 55.0), (2, 55.0)], aux=_energy([55.0] * 3)))
    assert merged.value("avg", "energy_mean") == pytest.approx(55.0, abs=1e-12)


def test_the_vector_mean_of_350_and_10_degrees_points_north_not_south():
    merged = Merged(0)
    merged.add(_bucket(0, [(0, 350.0)], aux=_vector([350.0])))
    merged.add(_bucket(MINUTE_MS, [(MINUTE_MS, 10.0)], aux=_vector([10.0])))
    mean = merged.value("avg", "vector_mean")
    assert isinstance(mean, float)
    assert _angle_gap(mean, 0.0) < 1e-9
    assert merged.value("avg", "mean") == 180.0  # what the arithmetic mean would wrongly say


def test_the_vector_mean_of_350_and_10_degrees_is_0_within_0_to_360():
    merged = Merged(0)
    merged.add(_bucket(0, [(0, 350.0), (1, 10.0)], aux=_vector([350.0, 10.0])))
    mean = merged.value("avg", "vector_mean")
    assert isinstance(mean, float)
    assert 0.0 <= mean < 360.0
    assert mean == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("degrees", "expected"),
    [([0.0, 90.0], 45.0), ([270.0, 0.0], 315.0), ([170.0, 190.0], 180.0), ([123.0], 123.0)],
)
def test_the_vector_mean_bisects_the_directions(degrees, expected):
    merged = Merged(0)
    merged.add(_bucket(0, [(i, d) for i, d in enumerate(degrees)], aux=_vector(degrees)))
    mean = merged.value("avg", "vector_mean")
    assert isinstance(mean, float)
    assert _angle_gap(mean, expected) < 1e-9


@pytest.mark.parametrize("degrees", [[90.0, 270.0], [0.0, 180.0], [0.0, 120.0, 240.0]])
def test_directions_that_cancel_out_have_no_mean(degrees):
    merged = Merged(0)
    merged.add(_bucket(0, [(i, d) for i, d in enumerate(degrees)], aux=_vector(degrees)))
    assert merged.value("avg", "vector_mean") is None
    assert merged.value("count", "vector_mean") == len(degrees)


# ------------------------------------------------------------------ merging buckets


def test_merge_pools_hourly_buckets_by_group_into_local_days():
    # Three streams: 1 and 2 in division A, 3 in B, 4 in no group (left out).
    # Hours 15:00Z and 16:00Z on 2026-11-19 straddle Shanghai's midnight (16:00Z).
    h15, h16 = _ms(2026, 11, 19, 15, 0), _ms(2026, 11, 19, 16, 0)
    h23 = _ms(2026, 11, 19, 23, 0)
    buckets = [
        _bucket(h15, [(h15 + 1, 10.0), (h15 + 2, 20.0)], stream=1),
        _bucket(h16, [(h16, 30.0)], stream=1),
        _bucket(h23, [(h23 + 5, 50.0)], stream=2),
        _bucket(h16, [(h16 + 7, 7.0)], stream=3),
        _bucket(h16, [(h16, 999.0)], stream=4),
    ]
    merged = merge(buckets, DAY_MS, SHANGHAI_OFFSET, {1: "A", 2: "A", 3: "B"})
    day_19, day_20 = _ms(2026, 11, 18, 16, 0), h16  # local 2026-11-19 and 2026-11-20
    assert sorted(merged) == [("A", day_19), ("A", day_20), ("B", day_20)]
    assert merged[("A", day_19)].value("avg", "mean") == 15.0
    a20 = merged[("A", day_20)]
    assert a20.start == day_20
    assert [a20.value(f, "mean") for f in ("count", "min", "max", "first", "last", "avg")] == [
        2,
        30.0,
        50.0,
        30.0,
        50.0,
        40.0,
    ]
    assert merged[("B", day_20)].value("sum", "mean") == 7.0


def test_merge_into_utc_days_without_an_offset_cuts_at_utc_midnight():
    h15, h16 = _ms(2026, 11, 19, 15, 0), _ms(2026, 11, 19, 16, 0)
    buckets = [_bucket(h15, [(h15, 1.0)]), _bucket(h16, [(h16, 3.0)])]
    merged = merge(buckets, DAY_MS, 0, {1: "s"})
    assert list(merged) == [("s", _ms(2026, 11, 19, 0, 0))]
    assert merged[("s", _ms(2026, 11, 19, 0, 0))].value("avg", "mean") == 2.0


def test_merge_keeps_energy_sums_so_pooled_noise_is_an_energy_mean():
    buckets = [
        _bucket(0, [(0, 60.0)], stream=1, aux=_energy([60.0])),
        _bucket(0, [(0, 70.0)], stream=2, aux=_energy([70.0])),
    ]
    merged = merge(buckets, HOUR_MS, 0, {1: "grid", 2: "grid"})
    assert merged[("grid", 0)].value("avg", "energy_mean") == pytest.approx(67.40362689494244)


# ------------------------------------------------------------------ percentiles


def test_percentile_of_nothing_is_none_and_of_one_value_is_that_value():
    assert percentile([], 50) is None
    assert percentile([7.5], 95) == 7.5


def test_percentile_interpolates_between_closest_ranks():
    # rank = (5 − 1)·0.9 = 3.6: 40 + 0.6·(50 − 40) = 46.
    assert percentile([50, 10, 40, 20, 30], 90) == pytest.approx(46.0)
    assert percentile([50, 10, 40, 20, 30], 50) == 30
    assert percentile([1, 2], 0) == 1
    assert percentile([1, 2], 100) == 2


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
    st.floats(0, 100),
)
def test_percentile_matches_numpy_linear_interpolation(values, q):
    expected = float(np.percentile(values, q))
    assert percentile(values, q) == pytest.approx(expected, rel=1e-9, abs=1e-6)
