"""The public status page: a citizen follows a case by its number and sees nothing personal."""

from __future__ import annotations

import re

from tests.web.cases_city import act, dispatched, new_case


def _number(client, headers, case_id: int) -> str:
    return str(client.get(f"/api/v1/cases/{case_id}", headers=headers).json()["number"])


def test_a_citizen_follows_a_case_to_closure_without_seeing_personal_data(client, city):
    case_id = dispatched(client, city, reporter_name="李秀英", reporter_phone="13900001111")
    act(client, city.handler_sz, case_id, "report", comment="已由王师傅更换井盖")
    act(client, city.patroller, case_id, "verify_pass", comment="复核合格")
    number = _number(client, city.admin, case_id)

    page = client.get("/status", params={"number": number})  # anonymous: no headers
    assert page.status_code == 200
    assert 'data-status="closed"' in page.text
    assert "污水井盖异常" in page.text
    assert "石佛街道" in page.text
    assert "高新区" in page.text
    steps = re.findall(r'<li data-command="(\w+)">', page.text)
    assert steps == ["accept", "file", "dispatch", "report", "verify_pass"]
    for private in ("李秀英", "13900001111", "王师傅", "复核合格", "sz1", "pat1", "clerk"):
        assert private not in page.text
    assert not re.search(r"\bdisp\b", page.text)  # the dispatcher's username


def test_only_a_whole_number_is_looked_up(client, city):
    case = new_case(client, city.intake)["case"]
    number = case["number"]
    assert client.get("/status", params={"number": number}).status_code == 200
    for wrong in (str(case["id"]), "19990101" + number[8:], number + "9", "x" * 41, "井盖"):
        response = client.get("/status", params={"number": wrong})
        assert response.status_code in (404, 422), wrong
        assert 'data-status="' not in response.text


def test_the_empty_form_and_english(client):
    page = client.get("/status?lang=en")
    assert page.status_code == 200
    assert "Case status" in page.text
    assert 'name="number"' in page.text
    assert client.get("/login").text.count('href="/status"') == 1


def test_a_merged_duplicate_points_to_the_surviving_case(client, city):
    first = new_case(client, city.intake)["case"]
    second = new_case(client, city.intake)["case"]
    merged = client.post(
        f"/api/v1/cases/{second['id']}/merge",
        json={"into": first["number"]},
        headers=city.dispatcher,
    )
    assert merged.status_code == 200, merged.text
    page = client.get("/status", params={"number": second["number"]}).text
    assert f'href="/status?number={first["number"]}"' in page
