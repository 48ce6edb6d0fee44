"""The telemetry API over HTTP: devices, the observation batch door, time-series queries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.web.problems import assert_problem, assert_rule

HOUR = timedelta(hours=1)


@pytest.fixture
def gateway(services, system):
    """An integration's API key allowed to send readings and register devices."""
    _, secret = services.api_keys.issue(
        system, name="gateway", permissions=["telemetry:write", "telemetry:read"]
    )
    return {"X-API-Key": secret}


@pytest.fixture
def station(client, gateway):
    """A registered air station with PM2.5 and noise datastreams."""
    thing = client.post("/api/v1/things", json={"key": "AQ-7", "name": "七号站"}, headers=gateway)
    assert thing.status_code == 201, thing.text
    for metric in ("pm25", "noise_laeq"):
        created = client.post(
            "/api/v1/things/AQ-7/datastreams", json={"metric": metric}, headers=gateway
        )
        assert created.status_code == 201, created.text
    return thing.json()


def _at(clock, minutes_ago: int) -> str:
    return (clock.now() - timedelta(minutes=minutes_ago)).isoformat()


def test_a_batch_stores_good_items_and_names_each_refusal(client, gateway, station, clock):
    items = [
        {"datastream": "AQ-7/pm25", "time": _at(clock, 2), "value": 35},
        {"datastream": "AQ-7/pm25", "time": _at(clock, 1), "value": 0.04, "unit": "mg/m3"},
        {"datastream": "AQ-7/pm25", "time": "yesterday", "value": 1},
        {"datastream": "AQ-9/pm25", "time": _at(clock, 1), "value": 1},
        {"datastream": "AQ-7/pm25", "time": _at(clock, 3), "value": -5},
    ]
    answer = client.post("/api/v1/observations", json=items, headers=gateway)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["accepted"], report["duplicates"], report["rejected"]) == (2, 0, 3)
    assert [(e["index"], e["field"], e["rule"]) for e in report["errors"]] == [
        (2, "observations[2].time", "iso8601"),
        (3, "observations[3].datastream", "known_datastream"),
        (4, "observations[4].value", "in_range"),
    ]
    latest = client.get(
        "/api/v1/timeseries/latest", params={"datastream": "AQ-7/pm25"}, headers=gateway
    ).json()
    assert latest[0]["value"] == pytest.approx(40.0)  # 0.04 mg/m³ stored as 40 µg/m³


def test_the_same_batch_twice_is_stored_once(client, gateway, station, clock):
    items = [{"datastream": "AQ-7/pm25", "time": _at(clock, m), "value": m} for m in range(5)]
    first = client.post("/api/v1/observations", json={"observations": items}, headers=gateway)
    again = client.post("/api/v1/observations", json={"observations": items}, headers=gateway)
    assert first.json()["accepted"] == 5
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 5)


def test_csv_lines_and_device_readings_are_accepted(client, gateway, station, clock):
    lines = f"AQ-7/pm25,{_at(clock, 4)},12\nAQ-7/pm25,{_at(clock, 3)},13,suspect\n"
    answer = client.post(
        "/api/v1/observations", content=lines, headers={**gateway, "Content-Type": "text/csv"}
    )
    assert answer.json()["accepted"] == 2, answer.text
    device = [{"thing": "AQ-7", "time": _at(clock, 2), "values": {"pm25": 20, "noise_laeq": 61}}]
    assert client.post("/api/v1/observations", json=device, headers=gateway).json()["accepted"] == 2


def test_a_batch_of_only_bad_items_is_a_422_naming_them(client, gateway, station, clock):
    answer = client.post(
        "/api/v1/observations",
        json=[{"datastream": "AQ-7/pm25", "time": _at(clock, 1), "value": "high"}],
        headers=gateway,
    )
    assert_rule(answer, "observations[0].value", "number")


def test_more_than_ten_thousand_items_are_refused_whole(client, gateway, station, clock):
    item = {"datastream": "AQ-7/pm25", "time": _at(clock, 1), "value": 1}
    answer = client.post("/api/v1/observations", json=[item] * 10_001, headers=gateway)
    assert_rule(answer, "observations", "max_items")


