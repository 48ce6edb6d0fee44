"""The alert engine and rule parsing: pure, with hand-made subjects and readings."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.alerts.engine import AlertEngine, Subject
from cityops.alerts.model import parse_rule
from cityops.kernel.errors import ValidationFailed
from cityops.sensing.metrics import metrics

ZONE = ZoneInfo("Asia/Shanghai")
METRICS = {m.key for m in metrics()}
MIN = 60_000
T0 = 1_795_000_000_000 - 1_795_000_000_000 % (60 * MIN)  # on the hour, 2026-11
PM25 = Subject(1, "AQ-1/pm25", "pm25", 10, "AQ-1", "310101001001001")
PM10 = Subject(2, "AQ-1/pm10", "pm10", 10, "AQ-1", "310101001001001")
LEVEL = Subject(3, "MH-1/manhole_water_level", "manhole_water_level", 11, "MH-1", "31010100200")
NOISE = Subject(4, "NZ-1/noise_laeq", "noise_laeq", 12, "NZ-1", None, {"noise_zone": "1"})


def _engine(*rules: dict, baseline=None) -> AlertEngine:
    engine = AlertEngine(ZONE, baseline)
    engine.set_rules(parse_rule(r, METRICS) for r in rules)
    return engine


def _kinds(engine: AlertEngine, readings) -> list[str]:
    return [t.kind for t in engine.process(readings)]


THRESHOLD = {
    "key": "pm25-high",
    "kind": "threshold",
    "metric": "pm25",
    "condition": {"above": 150, "for_minutes": 10, "clear": 115},
}


def test_a_threshold_raises_only_after_holding_for_its_duration():
    engine = _engine(THRESHOLD)
    assert _kinds(engine, [(PM25, T0, 160), (PM25, T0 + 5 * MIN, 170)]) == []
    assert _kinds(engine, [(PM25, T0 + 10 * MIN, 180)]) == ["raise"]
    assert _kinds(engine, [(PM25, T0 + 11 * MIN, 190)]) == ["update"]


def test_a_dip_below_the_limit_restarts_the_clock():
    engine = _engine(THRESHOLD)
    assert _kinds(engine, [(PM25, T0, 160), (PM25, T0 + 5 * MIN, 140)]) == []
    assert _kinds(engine, [(PM25, T0 + 12 * MIN, 160)]) == []  # held 0 min since the dip
    assert _kinds(engine, [(PM25, T0 + 22 * MIN, 160)]) == ["raise"]


def test_hysteresis_keeps_the_alert_open_until_below_the_clear_value():
    engine = _engine(THRESHOLD)
    engine.process([(PM25, T0, 200), (PM25, T0 + 10 * MIN, 200)])
    assert _kinds(engine, [(PM25, T0 + 11 * MIN, 140)]) == ["update"]  # 140 > 115: still on
    assert _kinds(engine, [(PM25, T0 + 12 * MIN, 110)]) == ["clear"]
    assert _kinds(engine, [(PM25, T0 + 13 * MIN, 140)]) == []  # back under 150: not raised


def test_suppression_holds_back_a_new_alert_after_a_clear():
    engine = _engine({**THRESHOLD, "suppress_minutes": 30, "condition": {"above": 150}})
    assert _kinds(engine, [(PM25, T0, 200)]) == ["raise"]
    assert _kinds(engine, [(PM25, T0 + MIN, 100)]) == ["clear"]
    assert _kinds(engine, [(PM25, T0 + 10 * MIN, 200)]) == []
    assert _kinds(engine, [(PM25, T0 + 31 * MIN, 200)]) == ["raise"]


def test_older_readings_than_the_newest_seen_are_skipped():
    engine = _engine({**THRESHOLD, "condition": {"above": 150}})
    assert _kinds(engine, [(PM25, T0 + 5 * MIN, 100)]) == []
    assert _kinds(engine, [(PM25, T0, 999)]) == []  # late: the rollups take it, not the alerts


def test_a_rising_water_level_raises_a_rate_alert():
    engine = _engine(
        {
            "key": "manhole-rising",
            "kind": "rate",
            "metric": "manhole_water_level",
            "condition": {"rise": 0.2, "window_minutes": 10},
        }
    )
    assert _kinds(engine, [(LEVEL, T0, 0.1), (LEVEL, T0 + 5 * MIN, 0.2)]) == []
    assert _kinds(engine, [(LEVEL, T0 + 9 * MIN, 0.35)]) == ["raise"]
    # 20 min later the level is steady: the change over the window is small, the alert clears.
    assert _kinds(engine, [(LEVEL, T0 + 30 * MIN, 0.35), (LEVEL, T0 + 31 * MIN, 0.36)]) == ["clear"]


def test_missing_data_is_judged_by_the_sweep():
    engine = _engine(
        {"key": "silent", "kind": "missing", "metric": "pm25", "condition": {"after_minutes": 15}}
    )
    assert engine.process([(PM25, T0, 50)]) == []  # not judged on readings
    assert [t.kind for t in engine.sweep_missing([PM25], {1: T0}, T0 + 10 * MIN)] == []
    raised = engine.sweep_missing([PM25], {1: T0}, T0 + 16 * MIN)
    assert [t.kind for t in raised] == ["raise"]
    assert "silent" in raised[0].message
    assert [t.kind for t in engine.sweep_missing([PM25], {1: T0 + 17 * MIN}, T0 + 18 * MIN)] == [
        "clear"
    ]


def test_a_station_aqi_of_level_four_raises_one_device_alert():
    engine = _engine(
        {"key": "aqi-4", "kind": "aqi", "level": "II", "condition": {"level_at_least": 4}}
    )
    # PM2.5 1 h mean 160 µg/m³ → IAQI 200 + (160 − 150) × 100 / 100 = 210 (2026 breakpoints
    # 150 → 200, 250 → 300): level 5. The PM10 reading (IAQI 75) keeps the one alert open.
    transitions = engine.process([(PM10, T0, 100), (PM25, T0, 160)])
    assert [t.kind for t in transitions] == ["raise", "update"]
    assert transitions[0].subject_key == "AQ-1"
    assert transitions[0].device_level
    assert transitions[0].value == 210


def test_noise_over_the_zone_night_limit_at_night_only():
    engine = _engine({"key": "noise", "kind": "noise_night", "metric": "noise_laeq",
                      "condition": {"for_minutes": 30}})  # fmt: skip
    # Zone 1: night limit 45 dB(A). 14:00Z is 22:00 in Shanghai: night.
    night = T0 - T0 % (24 * 60 * MIN) + 14 * 60 * MIN
    day = night - 8 * 60 * MIN
    assert _kinds(engine, [(NOISE, day, 60), (NOISE, day + 40 * MIN, 60)]) == []
    assert _kinds(engine, [(NOISE, night, 50), (NOISE, night + 20 * MIN, 50)]) == []
    assert _kinds(engine, [(NOISE, night + 31 * MIN, 50)]) == ["raise"]


def test_an_anomaly_against_the_same_hour_of_past_weeks():
    engine = _engine(
        {"key": "odd", "kind": "anomaly", "metric": "pm25", "condition": {"z": 3.5}},
        baseline=lambda stream, at: (40.0, 5.0, 4),
    )
    assert _kinds(engine, [(PM25, T0, 50)]) == []  # z = 10 / 7.4 = 1.3
    assert _kinds(engine, [(PM25, T0 + MIN, 80)]) == ["raise"]  # z = 40 / 7.4 = 5.4


def test_rules_watch_only_their_division_and_devices():
    engine = _engine({**THRESHOLD, "condition": {"above": 150}, "division": "3101010020"})
    assert _kinds(engine, [(PM25, T0, 200)]) == []
    other = Subject(5, "AQ-2/pm25", "pm25", 13, "AQ-2", "310101002001001")
    assert _kinds(engine, [(other, T0, 200)]) == ["raise"]
    only = _engine({**THRESHOLD, "condition": {"above": 150}, "things": ["AQ-9"]})
    assert _kinds(only, [(PM25, T0, 200), (other, T0, 200)]) == []


def test_restored_open_alerts_clear_after_a_restart():
    engine = _engine({**THRESHOLD, "condition": {"above": 150}})
    engine.restore([("pm25-high", "AQ-1/pm25")])
    assert _kinds(engine, [(PM25, T0, 100)]) == ["clear"]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"key": "Bad Key"}, "key", "pattern"),
        ({"kind": "magic"}, "kind", "one_of"),
        ({"metric": "pm1"}, "metric", "known_metric"),
        ({"level": "V"}, "level", "one_of"),
        ({"condition": {"above": 1, "below": 2}}, "condition", "one_of"),
        ({"condition": {"above": "high"}}, "condition.above", "number"),
        (
            {"condition": {"above": 1, "window_minutes": 5}},
            "condition.window_minutes",
            "known_field",
        ),
        ({"condition": {"above": 1, "for_minutes": -1}}, "condition.for_minutes", "range"),
        ({"case": {"text": "x"}}, "case.matter_code", "required"),
    ],
)
def test_a_bad_rule_names_the_field_and_the_rule(change, field, rule):
    with pytest.raises(ValidationFailed) as caught:
        parse_rule({**THRESHOLD, **change}, METRICS)
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == (field, rule)


@settings(max_examples=200)
@given(st.lists(st.floats(0, 400), min_size=1, max_size=60))
def test_raises_and_clears_alternate_whatever_the_readings(values):
    engine = _engine({**THRESHOLD, "condition": {"above": 150, "clear": 115, "for_minutes": 2}})
    kinds = [
        t.kind for i, v in enumerate(values) for t in engine.process([(PM25, T0 + i * MIN, v)])
    ]
    lifecycle = [k for k in kinds if k != "update"]
    assert all(a != b for a, b in zip(lifecycle, lifecycle[1:], strict=False))
    assert not lifecycle or lifecycle[0] == "raise"
    # An update only ever follows an open alert.
    open_now = False
    for kind in kinds:
        assert kind != "update" or open_now
        open_now = kind in ("raise", "update")
