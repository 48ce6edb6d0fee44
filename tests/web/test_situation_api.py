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
    new_case,
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


# --- the charts ------------------------------------------------------------------------------


def _charts(client, headers, **params):
    response = client.get("/api/v1/situation/charts", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _on(index, value=1, size=30):
    counts = [0] * size
    counts[index] = value
    return counts


def test_the_month_trend_counts_each_local_day_by_channel(client, week):
    series = _charts(client, week.admin, period="week")["series"]
    assert series["unit"] == "day"
    assert series["from"] == "2026-10-25T00:00:00+08:00"  # 30 days, Monday the 23rd the last
    assert series["to"] == "2026-11-24T00:00:00+08:00"
    assert len(series["buckets"]) == 30
    assert series["buckets"][26] == "2026-11-20T00:00:00+08:00"  # Friday
    friday_and_monday = [a + b for a, b in zip(_on(26, 2), _on(29), strict=True)]  # A B, C
    assert series["accepted"] == {"hotline": friday_and_monday}
    assert series["accepted_total"] == friday_and_monday
    assert series["closed"] == _on(26)  # A, on time
    assert series["closed_on_time"] == _on(26)


def test_the_trend_s_days_and_hours_are_local(client, week, clock):
    clock.advance(timedelta(hours=14))  # Tuesday 01:00 in Shanghai, still Monday in UTC
    city = week.signed_in_again(client, bearer)
    new_case(client, city.intake, channel="web")
    daily = _charts(client, city.admin, period="week")["series"]
    assert daily["buckets"][-1] == "2026-11-24T00:00:00+08:00"
    # Friday is 25 now; C on Monday (28); the new one on Tuesday (29), Monday by UTC.
    hotline = [a + b for a, b in zip(_on(25, 2), _on(28), strict=True)]
    assert daily["accepted"] == {"hotline": hotline, "web": _on(29)}
    assert daily["accepted_total"][28:] == [1, 1]
    hourly = _charts(client, city.admin, period="day")["series"]
    assert hourly["buckets"][0] == "2026-11-23T02:00:00+08:00"
    assert hourly["accepted"] == {"hotline": _on(9, size=24), "web": _on(23, size=24)}


def test_today_s_trend_counts_the_last_24_hours_by_hour(client, week):
    series = _charts(client, week.admin, period="day")["series"]
    assert series["unit"] == "hour"
    assert series["from"] == "2026-11-22T12:00:00+08:00"  # Sunday noon to Monday 11:59
    assert series["to"] == "2026-11-23T12:00:00+08:00"
    assert series["buckets"][-1] == "2026-11-23T11:00:00+08:00"
    assert series["accepted"] == {"hotline": [0] * 23 + [1]}  # C, Monday 11:00
    assert series["closed"] == [0] * 24  # A was closed on Friday


def test_the_charts_rank_classes_and_departments_of_the_period(client, week):
    found = _charts(client, week.admin, period="week")
    assert found["period"]["from"] == "2026-11-17T00:00:00+08:00"
    assert found["top_classes"] == [
        {"code": MANHOLE, "name": "污水井盖异常", "accepted": 2},
        {"code": GARBAGE, "name": "暴露垃圾", "accepted": 1},
    ]
    assert found["channels"] == [{"channel": "hotline", "accepted": 3}]
    # 市政: A closed on time, B red (2 to close, 1 on time); 环卫: C open, not yet closed.
    assert found["departments"] == [
        {
            "code": "SZ",
            "name": "市政",
            "open": 1,
            "overdue": 1,
            "closed": 1,
            "to_close": 2,
            "closed_on_time": 1,
            "on_time_closing_rate": 0.5,
        },
        {
            "code": "HWS",
            "name": "环卫",
            "open": 1,
            "overdue": 0,
            "closed": 0,
            "to_close": 1,
            "closed_on_time": 0,
            "on_time_closing_rate": 0.0,
        },
    ]


def test_today_s_leaderboard_puts_departments_without_a_rate_last(client, week):
    found = _charts(client, week.admin)  # Monday: only C was accepted today
    assert found["top_classes"] == [{"code": GARBAGE, "name": "暴露垃圾", "accepted": 1}]
    board = [
        (d["code"], d["open"], d["overdue"], d["closed"], d["on_time_closing_rate"])
        for d in found["departments"]
    ]
    assert board == [("HWS", 1, 0, 0, 0.0), ("SZ", 1, 1, 0, None)]


def test_drilling_down_narrows_every_chart(client, week):
    g2 = _charts(client, week.admin, period="week", division=G2)
    assert g2["division"] == G2
    assert g2["top_classes"] == [{"code": GARBAGE, "name": "暴露垃圾", "accepted": 1}]
    assert [d["code"] for d in g2["departments"]] == ["HWS"]
    assert g2["series"]["accepted_total"][29] == 1
    assert sum(g2["series"]["accepted_total"]) == 1
    assert sum(g2["series"]["closed"]) == 0
    g1 = _charts(client, week.admin, period="week", division=G1)
    assert g1["top_classes"] == [{"code": MANHOLE, "name": "污水井盖异常", "accepted": 2}]
    assert [(d["code"], d["overdue"]) for d in g1["departments"]] == [("SZ", 1)]
    elsewhere = _charts(client, week.admin, period="month", division="410171002")
    assert (elsewhere["top_classes"], elsewhere["departments"], elsewhere["channels"]) == (
        [],
        [],
        [],
    )
    assert elsewhere["series"]["accepted"] == {}
    assert elsewhere["series"]["closed"] == [0] * 30


def test_a_department_handler_sees_only_its_department_in_the_charts(client, week):
    found = _charts(client, week.handler_sz, period="week")
    assert [d["code"] for d in found["departments"]] == ["SZ"]
    assert found["top_classes"] == [{"code": MANHOLE, "name": "污水井盖异常", "accepted": 2}]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"period": "year"}, "period"), ({"division": "4101"}, "division")],
)
def test_bad_chart_parameters_name_the_field(client, city, params, field):
    response = client.get("/api/v1/situation/charts", params=params, headers=city.admin)
    assert_problem(response, 422)
    assert field in response.text


def test_the_charts_need_a_signed_in_reader(client):
    assert client.get("/api/v1/situation/charts").status_code == 401