def test_malformed_bodies_name_the_rule(client, gateway, station):
    bad_json = client.post(
        "/api/v1/observations",
        content=b"[{",
        headers={**gateway, "Content-Type": "application/json"},
    )
    assert_rule(bad_json, "body", "json")
    not_a_list = client.post("/api/v1/observations", json={"items": []}, headers=gateway)
    assert_rule(not_a_list, "observations", "array")


def test_sending_readings_needs_telemetry_write(client, services, system, station, clock):
    _, reader = services.api_keys.issue(system, name="reader", permissions=["telemetry:read"])
    item = [{"datastream": "AQ-7/pm25", "time": _at(clock, 1), "value": 1}]
    assert_problem(
        client.post("/api/v1/observations", json=item, headers={"X-API-Key": reader}), 403
    )
    assert_problem(client.post("/api/v1/observations", json=item), 401)


def test_hourly_aggregates_and_percentiles(client, gateway, station, clock):
    items = [
        {"datastream": "AQ-7/pm25", "time": _at(clock, m), "value": float(m)} for m in range(1, 121)
    ]
    assert (
        client.post("/api/v1/observations", json=items, headers=gateway).json()["accepted"] == 120
    )
    answer = client.get(
        "/api/v1/timeseries",
        params={
            "datastream": "AQ-7/pm25",
            "start": (clock.now() - 3 * HOUR).isoformat(),
            "end": clock.now().isoformat(),
            "interval": "1h",
            "functions": "avg,min,max,count,p50",
        },
        headers=gateway,
    )
    assert answer.status_code == 200, answer.text
    points = answer.json()["series"][0]["points"]
    # The clock stands on the hour (02:00Z): readings 1–60 min ago fall in 01:00, 61–120 in 00:00.
    assert [(p["count"], p["min"], p["max"]) for p in points] == [(60, 61, 120), (60, 1, 60)]
    assert [p["avg"] for p in points] == [90.5, 30.5]
    assert [p["p50"] for p in points] == [90.5, 30.5]


def test_unknown_interval_and_function_name_the_field(client, gateway, station):
    for params, field, rule in (
        ({"interval": "7x"}, "interval", "duration"),
        ({"interval": "1h", "functions": "median"}, "functions", "one_of"),
        ({"group_by": "planet"}, "group_by", "one_of"),
    ):
        answer = client.get(
            "/api/v1/timeseries", params={"datastream": "AQ-7/pm25", **params}, headers=gateway
        )
        assert_rule(answer, field, rule)


def test_a_device_shows_its_datastreams_and_goes_offline(client, gateway, station, clock):
    item = [{"datastream": "AQ-7/pm25", "time": _at(clock, 0), "value": 9}]
    client.post("/api/v1/observations", json=item, headers=gateway)
    shown = client.get("/api/v1/things/AQ-7", headers=gateway).json()
    assert shown["online"] is True
    assert {s["metric"]: s["online"] for s in shown["datastreams"]} == {
        "pm25": True,
        "noise_laeq": False,
    }
    clock.advance(timedelta(minutes=4))  # 3 × the 60 s interval without a reading
    assert client.get("/api/v1/things/AQ-7", headers=gateway).json()["online"] is False


def test_registering_twice_and_unknown_metrics_are_refused(client, gateway, station):
    again = client.post("/api/v1/things", json={"key": "AQ-7"}, headers=gateway)
    assert_problem(again, 409)
    unknown = client.post(
        "/api/v1/things/AQ-7/datastreams", json={"metric": "pm1"}, headers=gateway
    )
    assert_rule(unknown, "metric", "known_metric")
    bad_key = client.post("/api/v1/things", json={"key": "空格 key"}, headers=gateway)
    assert_rule(bad_key, "key", "pattern")


def test_the_metric_catalogue_is_served(client, gateway):
    catalogue = {m["key"]: m for m in client.get("/api/v1/metrics", headers=gateway).json()}
    assert catalogue["pm25"]["unit"] == "ug/m3"
    assert catalogue["noise_laeq"]["aggregation"] == "energy_mean"
