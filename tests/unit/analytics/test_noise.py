"""Noise index under GB 3096—2008, against the standard's own table and rules.

表1 is restated below as printed so that a slip in the data file shows here; the Leq, Ld/Ln and
Ldn vectors are worked by hand in the comments beside them (lg is log10).
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cityops.analytics import noise as m
from cityops.kernel.errors import ValidationFailed

# GB 3096—2008 表1 环境噪声限值, dB(A): zone → (昼间, 夜间).
TABLE_1 = {
    "0": (50, 40),
    "1": (55, 45),
    "2": (60, 50),
    "3": (65, 55),
    "4a": (70, 55),
    "4b": (70, 60),
}
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY0 = datetime(2026, 5, 1, tzinfo=SHANGHAI)  # any date: only the wall-clock time matters
HOUR = timedelta(hours=1)


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour, minutes=minute)


def test_the_data_file_holds_table_1():
    data = m.table()
    assert data["standard"] == "GB 3096—2008"
    assert data["title"] == "声环境质量标准"
    assert data["unit"] == "dB(A)"
    assert {z["zone"]: (z["day"], z["night"]) for z in data["zones"]} == TABLE_1
    assert m.zones() == ("0", "1", "2", "3", "4a", "4b")


def test_the_data_file_holds_the_periods_and_the_5_4_and_railway_rules():
    data = m.table()
    assert data["periods"]["day"] == {"name": "昼间", "start": "06:00", "end": "22:00"}
    assert data["periods"]["night"] == {"name": "夜间", "start": "22:00", "end": "06:00"}
    assert data["night_maximum"]["clause"] == "5.4"
    assert data["night_maximum"]["above_night_limit"] == 15
    background = data["railway"]["existing_lines_background"]
    assert (background["clause"], background["day"], background["night"]) == ("5.3", 70, 55)
    assert data["railway"]["4b_applies_to"]["clause"] == "5.2"


@pytest.mark.parametrize(("zone", "expected"), sorted(TABLE_1.items()))
def test_limits_per_zone(zone, expected):
    found = m.limits(zone)
    assert (found.day, found.night) == expected
    assert found.lmax_night == expected[1] + 15  # 5.4
    assert found.name == f"{zone}类声环境功能区"


def test_zone_spellings_are_understood():
    assert m.limits("4A").zone == "4a"
    assert m.limits(" 4b类 ").zone == "4b"
    assert m.limits(1).day == 55


@pytest.mark.parametrize("zone", ["5", "4", "", "x"])
def test_an_unknown_zone_names_the_field_the_rule_and_the_valid_zones(zone):
    with pytest.raises(ValidationFailed) as caught:
        m.limits(zone)
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == ("zone", "one_of")
    assert "0, 1, 2, 3, 4a, 4b" in issue.message
    if zone == "4":
        assert "4a or 4b" in issue.message


@pytest.mark.parametrize(
    ("levels", "durations", "expected"),
    [
        ([60, 60, 60], None, 60.0),
        # 10·lg((10^5 + 10^6)/2) = 10·lg(550 000) = 50 + 10·lg 5.5 = 57.4036
        ([50, 60], None, 57.40362689),
        # 10·lg((1·10^7 + 3·10^6)/4) = 10·lg(3.25·10^6) = 60 + 10·lg 3.25 = 65.1188
        ([70, 60], [1, 3], 65.11883361),
        # 10·lg((10^8 + 10^0)/2) ≈ 80 − 10·lg 2 = 76.9897: a quiet sample barely counts
        ([80, 0], None, 76.98970009),
        # a zero-length interval weighs nothing: only the 50 counts
        ([50, 90], [2, 0], 50.0),
        # minutes or hours: only the ratio matters, 45 min at 62 and 15 min at 70:
        # 10·lg((45·10^6.2 + 15·10^7)/60) = 10·lg(0.75·1.58489·10^6 + 0.25·10^7)
        #   = 10·lg((1.18867 + 2.5)·10^6) = 60 + 10·lg 3.68867 = 65.6687
        ([62, 70], [45, 15], 65.66869791),
    ],
)
def test_leq_by_hand(levels, durations, expected):
    assert m.leq(levels, durations) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("ld", "ln", "expected"),
    [
        # (16·10^6 + 8·10^((50+10)/10))/24 = 24·10^6/24 = 10^6 → 60.0
        (60, 50, 60.0),
        # Ln + 10 = Ld again: 55.0
        (55, 45, 55.0),
        # (16·10^6 + 8·10^6.5)/24 = (16 + 25.2982)·10^6/24 = 1.72076·10^6 → 62.357
        (60, 55, 62.35720105),
        # (16·10^7 + 8·10^5)/24 = 160.8·10^6/24 = 6.7·10^6 → 68.261
        (70, 40, 68.26074803),
    ],
)
def test_ldn_by_hand(ld, ln, expected):
    assert m.ldn(ld, ln) == pytest.approx(expected, abs=1e-6)


def test_ldn_follows_changed_periods():
    # 昼间 06:00–23:00 (17 h), 夜间 23:00–06:00 (7 h):
    # (17·10^7 + 7·10^5)/24 = 170.7·10^6/24 = 7.1125·10^6 → 68.520, not 68.261
    periods = m.Periods.of("06:00", "23:00")
    assert (periods.day_length, periods.night_length) == (17 * HOUR, 7 * HOUR)
    assert m.ldn(70, 40, periods) == pytest.approx(68.52022279, abs=1e-6)


def test_day_night_from_24_hourly_values():
    # 06–21 h at 60 (16 values), 22 and 23 h at 56, 00–05 h at 50.
    # Ld = 60.0; Ln = 10·lg((2·10^5.6 + 6·10^5)/8) = 10·lg((796 214 + 600 000)/8) = 52.419 → 52.4;
    # Ldn = 10·lg((16·10^6 + 8·10^6.2419)/24) = 10·lg((16 + 13.963)·10^6/24) = 60.96 → 61.0.
    samples = [(at(h), 60 if 6 <= h < 22 else 56 if h >= 22 else 50) for h in range(24)]
    result = m.day_night(samples)
    assert (result.ld, result.ln, result.ldn) == (Decimal("60.0"), Decimal("52.4"), Decimal("61.0"))
    assert result.missing == ()
    assert result.counts == {"day": 16, "night": 8}
    assert result.hours is None  # no durations given


def test_the_night_crosses_midnight():
    # 22:00–06:00 on two calendar dates is one night: 22 h and 23 h at 50, 00–05 h at 50 too.
    night = [(at(22), 50), (at(23), 50)] + [(at(h, day=1), 50) for h in range(6)]
    result = m.day_night([*night, (at(6, day=1), 70)])
    assert (result.ld, result.ln) == (Decimal("70.0"), Decimal("50.0"))
    assert result.counts == {"day": 1, "night": 8}
    # Ld = 70, Ln + 10 = 60: (16·10^7 + 8·10^6)/24 = 168·10^6/24 = 7·10^6 → 68.45 → 68.5
    assert result.ldn == Decimal("68.5")


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        (time(5, 59, 59), "night"),
        (time(6, 0), "day"),  # a period includes its start…
        (time(21, 59), "day"),
        (time(22, 0), "night"),  # …and not its end
        (time(0, 0), "night"),
        (time(12, 0), "day"),
    ],
)
def test_period_of_under_the_standards_periods(clock, expected):
    assert m.period_of(clock) == expected
    assert m.period_of(datetime.combine(DAY0.date(), clock, tzinfo=SHANGHAI)) == expected


def test_period_of_under_a_local_division():
    periods = m.Periods.of("07:00", "23:00")  # a city that starts the night at 23:00
    assert m.period_of(time(6, 30), periods) == "night"
    assert m.period_of(time(22, 30), periods) == "day"
    assert m.period_of(time(23, 0), periods) == "night"
    odd = m.Periods.of(time(20, 0), time(4, 0))  # a day that itself crosses midnight
    assert m.period_of(time(1, 0), odd) == "day"
    assert m.period_of(time(5, 0), odd) == "night"
    assert (odd.day_length, odd.night_length) == (8 * HOUR, 16 * HOUR)


def test_a_timed_sample_is_split_at_the_period_boundary():
    # 21:30–22:30: half in the day, half in the night, both at its level.
    result = m.day_night([(at(21, 30), 60, HOUR)])
    assert (result.ld, result.ln) == (Decimal("60.0"), Decimal("60.0"))
    assert result.hours == {"day": 0.5, "night": 0.5}
    # 05:00–07:00 at 50 plus 07:00–08:00 at 62: the day gets 1 h at 50 and 1 h at 62:
    # Ld = 10·lg((10^5 + 10^6.2)/2) = 10·lg(842 474) = 59.26 → 59.3; Ln = 50.0 (1 h).
    split = m.day_night([(at(5), 50, 2 * HOUR), m.Sample(at(7), 62, HOUR)])
    assert (split.ld, split.ln) == (Decimal("59.3"), Decimal("50.0"))
    assert split.hours == {"day": 2.0, "night": 1.0}


def test_a_two_day_interval_is_shared_out_by_the_periods():
    result = m.day_night([(at(0), 55, 48 * HOUR)])
    assert result.hours == {"day": 32.0, "night": 16.0}


def test_a_period_without_samples_is_none_and_said_so():
    daytime = m.day_night([(at(9), 58), (at(15), 62)])
    assert daytime.ln is None
    assert daytime.ldn is None
    assert daytime.missing == ("night",)
    # 10·lg((10^5.8 + 10^6.2)/2) = 10·lg(1 084 755) = 60.35 → 60.4
    assert daytime.ld == Decimal("60.4")
    nothing = m.day_night([])
    assert nothing.missing == ("day", "night")
    assert nothing.as_json()["ld"] is None


@pytest.mark.parametrize(
    ("zone", "ln", "limit", "over", "complies"),
    [
        ("4a", 58, 55, "3.0", False),  # the same road-side night level…
        ("4b", 58, 60, "0.0", True),  # …complies beside a (new) railway line
        ("0", 40, 40, "0.0", True),  # on the limit complies
        ("0", "40.06", 40, "0.1", False),  # 40.06 → 40.1
        ("1", "45.05", 45, "0.0", True),  # 45.05 → 45.0: half to even
        ("1", "45.15", 45, "0.2", False),  # 45.15 → 45.2
        ("3", 61.24, 55, "6.2", False),
    ],
)
def test_night_exceedance_per_zone(zone, ln, limit, over, complies):
    check = m.assess(zone, ln=ln).night
    assert (check.limit, check.over, check.complies) == (limit, Decimal(over), complies)
    assert check.name == "夜间"


def test_day_exceedance_and_the_whole_assessment():
    result = m.assess("2", ld=63.46, ln=49.9)
    assert result.day.measured == Decimal("63.5")
    assert result.day.over == Decimal("3.5")
    assert result.night.complies is True
    assert result.lmax_night is None
    assert result.complies is False
    assert m.assess("2").complies is None  # nothing measured, nothing judged
    assert result.as_json() == {
        "standard": "GB 3096—2008",
        "zone": "2",
        "zone_name": "2类声环境功能区",
        "complies": False,
        "day": {
            "period": "day",
            "name": "昼间",
            "limit": 60,
            "measured": 63.5,
            "over": 3.5,
            "complies": False,
        },
        "night": {
            "period": "night",
            "name": "夜间",
            "limit": 50,
            "measured": 49.9,
            "over": 0.0,
            "complies": True,
        },
        "lmax_night": None,
    }


@pytest.mark.parametrize(
    ("zone", "lmax", "limit", "complies"),
    [
        ("2", 65, 65, True),  # night 50 + 15
        ("2", "65.1", 65, False),
        ("4a", 70.04, 70, True),  # 55 + 15; 70.04 → 70.0
        ("4b", 75, 75, True),  # 60 + 15
        ("0", 56, 55, False),  # 40 + 15
    ],
)
def test_the_night_maximum_may_exceed_the_night_limit_by_at_most_15(zone, lmax, limit, complies):
    result = m.assess(zone, ln=0, lmax_night=lmax)
    assert (result.lmax_night.limit, result.lmax_night.complies) == (limit, complies)
    assert result.complies is complies  # the quiet Ln complies: L_max decides


def test_levels_are_published_to_one_decimal_half_to_even():
    assert m.published("ld", "55.25") == Decimal("55.2")
    assert m.published("ld", "55.35") == Decimal("55.4")
    assert m.published("ld", 55) == Decimal("55.0")


@pytest.mark.parametrize(
    ("call", "field", "rule"),
    [
        (lambda: m.leq([]), "levels", "non_empty"),
        (lambda: m.leq([50, math.nan]), "levels[1]", "finite"),
        (lambda: m.leq([50, math.inf]), "levels[1]", "finite"),
        (lambda: m.leq([50, 60], [1]), "durations", "same_length"),
        (lambda: m.leq([50, 60], [1, -1]), "durations[1]", "non_negative"),
        (lambda: m.leq([50], [0]), "durations", "positive_total"),
        (lambda: m.assess("1", ld="loud"), "ld", "number"),
        (lambda: m.assess("1", ln=math.inf), "ln", "finite"),
        (lambda: m.assess("1", lmax_night="nan"), "lmax_night", "finite"),
        (lambda: m.assess("9", ld=50), "zone", "one_of"),
        (lambda: m.day_night([(at(1), 50), (at(2), 50, HOUR)]), "durations", "all_or_none"),
        (lambda: m.day_night([(at(1), 50), (at(2), math.nan)]), "samples[1].level", "finite"),
        (lambda: m.day_night([(at(1), 50, timedelta(0))]), "samples[0].duration", "positive"),
        (lambda: m.day_night([("01:00", 50)]), "samples[0].at", "datetime"),
        (lambda: m.Periods.of("06:00", "06:00"), "periods", "distinct"),
        (lambda: m.Periods.of("6 am", "22:00"), "day_start", "time"),
        (lambda: m.table("GB3096-93"), "standard", "one_of"),
    ],
)
def test_bad_input_names_the_field_and_the_rule(call, field, rule):
    with pytest.raises(ValidationFailed) as caught:
        call()
    assert (caught.value.issues[0].field, caught.value.issues[0].rule) == (field, rule)


LEVELS = st.floats(min_value=-10, max_value=150, allow_nan=False)
WEIGHTS = st.floats(min_value=0.01, max_value=1000, allow_nan=False)


@given(st.lists(st.tuples(LEVELS, WEIGHTS), min_size=1, max_size=30))
def test_leq_lies_between_the_quietest_and_the_loudest(pairs):
    levels = [level for level, _ in pairs]
    result = m.leq(levels, [weight for _, weight in pairs])
    assert min(levels) <= result <= max(levels)
    assert m.leq(levels) <= max(levels)


@given(st.lists(LEVELS, min_size=1, max_size=30), LEVELS)
def test_adding_a_louder_sample_never_lowers_leq(levels, extra):
    before = m.leq(levels)
    after = m.leq([*levels, extra])
    if extra >= before:
        assert after >= before - 1e-9
    else:
        assert after <= before + 1e-9


@given(st.lists(LEVELS, min_size=2, max_size=30), st.data())
def test_raising_one_level_never_lowers_leq(levels, data):
    index = data.draw(st.integers(min_value=0, max_value=len(levels) - 1))
    louder = [*levels]
    louder[index] += data.draw(st.floats(min_value=0, max_value=20))
    assert m.leq(louder) >= m.leq(levels) - 1e-9
    assert m.leq(list(reversed(levels))) == pytest.approx(m.leq(levels), abs=1e-9)


@given(st.lists(LEVELS, min_size=1, max_size=30), st.floats(min_value=-30, max_value=30))
def test_shifting_every_level_shifts_leq_by_the_same(levels, shift):
    assert m.leq([v + shift for v in levels]) == pytest.approx(m.leq(levels) + shift, abs=1e-6)


@given(LEVELS, LEVELS)
def test_ldn_lies_between_ld_and_the_penalised_ln(ld, ln):
    result = m.ldn(ld, ln)
    if ln + 10 >= ld:
        assert ld - 1e-9 <= result <= ln + 10 + 1e-9
    else:
        assert ln + 10 - 1e-9 <= result <= ld + 1e-9
    assert m.ldn(ld, ln + 1) >= result - 1e-9  # a louder night never lowers Ldn


MINUTES = st.integers(min_value=0, max_value=24 * 60 - 1)


def clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@given(MINUTES, MINUTES, MINUTES)
def test_a_full_day_is_shared_by_the_period_lengths_from_any_start(day, night, start):
    assume(day != night)
    periods = m.Periods(clock(day), clock(night))
    result = m.day_night([(at(0) + timedelta(minutes=start), 60, 24 * HOUR)], periods)
    assert result.hours["day"] == pytest.approx(periods.day_length / HOUR)
    assert result.hours["night"] == pytest.approx(periods.night_length / HOUR)
    assert periods.day_length + periods.night_length == 24 * HOUR
    assert m.period_of(clock(day), periods) == "day"
    assert m.period_of(clock(night), periods) == "night"


@given(st.lists(st.tuples(MINUTES, LEVELS), min_size=1, max_size=40))
def test_untimed_samples_pool_by_their_period(pairs):
    samples = [(at(0) + timedelta(minutes=minute), level) for minute, level in pairs]
    result = m.day_night(samples)
    day = [level for minute, level in pairs if 6 * 60 <= minute < 22 * 60]
    night = [level for minute, level in pairs if not 6 * 60 <= minute < 22 * 60]
    assert result.counts == {"day": len(day), "night": len(night)}
    assert (result.ld is None) == (not day)
    if day:
        assert abs(result.ld - Decimal(repr(m.leq(day)))) <= Decimal("0.05")
