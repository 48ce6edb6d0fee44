"""The case loop over HTTP: intake, suggestions, idempotency, roles and scope, merge, photos."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.web.cases_city import (
    COMMUNITY,
    G1,
    G2,
    GARBAGE,
    IN_G1,
    IN_G2,
    MANHOLE,
    act,
    new_case,
)
from tests.web.problems import assert_problem, assert_rule

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_intake_places_classifies_routes_and_proposes_the_grid_worker(client, city):
    body = new_case(client, city.intake, matter_code=MANHOLE)
    case = body["case"]
    assert body["created"] is True
    assert case["status"] == "accepted"
    assert case["number"].startswith("20261120")
    assert case["location"]["grid_code"] == G1
    assert case["location"]["community_code"] == COMMUNITY
    assert case["matter"] == {
        "code": MANHOLE,
        "name": "污水井盖异常",
        "major_name": "市政公用设施类",
        "source": "clerk",
        "confidence": 1.0,
    }
    assert case["department_code"] == "SZ"
    assert case["grid_worker"] == "pat1"
    assert case["reporter"]["phone"] == "13812345678"  # the clerk may see the contact


def test_intake_suggests_top3_classes_with_confidence(client, city):
    case = new_case(client, city.intake, description="路边有一大堆暴露垃圾没人清理，臭气熏天")[
        "case"
    ]
    suggestions = case["suggestions"]
    assert 1 <= len(suggestions) <= 3
    assert len({s["code"] for s in suggestions}) == len(suggestions)
    assert all(0.0 <= s["confidence"] <= 1.0 for s in suggestions)
    assert case["matter"]["code"] == suggestions[0]["code"]
    assert case["matter"]["source"] in ("model", "rule")


def test_keyword_rules_win_over_the_model(client, city):
    response = client.put(
        f"/api/v1/cases/rules/{GARBAGE}",
        json={"department_code": "HWS", "limit_normal": "4 工作时", "keywords": ["垃圾山"]},
        headers=city.admin,
    )
    assert response.status_code == 200, response.text
    case = new_case(client, city.intake, description="小区门口堆成了垃圾山")["case"]
    assert case["matter"]["code"] == GARBAGE
    assert case["matter"]["source"] == "rule"
    assert case["suggestions"][0] == {
        "code": GARBAGE,
        "confidence": 1.0,
        "source": "rule",
        "name": "暴露垃圾",
    }


def test_same_channel_and_reference_never_makes_two_cases(client, city):
    first = new_case(client, city.intake, external_ref="12345-0001", matter_code=MANHOLE)
    again = client.post(
        "/api/v1/cases",
        json={"channel": "hotline", "description": "重复推送", "external_ref": "12345-0001"},
        headers=city.intake,
    )
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["case"]["id"] == first["case"]["id"]
    other_channel = new_case(client, city.intake, channel="app", external_ref="12345-0001")
    assert other_channel["case"]["id"] != first["case"]["id"]


@pytest.mark.parametrize(
    ("patch", "field", "rule"),
    [
        ({"description": "   "}, "description", "required"),
        ({"channel": "fax"}, "channel", "one_of"),
        ({"urgency": "asap"}, "urgency", "one_of"),
        ({"lat": None}, "lat", "pair"),
        ({"lon": 500.0}, "lon", "range"),
        ({"matter_code": "99999"}, "matter_code", "class_known"),
        (
            {"component_id": "41017101002999999", "lon": None, "lat": None},
            "component_id",
            "component_exists",
        ),
    ],
)
def test_bad_intake_names_the_field_and_rule(client, city, patch, field, rule):
    body = {"channel": "hotline", "description": "井盖坏了", "lon": IN_G1[0], "lat": IN_G1[1]}
    body.update(patch)
    response = client.post("/api/v1/cases", json=body, headers=city.intake)
    if rule == "class_known":
        problem = assert_problem(response, 422)
        assert problem["errors"][0]["field"] == field
        return
    assert_rule(response, field, rule)


def test_unresolved_address_is_kept_with_a_note(client, city):
    body = new_case(client, city.intake, lon=None, lat=None, address="不存在的路888号")
    assert body["case"]["location"]["address"] == "不存在的路888号"
    assert body["case"]["location"]["grid_code"] is None
    assert body["location_note"]["status"] == "not_found"


def test_the_whole_loop_by_role_with_rework(client, city, services, clock):
    case_id = new_case(client, city.intake, matter_code=MANHOLE)["case"]["id"]
    assert act(client, city.dispatcher, case_id, "file").json()["status"] == "filed"
    dispatched = act(client, city.dispatcher, case_id, "dispatch").json()
    assert dispatched["status"] == "dispatched"
    assert dispatched["deadline"]["limit"] == "1 工作日"
    assert dispatched["deadline"]["light"] == "green"
    assert act(client, city.handler_sz, case_id, "start").json()["status"] == "in_progress"
    photo = client.post(
        f"/api/v1/cases/{case_id}/photos",
        files={"file": ("after.png", PNG, "image/png")},
        headers=city.handler_sz,
    )
    assert photo.status_code == 201, photo.text
    reported = act(
        client,
        city.handler_sz,
        case_id,
        "report",
        comment="已更换井盖",
        attachments=[photo.json()["id"]],
    )
    assert reported.json()["status"] == "handled"
    failed = act(client, city.patroller, case_id, "verify_fail", comment="井盖仍松动")
    assert failed.json()["status"] == "dispatched"
    assert failed.json()["counts"]["reworks"] == 1
    act(client, city.handler_sz, case_id, "report", comment="已加固")
    closed = act(client, city.patroller, case_id, "verify_pass")
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_on_time"] is True
    rated = act(client, city.intake, case_id, "evaluate", satisfaction=5)
    assert rated.json()["status"] == "evaluated"
    whole = client.get(f"/api/v1/cases/{case_id}", headers=city.viewer).json()
    commands = [entry["command"] for entry in whole["history"]]
    assert commands == [
        "accept",
        "file",
        "dispatch",
        "start",
        "report",
        "verify_fail",
        "report",
        "verify_pass",
        "evaluate",
    ]
    assert whole["history"][4]["attachments"] == [photo.json()["id"]]
    assert whole["history"][5]["actor"] == "pat1"
    assert whole["attachments"][0]["content_type"] == "image/png"
    number = whole["number"]
    audit = client.get("/api/v1/audit", params={"object_id": number}, headers=city.admin)
    actions = {entry["action"] for entry in audit.json()["items"]}
    assert {"cases.accept", "cases.dispatch", "cases.verify_fail", "cases.evaluate"} <= actions
    events = client.get("/api/v1/events", params={"limit": 1000}, headers=city.admin).json()[
        "items"
    ]
    moved = [e for e in events if e["type"] == "CaseMoved" and e["payload"]["case_id"] == case_id]
    assert [e["payload"]["command"] for e in moved][-1] == "evaluate"


def test_illegal_command_names_the_state_and_allowed_moves(client, city):
    case_id = new_case(client, city.intake, matter_code=MANHOLE)["case"]["id"]
    response = act(client, city.dispatcher, case_id, "dispatch")
    body = assert_problem(response, 409)
    assert body["current_status"] == "accepted"
    assert body["allowed"] == ["file", "reject", "void", "self_handle"]
    assert "allowed: file, reject, void, self_handle" in body["detail"]


def test_reject_needs_a_reason(client, city):
    case_id = new_case(client, city.intake, matter_code=MANHOLE)["case"]["id"]
    assert_rule(act(client, city.dispatcher, case_id, "reject"), "reason", "required")
    done = act(client, city.dispatcher, case_id, "reject", comment="属于12345咨询类，已答复")
    assert done.json()["status"] == "rejected"


def test_departments_only_see_and_handle_their_own_cases(client, city):
    case_id = new_case(client, city.intake, matter_code=MANHOLE)["case"]["id"]
    act(client, city.dispatcher, case_id, "file")
    act(client, city.dispatcher, case_id, "dispatch")
    assert client.get(f"/api/v1/cases/{case_id}", headers=city.handler_sz).status_code == 200
    assert_problem(client.get(f"/api/v1/cases/{case_id}", headers=city.handler_hws), 404)
    assert_problem(act(client, city.handler_hws, case_id, "start"), 404)
    listed = client.get("/api/v1/cases", headers=city.handler_hws).json()
    assert listed["total"] == 0
    # A dispatcher may not do the department's work, nor a handler verify.
    assert_problem(act(client, city.dispatcher, case_id, "report"), 403)
    assert_problem(act(client, city.handler_sz, case_id, "verify_pass"), 403)


def test_contact_is_masked_for_roles_that_need_not_see_it(client, city):
    case_id = new_case(client, city.intake, matter_code=MANHOLE)["case"]["id"]
    seen = client.get(f"/api/v1/cases/{case_id}", headers=city.viewer).json()
    assert seen["reporter"] == {"name": "张**", "phone": "138****5678", "masked": True}
    assert seen["reporters"][0]["phone"] == "138****5678"
    clerk = client.get(f"/api/v1/cases/{case_id}", headers=city.intake).json()
    assert clerk["reporter"]["phone"] == "13812345678"


def test_duplicates_are_offered_and_merged_with_their_reporters(client, city, clock):
    first = new_case(client, city.intake, matter_code=MANHOLE)["case"]
    clock.advance(timedelta(hours=2))
    near = (IN_G1[0] + 0.0002, IN_G1[1])  # about 18 m east
    second = new_case(
        client,
        city.intake,
        matter_code=MANHOLE,
        lon=near[0],
        lat=near[1],
        reporter_name="李四",
        reporter_phone="13900000000",
    )
    assert [d["case_id"] for d in second["duplicates"]] == [first["id"]]
    assert 10 < second["duplicates"][0]["distance_m"] < 30
    far = new_case(client, city.intake, matter_code=MANHOLE, lon=IN_G2[0], lat=IN_G2[1])
    assert far["duplicates"] == []
    other_class = new_case(client, city.intake, matter_code=GARBAGE, lon=near[0], lat=near[1])
    assert other_class["duplicates"] == []
    merged = client.post(
        f"/api/v1/cases/{second['case']['id']}/merge",
        json={"into": first["number"]},
        headers=city.dispatcher,
    )
    assert merged.status_code == 200, merged.text
    target = client.get(f"/api/v1/cases/{first['id']}", headers=city.intake).json()
    assert {r["phone"] for r in target["reporters"]} == {"13812345678", "13900000000"}
    assert target["history"][-1]["command"] == "merged_in"
    gone = client.get(f"/api/v1/cases/{second['case']['id']}", headers=city.intake).json()
    assert gone["status"] == "voided"
    assert gone["merged_into"] == first["id"]


@pytest.mark.parametrize(
    ("content", "content_type", "rule"),
    [
        (PNG, "image/gif", "content_type"),
        (b"GIF89a....", "image/png", "content_matches_type"),
        (b"", "image/png", "not_empty"),
    ],
)
def test_photos_are_checked(client, city, content, content_type, rule):
    case_id = new_case(client, city.intake, matter_code=MANHOLE)["case"]["id"]
    response = client.post(
        f"/api/v1/cases/{case_id}/photos",
        files={"file": ("x", content, content_type)},
        headers=city.intake,
    )
    assert_rule(response, "file", rule)


def test_photo_round_trip(client, city):
    case_id = new_case(client, city.intake, matter_code=MANHOLE)["case"]["id"]
    stored = client.post(
        f"/api/v1/cases/{case_id}/photos",
        files={"file": ("scene.png", PNG, "image/png")},
        headers=city.intake,
    ).json()
    fetched = client.get(f"/api/v1/cases/attachments/{stored['id']}", headers=city.viewer)
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"


def test_patroller_self_handles_on_the_spot(client, city):
    case_id = new_case(
        client, city.patroller, channel="patroller", matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1]
    )["case"]["id"]
    done = act(client, city.patroller, case_id, "self_handle", comment="已现场清理")
    assert done.json()["status"] == "handled"
    assert done.json()["self_handled"] is True
    closed = act(client, city.dispatcher, case_id, "verify_pass")
    assert closed.status_code == 403  # dispatchers do not verify on site
    assert act(client, city.patroller, case_id, "verify_pass").json()["status"] == "closed"


def test_grid_two_has_no_worker(client, city):
    case = new_case(client, city.intake, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])["case"]
    assert case["location"]["grid_code"] == G2
    assert case["grid_worker"] is None
    assert case["department_code"] == "HWS"
