"""The intake preview over HTTP: suggestions, place, route and duplicates as the clerk types."""

from __future__ import annotations

import pytest

from tests.web.cases_city import (
    COMMUNITY,
    DISTRICT,
    G1,
    GARBAGE,
    IN_G1,
    MANHOLE,
    STREET,
    new_case,
)
from tests.web.problems import assert_problem, assert_rule

PREVIEW = "/api/v1/cases/preview"
GARBAGE_TEXT = "路边有一大堆暴露垃圾没人清理，臭气熏天"


def preview(client, headers, **fields):
    """Preview a hotline case and return the response."""
    return client.post(PREVIEW, json={"channel": "hotline", **fields}, headers=headers)


def written(client, city) -> tuple[int, int, int]:
    """Return (cases, newest audit id, last event id): what a write would change."""
    cases = client.get("/api/v1/cases", headers=city.admin).json()["total"]
    audit = client.get("/api/v1/audit", params={"limit": 1}, headers=city.admin).json()
    events = client.get("/api/v1/events", params={"limit": 1000}, headers=city.admin).json()
    return cases, audit["items"][0]["id"], events["last_id"]


def test_text_alone_gives_the_suggestions_of_the_classifier_and_no_place(client, city):
    response = preview(client, city.intake, description=GARBAGE_TEXT)
    assert response.status_code == 200, response.text
    body = response.json()
    classified = client.post(
        "/api/v1/cases/classify", json={"text": GARBAGE_TEXT}, headers=city.intake
    ).json()
    assert body["suggestions"] == classified
    assert 1 <= len(body["suggestions"]) <= 3
    assert all(s["name"] and s["source"] in ("model", "rule") for s in body["suggestions"])
    assert body["matter_code"] == body["suggestions"][0]["code"]
    assert body["location"] is None
    assert body["location_note"] is None
    assert body["grid_worker"] is None
    assert body["route_certain"] is False  # no grid yet
    assert body["duplicates"] == []


def test_a_keyword_rule_names_the_class_and_its_department_before_the_place(client, city):
    response = client.put(
        f"/api/v1/cases/rules/{GARBAGE}",
        json={"department_code": "HWS", "limit_normal": "4 工作时", "keywords": ["垃圾山"]},
        headers=city.admin,
    )
    assert response.status_code == 200, response.text
    body = preview(client, city.intake, description="小区门口堆成了垃圾山").json()
    assert body["suggestions"][0] == {
        "code": GARBAGE,
        "name": "暴露垃圾",
        "confidence": 1.0,
        "source": "rule",
    }
    assert body["matter_code"] == GARBAGE
    assert (body["department_code"], body["department_name"]) == ("HWS", "环卫")
    assert body["route_certain"] is False


def test_a_point_in_grid_1_and_the_clerks_class_give_place_department_and_worker(client, city):
    response = preview(client, city.intake, lon=IN_G1[0], lat=IN_G1[1], matter_code=MANHOLE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "suggestions": [
            {"code": MANHOLE, "name": "污水井盖异常", "confidence": 1.0, "source": "clerk"}
        ],
        "matter_code": MANHOLE,
        "location": {
            "lon": IN_G1[0],
            "lat": IN_G1[1],
            "source": "point",
            "grid_code": G1,
            "grid_name": "第1网格",
            "community_code": COMMUNITY,
            "community_name": "科学大道社区",
            "street_code": STREET,
            "street_name": "石佛街道",
            "district_code": DISTRICT,
            "district_name": "高新区",
        },
        "location_note": None,
        "department_code": "SZ",
        "department_name": "市政",
        "grid_worker": "pat1",
        "route_certain": True,
        "duplicates": [],
    }


def test_a_place_without_text_has_no_suggestions(client, city):
    for description in (None, "", "   "):
        body = preview(client, city.intake, description=description, lon=IN_G1[0], lat=IN_G1[1])
        assert body.status_code == 200, body.text
        body = body.json()
        assert body["suggestions"] == []
        assert body["matter_code"] is None
        assert body["location"]["grid_code"] == G1
        assert body["department_code"] is None
        assert body["grid_worker"] == "pat1"
        assert body["route_certain"] is False


