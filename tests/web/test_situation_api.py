"""The command center's situation: cards beside the previous period, open cases per division."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cityops.cases.situation import period_bounds
from tests.conftest import bearer
from tests.web.cases_city import (
    COMMUNITY,
    DISTRICT,
    G1,
    G2,
    GARBAGE,
    IN_G2,
    MANHOLE,
    STREET,
    act,
    dispatched,
)
from tests.web.problems import assert_problem


@pytest.fixture
def week(client, city, clock):
    """Friday 10:00: A is closed, B (1 工作日) dispatched; Monday 11:00: C dispatched, B is red."""
    a = dispatched(client, city, matter_code=MANHOLE)
    act(client, city.handler_sz, a, "report", comment="ok")
    assert act(client, city.patroller, a, "verify_pass").status_code == 200
    dispatched(client, city, matter_code=MANHOLE)
    clock.advance(timedelta(days=3, hours=1))
    city = city.signed_in_again(client, bearer)
    dispatched(client, city, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])
    return city


def _get(client, headers, **params):
    response = client.get("/api/v1/situation", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_week_cards_count_new_closed_open_and_overdue_cases(client, week):
    found = _get(client, week.admin, period="week")
    cards = found["cards"]
    assert cards["accepted"] == {"value": 3, "previous": 0}
    assert cards["closed"] == {"value": 1, "previous": 0}
    assert cards["open"] == {"value": 2}
    assert cards["overdue"] == {"value": 1}
    assert cards["closing_rate"]["value"] == pytest.approx(1 / 3, abs=0.001)
    assert cards["closing_rate"]["previous"] is None  # nothing to close the week before
    assert found["children"] == [{"code": DISTRICT, "open": 2, "yellow": 0, "red": 1}]
    assert found["period"]["from"].startswith("2026-11-17T00:00:00+08:00")
    assert found["period"]["to"].startswith("2026-11-24T00:00:00+08:00")


def test_today_compares_with_yesterday(client, week):
    cards = _get(client, week.admin)["cards"]  # Monday
    assert cards["accepted"] == {"value": 1, "previous": 0}  # C today; nothing on Sunday
    assert cards["closed"] == {"value": 0, "previous": 0}


def test_drilling_down_narrows_every_card_to_the_division(client, week):
    street = _get(client, week.admin, period="week", division=STREET)
    assert street["children"] == [{"code": COMMUNITY, "open": 2, "yellow": 0, "red": 1}]
    community = _get(client, week.admin, period="week", division=COMMUNITY)
    assert community["children"] == [
        {"code": G1, "open": 1, "yellow": 0, "red": 1},
        {"code": G2, "open": 1, "yellow": 0, "red": 0},
    ]
    grid = _get(client, week.admin, period="week", division=G2)
    assert grid["cards"]["accepted"]["value"] == 1
    assert grid["cards"]["closed"]["value"] == 0
    assert grid["cards"]["overdue"] == {"value": 0}
    elsewhere = _get(client, week.admin, period="week", division="410171002")
    assert elsewhere["cards"]["accepted"]["value"] == 0
    assert elsewhere["children"] == []


def test_a_department_handler_sees_only_the_departments_cases(client, week):
    cards = _get(client, week.handler_sz, period="week")["cards"]
    assert cards["accepted"]["value"] == 2  # A and B, not the 环卫 case C
    assert cards["open"] == {"value": 1}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"period": "year"}, "period"), ({"division": "4101"}, "division")],
)
def test_bad_parameters_name_the_field(client, city, params, field):
    response = client.get("/api/v1/situation", params=params, headers=city.admin)
    assert_problem(response, 422)
    assert field in response.text


def test_periods_end_with_today_in_the_city_zone(clock):
    from zoneinfo import ZoneInfo

    previous, start, end = period_bounds("month", clock.now(), ZoneInfo("Asia/Shanghai"))
    assert (end - start, start - previous) == (timedelta(days=30), timedelta(days=30))
    assert end.isoformat() == "2026-11-21T00:00:00+08:00"
