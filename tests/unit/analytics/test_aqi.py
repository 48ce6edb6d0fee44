"""AQI under HJ 633—2026 and HJ 633—2012, against the standards' own tables and rules.

The breakpoints below are restated from 表3 (2026) and 表1 (2012) as printed (see
../shared/reference/standards-cn.md §2) so that a slip in the data files shows here; the golden
vectors are the notes' §2.4 worked by hand from formula (1).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.analytics import aqi as m
from cityops.kernel.errors import ValidationFailed

TABLE_2026 = {
    "so2_24h": [0, 50, 150, 475, 800, 1600, 2100, 2620],
    "so2_1h": [0, 150, 500, 650, 800],
    "no2_24h": [0, 40, 80, 180, 280, 565, 750, 940],
    "no2_1h": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "co_24h": [0, 2, 4, 14, 24, 36, 48, 60],
    "co_1h": [0, 5, 10, 35, 60, 90, 120, 150],
    "o3_8h": [0, 100, 160, 215, 265, 800],
    "o3_1h": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "pm10_24h": [0, 50, 120, 250, 350, 420, 500, 600],
    "pm25_24h": [0, 35, 60, 115, 150, 250, 350, 500],
}
TABLE_2012 = {**TABLE_2026, "pm10_24h": [0, 50, 150, 250, 350, 420, 500, 600]}
TABLE_2012["pm25_24h"] = [0, 35, 75, 115, 150, 250, 350, 500]
GRADES = [0, 50, 100, 150, 200, 300, 400, 500]
DAILY = {"pm25_24h": 80, "pm10_24h": 130, "o3_8h": 180, "so2_24h": 100, "no2_24h": 85}
DAILY["co_24h"] = Decimal("1.5")


@pytest.mark.parametrize(
    ("standard", "expected"), [("HJ633-2026", TABLE_2026), ("HJ633-2012", TABLE_2012)]
)
def test_the_data_files_hold_the_standards_breakpoints(standard, expected):
    data = m.table(standard)
    assert data["iaqi"] == GRADES
    assert {k: v["breakpoints"] for k, v in data["indicators"].items()} == expected


def test_the_levels_and_colours_are_table_1_and_appendix_a():
    found = [(lv.grade, lv.category, lv.hex) for lv in m.levels("HJ633-2026")]
    assert found == [
        ("一级", "优", "#00E400"),
        ("二级", "良", "#FFFF00"),
        ("三级", "轻度污染", "#FF7E00"),
        ("四级", "中度污染", "#FF0000"),
        ("五级", "重度污染", "#99004C"),
        ("六级", "严重污染", "#7E0023"),
    ]
    assert [lv.hex for lv in m.levels("HJ633-2012")] == [lv.hex for lv in m.levels()]


def test_the_daily_golden_vector_under_2026():
    result = m.aqi(DAILY)
    assert result.iaqi == {
        "so2_24h": 75,
        "no2_24h": 103,
        "co_24h": 38,
        "o3_8h": 119,
        "pm10_24h": 104,
        "pm25_24h": 119,
    }
    assert result.aqi == 119
    assert (result.level.grade, result.level.category, result.level.hex) == (
        "三级",
        "轻度污染",
        "#FF7E00",
    )
    assert set(result.primary_pollutants) == {"PM2.5", "O3"}  # a tie: both are listed
    assert result.missing == ()
    assert set(result.sensitive_groups) == {"PM2.5", "PM10", "O3", "NO2"}  # IAQI > 100
    assert result.exceeding == ()  # 2026 deleted 超标污染物


def test_the_daily_golden_vector_under_2012():
    result = m.aqi({**DAILY, "o3_1h": 180}, standard="HJ633-2012")
    assert result.iaqi["pm25_24h"] == 107  # 106.25, rounded up
    assert result.iaqi["pm10_24h"] == 90
    assert result.aqi == 119
    assert result.primary_pollutants == ("O3",)
    assert set(result.exceeding) == {"NO2", "O3", "PM2.5"}
    assert result.sensitive_groups == {}


@pytest.mark.parametrize(
    ("standard", "indicator", "value", "expected"),
    [
        ("HJ633-2026", "pm25_24h", 60, 100),
        ("HJ633-2012", "pm25_24h", 60, 82),  # 81.25 → 82
        ("HJ633-2026", "pm25_24h", 61, 101),  # 100.9 → 101
        ("HJ633-2026", "pm25_24h", 0, 0),
        ("HJ633-2026", "pm25_24h", 500, 500),
        ("HJ633-2026", "so2_24h", 150, 100),  # the daily table, not the hourly one
        ("HJ633-2026", "co_24h", Decimal("1.5"), 38),
        ("HJ633-2026", "pm25_1h", 80, 119),  # hourly PM uses the daily breakpoints
    ],
)
def test_band_edges_and_vectors(standard, indicator, value, expected):
    assert m.iaqi(indicator, m.published(indicator, value), standard) == expected


def test_above_800_under_2026_so2_counts_200_and_o3_300():
    hourly = m.aqi({"so2_1h": 900}, report="hourly")
    assert hourly.iaqi == {"so2_1h": 200}
    daily = m.aqi({"o3_8h": 850})
    assert daily.iaqi == {"o3_8h": 300}


def test_above_800_under_2012_takes_the_other_averaging():
    daily = m.aqi({"o3_8h": 850, "o3_1h": 900}, standard="HJ633-2012")
    assert daily.iaqi["o3_8h"] == m.iaqi("o3_1h", Decimal(900), "HJ633-2012") == 350
    hourly = m.aqi({"so2_1h": 900, "so2_24h": 150}, standard="HJ633-2012", report="hourly")
    assert hourly.iaqi["so2_1h"] == 100  # from the 24 h value
    alone = m.aqi({"so2_1h": 900}, standard="HJ633-2012", report="hourly")
    assert "so2_1h" in alone.missing  # no 24 h value to take it from


def test_incomplete_data_publishes_the_aqi_only_above_100_under_2026():
    quiet = m.aqi({"pm25_24h": 50, "pm10_24h": 60})
    assert quiet.aqi is None
    assert quiet.level is None
    assert quiet.primary_pollutants == ()
    assert quiet.iaqi == {"pm25_24h": 80, "pm10_24h": 58}
    assert set(quiet.missing) == {"so2_24h", "no2_24h", "co_24h", "o3_8h"}
    bad = m.aqi({"pm25_24h": 120})
    assert bad.aqi == 158
    assert bad.primary_pollutants == ("PM2.5",)
    assert m.aqi({"pm25_24h": 50}, standard="HJ633-2012").aqi == 69  # no such rule in 2012


def test_no_primary_pollutant_at_50_or_below():
    clean = {"pm25_24h": 10, "pm10_24h": 20, "o3_8h": 50, "so2_24h": 5, "no2_24h": 10}
    result = m.aqi({**clean, "co_24h": "0.4"})
    assert result.aqi == 25  # O₃ 8h 50 → 25
    assert result.level.category == "优"
    assert result.primary_pollutants == ()


def test_all_zero_is_aqi_1_under_2026_and_0_under_2012():
    zeros = dict.fromkeys(m.indicators("HJ633-2026", "daily"), 0)
    assert m.aqi(zeros).aqi == 1  # 4.1.1: the index runs 1–500
    zeros_2012 = dict.fromkeys(m.indicators("HJ633-2012", "daily"), 0)
    assert m.aqi(zeros_2012, standard="HJ633-2012").aqi == 0


def test_concentrations_are_rounded_as_published_half_to_even():
    assert m.published("co_24h", "1.55") == Decimal("1.6")
    assert m.published("co_24h", "1.45") == Decimal("1.4")
    assert m.published("pm25_24h", "80.5") == Decimal(80)
    assert m.published("pm25_24h", "81.5") == Decimal(82)


def test_beyond_the_table_is_500_and_flagged():
    result = m.aqi({"pm25_24h": 650})
    assert result.iaqi == {"pm25_24h": 500}
    assert result.beyond_table == ("pm25_24h",)
    assert result.level.category == "严重污染"


@pytest.mark.parametrize(
    ("values", "field", "rule"),
    [
        ({"pm25_24h": -1}, "pm25_24h", "non_negative"),
        ({"pm25_24h": "abc"}, "pm25_24h", "number"),
        ({"pm25_24h": "nan"}, "pm25_24h", "non_negative"),
        ({"so2_1h": 10}, "so2_1h", "indicator"),  # an hourly indicator in a daily report
    ],
)
def test_bad_input_names_the_field_and_the_rule(values, field, rule):
    with pytest.raises(ValidationFailed) as caught:
        m.aqi(values)
    assert (caught.value.issues[0].field, caught.value.issues[0].rule) == (field, rule)


def test_bare_names_mean_the_reports_averaging():
    assert m.resolve("pm25") == "pm25_24h"
    assert m.resolve("PM2.5", report="hourly") == "pm25_1h"
    assert m.resolve("o3") == "o3_8h"
    with pytest.raises(ValidationFailed, match="o3_1h or o3_8h"):
        m.resolve("o3", "HJ633-2012")


INDICATORS = sorted(TABLE_2026)


@given(
    st.sampled_from(INDICATORS),
    st.sampled_from(["HJ633-2026", "HJ633-2012"]),
    st.integers(min_value=0, max_value=4000),
    st.integers(min_value=0, max_value=4000),
)
def test_iaqi_never_falls_as_the_concentration_rises(indicator, standard, a, b):
    low, high = sorted((a, b))
    assert m.iaqi(indicator, Decimal(low), standard) <= m.iaqi(indicator, Decimal(high), standard)


@given(st.sampled_from(INDICATORS), st.sampled_from(["HJ633-2026", "HJ633-2012"]), st.data())
def test_on_a_breakpoint_the_iaqi_is_its_grade_and_between_two_it_is_between(
    indicator, standard, data
):
    points = m.table(standard)["indicators"][indicator]["breakpoints"]
    index = data.draw(st.integers(min_value=1, max_value=len(points) - 1))
    assert m.iaqi(indicator, Decimal(points[index]), standard) == GRADES[index]
    inside = data.draw(st.integers(min_value=points[index - 1], max_value=points[index]))
    assert GRADES[index - 1] <= m.iaqi(indicator, Decimal(inside), standard) <= GRADES[index]