def test_an_open_case_of_the_same_class_nearby_is_a_possible_duplicate(client, city):
    first = new_case(client, city.intake, matter_code=MANHOLE)["case"]
    near = (IN_G1[0] + 0.0001, IN_G1[1])  # about 9 m east
    body = preview(
        client, city.intake, description="井盖坏了", lon=near[0], lat=near[1], matter_code=MANHOLE
    ).json()
    assert len(body["duplicates"]) == 1
    duplicate = body["duplicates"][0]
    assert duplicate["case_id"] == first["id"]
    assert duplicate["number"] == first["number"]
    assert duplicate["status"] == "accepted"
    assert 8.0 < duplicate["distance_m"] < 10.0
    other_class = preview(client, city.intake, lon=near[0], lat=near[1], matter_code=GARBAGE)
    assert other_class.json()["duplicates"] == []
    far = preview(client, city.intake, lon=IN_G1[0], lat=IN_G1[1] + 0.001, matter_code=MANHOLE)
    assert far.json()["duplicates"] == []  # about 111 m north: beyond the 50 m of the policy


def test_a_preview_writes_nothing(client, city):
    new_case(client, city.intake, matter_code=MANHOLE)
    before = written(client, city)
    for _ in range(3):
        response = preview(
            client,
            city.intake,
            description="科学大道上有个污水井盖破了",
            lon=IN_G1[0],
            lat=IN_G1[1],
            reporter_name="张三丰",
            reporter_phone="13812345678",
            external_ref="12345-0009",
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["duplicates"]) == 1  # the case made above, not the previews
    assert written(client, city) == before
    # The reference was never taken: intake may still use it.
    created = new_case(client, city.intake, external_ref="12345-0009")
    assert created["created"] is True


def test_previewing_needs_the_create_permission(client, city):
    body = {"channel": "hotline", "description": "井盖坏了", "lon": IN_G1[0], "lat": IN_G1[1]}
    assert_problem(client.post(PREVIEW, json=body, headers=city.viewer), 403)
    assert_problem(client.post(PREVIEW, json=body), 401)
    assert client.post(PREVIEW, json=body, headers=city.intake).status_code == 200


def test_a_scoped_role_previews_only_inside_its_scope_as_at_intake(client, city):
    inside = preview(client, city.patroller, description="井盖坏了", lon=IN_G1[0], lat=IN_G1[1])
    assert inside.status_code == 200, inside.text
    assert inside.json()["location"]["street_code"] == STREET
    body = {"channel": "patroller", "description": "井盖坏了", "lon": 100.0, "lat": 30.0}
    assert_problem(client.post(PREVIEW, json=body, headers=city.patroller), 403)
    assert_problem(client.post("/api/v1/cases", json=body, headers=city.patroller), 403)


@pytest.mark.parametrize(
    ("patch", "field", "rule"),
    [
        ({"lon": 500.0}, "lon", "range"),
        ({"lat": -91.0}, "lat", "range"),
        ({"lat": None}, "lat", "pair"),
        ({"channel": "fax"}, "channel", "one_of"),
        ({"urgency": "asap"}, "urgency", "one_of"),
        ({"description": "坏" * 2001}, "description", "max_length"),
    ],
)
def test_bad_preview_names_the_field_and_rule_as_intake_does(client, city, patch, field, rule):
    body = {"channel": "hotline", "description": "井盖坏了", "lon": IN_G1[0], "lat": IN_G1[1]}
    body.update(patch)
    assert_rule(client.post(PREVIEW, json=body, headers=city.intake), field, rule)
    assert_rule(client.post("/api/v1/cases", json=body, headers=city.intake), field, rule)


def test_an_unknown_class_is_refused_naming_the_field(client, city):
    response = preview(client, city.intake, description="井盖坏了", matter_code="99999")
    assert assert_problem(response, 422)["errors"][0]["field"] == "matter_code"


def test_an_address_that_does_not_resolve_gives_a_note(client, city):
    response = preview(client, city.intake, description="井盖坏了", address="不存在的路888号")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["location"] is None
    assert body["location_note"]["status"] == "not_found"
    assert body["location_note"]["lon"] is None
    assert isinstance(body["location_note"]["candidates"], list)
    assert body["route_certain"] is False
