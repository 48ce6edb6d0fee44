"""Alerts over HTTP: rules in YAML, alerts raised as readings arrive, the lifecycle, cases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.web.problems import assert_problem, assert_rule

RULES_YAML = """
rules:
  - key: pm25-high
    name: PM2.5 持续超标
    kind: threshold
    metric: pm25
    level: III
    department: HBJ
    condition: {above: 150, for_minutes: 10, clear: 115}
    case: {matter_code: "08004", text: PM2.5 持续超标，疑似工地扬尘}
  - key: station-silent
    kind: missing
    metric: pm25
    level: IV
    condition: {after_minutes: 15}
"""


@pytest.fixture
def admin(services, system):
    _, secret = services.api_keys.issue(
        system,
        name="ops",
        permissions=["telemetry:write", "telemetry:read", "alerts:read", "alerts:manage",
                     "events:read", "cases:read"],
    )  # fmt: skip
    return {"X-API-Key": secret}


@pytest.fixture
def station(services, system):
    services.devices.register_thing(system, {"key": "AQ-1", "lon": 121.47, "lat": 31.23})
    return services.devices.add_datastream(system, "AQ-1", {"metric": "pm25"})


@pytest.fixture
def rules(client, admin):
    answer = client.put(
        "/api/v1/alerts/rules",
        content=RULES_YAML.encode(),
        headers={**admin, "Content-Type": "application/yaml"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _send(client, headers, clock, readings):
    items = [
        {"datastream": "AQ-1/pm25", "time": (clock.now() - timedelta(minutes=ago)).isoformat(),
         "value": value}
        for ago, value in readings
    ]  # fmt: skip
    answer = client.post("/api/v1/observations", json=items, headers=headers)
    assert answer.status_code == 200, answer.text


def test_rules_round_trip_and_refusals_name_the_rule(client, admin, rules):
    assert [r["key"] for r in client.get("/api/v1/alerts/rules", headers=admin).json()] == [
        "pm25-high",
        "station-silent",
    ]
    bad = client.put(
        "/api/v1/alerts/rules",
        json=[{"key": "x", "kind": "threshold", "metric": "pm25", "condition": {"above": "?"}}],
        headers=admin,
    )
    assert_rule(bad, "rules[0].condition.above", "number")


def test_a_sustained_breach_raises_an_alert_in_the_same_request_and_opens_a_case(
    client, admin, station, rules, clock, services
):
    _send(client, admin, clock, [(30, 160), (25, 170)])
    assert client.get("/api/v1/alerts", headers=admin).json() == []
    _send(client, admin, clock, [(19, 180)])  # held 11 minutes: raised by this very request
    queue = client.get("/api/v1/alerts", headers=admin).json()
    assert len(queue) == 1
    alert = queue[0]
    assert (alert["rule"], alert["status"], alert["level"], alert["color_name"]) == (
        "pm25-high",
        "raised",
        "III",
        "黄色",
    )
    assert alert["subject"] == "AQ-1/pm25"
    assert alert["department_code"] == "HBJ"
    # The policy opened a sensor-channel case of class 工地扬尘, linked both ways.
    assert alert["case_id"] is not None
    case = client.get(f"/api/v1/cases/{alert['case_id']}", headers=admin).json()
    assert case["channel"] == "sensor"
    assert case["matter"]["code"] == "08004"
    assert case["external_ref"] == f"alert-{alert['id']}"
    events = client.get("/api/v1/events", headers=admin).json()["items"]
    types = [e["type"] for e in events]
    assert "AlertRaised" in types
    assert "AlertCaseOpened" in types


def test_the_alert_clears_itself_below_the_clear_value(client, admin, station, rules, clock):
    _send(client, admin, clock, [(30, 160), (15, 170)])
    _send(client, admin, clock, [(10, 130)])  # above 115: still breached (hysteresis)
    assert client.get("/api/v1/alerts", headers=admin).json()[0]["occurrences"] == 2
    _send(client, admin, clock, [(5, 100)])
    assert client.get("/api/v1/alerts", headers=admin).json() == []
    resolved = client.get("/api/v1/alerts?status=resolved", headers=admin).json()
    assert resolved[0]["resolution"] == "auto"


def test_acknowledge_then_resolve_and_illegal_moves_are_409(client, admin, station, rules, clock):
    _send(client, admin, clock, [(30, 200), (10, 200)])
    alert_id = client.get("/api/v1/alerts", headers=admin).json()[0]["id"]
    acked = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=admin)
    assert acked.json()["status"] == "acknowledged"
    assert_problem(client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=admin), 409)
    resolved = client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=admin).json()
    assert (resolved["status"], resolved["resolution"]) == ("resolved", "manual")
    assert_problem(client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=admin), 409)
    summary = client.get("/api/v1/alerts/summary", headers=admin).json()
    assert summary["by_status"]["resolved"] == 1


def test_a_silent_station_is_raised_by_the_sweep(client, admin, station, rules, clock, services):
    _send(client, admin, clock, [(20, 50)])
    services.alerts.sweep({station.id: int(clock.now().timestamp() * 1000) - 20 * 60_000})
    queue = client.get("/api/v1/alerts", headers=admin).json()
    assert [(a["rule"], a["level"]) for a in queue] == [("station-silent", "IV")]


def test_managing_alerts_needs_alerts_manage(
    client, services, system, admin, station, rules, clock
):
    _send(client, admin, clock, [(30, 200), (10, 200)])
    alert_id = client.get("/api/v1/alerts", headers=admin).json()[0]["id"]
    _, reader = services.api_keys.issue(system, name="reader", permissions=["alerts:read"])
    headers = {"X-API-Key": reader}
    assert client.get("/api/v1/alerts", headers=headers).status_code == 200
    assert_problem(client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=headers), 403)
    assert_problem(client.put("/api/v1/alerts/rules", json=[], headers=headers), 403)
