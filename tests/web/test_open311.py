"""Open311 GeoReport v2 at /open311/v2/: services, posting, reading, rating; JSON and XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest

from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.cases.queries import CaseFilter
from cityops.cases.service import CommandRequest

BASE = "/open311/v2"
MANHOLE = "01001"  # 供水井盖异常
OTHER = "01002"  # 污水井盖异常
XML_TYPE = "text/xml; charset=utf-8"
DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
NAME_FIRST, NAME_LAST, PHONE = "三丰", "张", "13812345678"


@pytest.fixture
def api_key(services, system) -> str:
    """The key of a citizen app: it may create cases, nothing else."""
    _, secret = services.api_keys.issue(system, name="citizen-app", permissions=["cases:create"])
    return str(secret)


def post(client, api_key: str, fmt: str = "json", **fields: str) -> Any:
    """POST a service request form-encoded, as the spec says."""
    form = {"api_key": api_key, "service_code": MANHOLE, **fields}
    return client.post(f"{BASE}/requests.{fmt}", data=form)


def report(client, api_key: str, **fields: str) -> str:
    """Post a request at a point with the reporter's contact; return its id."""
    values = {
        "lat": "31.2304",
        "long": "121.4737",
        "description": "路口的供水井盖松动了，踩上去晃",
        "first_name": NAME_FIRST,
        "last_name": NAME_LAST,
        "phone": PHONE,
        **fields,
    }
    response = post(client, api_key, **values)
    assert response.status_code == 201, response.text
    return str(response.json()[0]["service_request_id"])


def xml_root(response) -> ET.Element:
    assert response.headers["content-type"] == XML_TYPE
    assert response.text.startswith(DECLARATION)
    return ET.fromstring(response.content)


def assert_error(response, status: int, *words: str, fmt: str = "json") -> str:
    """Assert an Open311 error list with ``status`` whose description holds ``words``."""
    assert response.status_code == status, response.text
    if fmt == "json":
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert isinstance(body, list)
        assert body[0]["code"] == status
        description = str(body[0]["description"])
    else:
        root = xml_root(response)
        assert root.tag == "errors"
        assert root.findtext("error/code") == str(status)
        description = root.findtext("error/description") or ""
    for word in words:
        assert word in description, description
    return description


def _all() -> CaseFilter:
    return CaseFilter(include_merged=True)


def close(services, system, number: str) -> None:
    """Drive a case to 结案 with the system principal: file, dispatch, report, verify."""
    services.accounts.create_department(system, code="SZ", name="市政养护所")
    for command in (
        CommandRequest("file"),
        CommandRequest("dispatch", department_code="SZ"),
        CommandRequest("report", comment="已更换井盖"),
        CommandRequest("verify_pass", comment="核查完好"),
    ):
        services.cases.act(system, number, command)


# --------------------------------------------------------------------------- services


def test_services_list_one_service_per_matter_class_in_json(client):
    response = client.get(f"{BASE}/services.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    found = response.json()
    assert len(found) == 250
    first = next(s for s in found if s["service_code"] == MANHOLE)
    assert first["service_name"] == "供水井盖异常"
    assert first["group"] == "市政公用设施类"
    assert first["metadata"] is False
    assert first["type"] == "realtime"
    assert "供水井盖" in first["keywords"].split(",")
    assert first["description"]


def test_services_list_in_xml(client):
    response = client.get(f"{BASE}/services.xml", params={"jurisdiction_id": "city"})
    assert response.status_code == 200
    root = xml_root(response)
    assert root.tag == "services"
    services = root.findall("service")
    assert len(services) == 250
    first = services[0]
    assert first.findtext("service_code") == MANHOLE
    assert first.findtext("metadata") == "false"
    assert first.findtext("group") == "市政公用设施类"


def test_service_definition_and_unknown_codes_in_both_formats(client):
    definition = client.get(f"{BASE}/services/{MANHOLE}.json")
    assert definition.status_code == 200
    assert definition.json() == {"service_code": MANHOLE, "attributes": []}
    root = xml_root(client.get(f"{BASE}/services/{MANHOLE}.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == MANHOLE
    assert_error(client.get(f"{BASE}/services/99999.json"), 404, "99999")
    assert_error(client.get(f"{BASE}/services/nope.xml"), 404, "nope", fmt="xml")


def test_an_unknown_format_is_not_found(client):
    assert_error(client.get(f"{BASE}/services.yaml"), 404, "format")


# --------------------------------------------------------------------------- posting


def test_post_at_a_point_makes_an_app_case_with_the_reporter_and_media_url(
    client, services, system, api_key
):
    response = post(
        client,
        api_key,
        lat="31.2304",
        long="121.4737",
        description="路口的供水井盖松动了",
        first_name=NAME_FIRST,
        last_name=NAME_LAST,
        phone=PHONE,
        email="zhang@example.cn",
        device_id="ios-1",
        account_id="acct-7",
        media_url="https://photos.example.cn/manhole.jpg",
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    [answer] = response.json()
    number = answer["service_request_id"]
    assert number.startswith("20261120")
    assert number in answer["service_notice"]
    assert answer["account_id"] == "acct-7"

    case = services.cases.get(system, number)
    assert case["channel"] == "app"
    assert case["matter"]["code"] == MANHOLE
    assert case["matter"]["source"] == "clerk"
    assert case["description"] == "路口的供水井盖松动了"
    assert case["location"]["lat"] == pytest.approx(31.2304)
    assert case["location"]["lon"] == pytest.approx(121.4737)
    assert case["reporter"] == {"name": "张三丰", "phone": PHONE, "masked": False}
    assert case["accepted_by"].startswith("apikey:")
    [media] = case["attachments"]
    assert media["kind"] == "url"
    assert media["url"] == "https://photos.example.cn/manhole.jpg"


def test_post_with_an_address_the_gazetteer_cannot_resolve_keeps_the_address(
    client, services, system, api_key
):
    response = post(client, api_key, "xml", address_string="幸福路88号门口")
    assert response.status_code == 201, response.text
    root = xml_root(response)
    assert root.tag == "service_requests"
    number = root.findtext("request/service_request_id")
    assert number
    case = services.cases.get(system, number)
    assert case["location"]["address"] == "幸福路88号门口"
    assert case["location"]["lon"] is None
    assert case["description"] == "供水井盖异常"  # no description: the service's name


def test_bad_missing_or_weak_api_keys_are_refused_with_403(client, services, system, api_key):
    assert_error(post(client, "cok_not-a-real-key"), 403, "api_key")
    assert_error(post(client, "cok_not-a-real-key", "xml"), 403, "api_key", fmt="xml")
    no_key = client.post(f"{BASE}/requests.json", data={"service_code": MANHOLE, "lat": "31"})
    assert_error(no_key, 403, "api_key", "required")
    _, reader = services.api_keys.issue(system, name="reader", permissions=["cases:read"])
    assert_error(post(client, reader, lat="31.23", long="121.47"), 403, "cases:create")
    assert services.case_lists.search(system, _all())["total"] == 0


def test_a_request_without_any_credential_or_form_gets_the_platform_401(client):
    response = client.post(f"{BASE}/requests.json")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_api_key_may_also_come_as_a_header(client, api_key):
    response = client.post(
        f"{BASE}/requests.json",
        data={"service_code": MANHOLE, "lat": "31.23", "long": "121.47"},
        headers={"X-API-Key": api_key},
    )
    assert response.status_code == 201, response.text


def test_a_session_cookie_is_not_enough_to_post(client, services, make_user):
    account = make_user("clerk", Role.INTAKE)
    signed_in = services.signin.login(account.username, account.password, None)
    client.cookies.set("cityops_session", signed_in.token)
    response = client.post(
        f"{BASE}/requests.json", data={"service_code": MANHOLE, "lat": "31", "long": "121"}
    )
    assert_error(response, 403, "api_key")


def test_missing_service_code_is_400_naming_the_field(client, api_key):
    response = client.post(
        f"{BASE}/requests.json", data={"api_key": api_key, "lat": "31.23", "long": "121.47"}
    )
    assert_error(response, 400, "service_code", "required")
    response = client.post(f"{BASE}/requests.xml", data={"api_key": api_key, "lat": "31.23"})
    assert_error(response, 400, "service_code", fmt="xml")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"lat": "north", "long": "121.47"}, ("lat", "number")),
        ({"lat": "95", "long": "121.47"}, ("lat", "range")),
        ({"lat": "nan", "long": "121.47"}, ("lat", "number")),
        ({"lat": "31.23"}, ("long", "pair")),
        ({"long": "400", "lat": "31"}, ("long", "range")),
        ({}, ("lat", "location_required")),
        ({"address_id": "123"}, ("address_id",)),
        ({"address_string": "x" * 201}, ("address_string", "max_length")),
        ({"lat": "31", "long": "121", "phone": "1" * 40}, ("phone", "max_length")),
        ({"lat": "31", "long": "121", "description": "坏" * 2001}, ("description",)),
        ({"lat": "31", "long": "121", "media_url": "ftp://x"}, ("media_url", "url")),
        ({"lat": "31", "long": "121", "description": "a\x00b"}, ("description", "no_nul")),
    ],
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(
    client, services, system, api_key, fields, words
):
    assert_error(post(client, api_key, **fields), 400, *words)
    assert services.case_lists.search(system, _all())["total"] == 0


def test_an_unknown_service_code_is_404(client, api_key):
    assert_error(post(client, api_key, service_code="99999", lat="31", long="121"), 404, "99999")


# --------------------------------------------------------------------------- reading


def test_get_one_request_in_both_formats_without_personal_data(client, api_key):
    number = report(client, api_key, media_url="https://photos.example.cn/a.jpg")
    response = client.get(f"{BASE}/requests/{number}.json")
    assert response.status_code == 200
    [found] = response.json()
    assert found["service_request_id"] == number
    assert found["status"] == "open"
    assert found["status_notes"] == "受理"
    assert found["service_code"] == MANHOLE
    assert found["service_name"] == "供水井盖异常"
    assert found["requested_datetime"] == "2026-11-20T10:00:00+08:00"
    assert found["updated_datetime"] == "2026-11-20T10:00:00+08:00"
    assert found["expected_datetime"] is None
    assert found["lat"] == pytest.approx(31.2304)
    assert found["long"] == pytest.approx(121.4737)
    assert found["zipcode"] is None
    assert found["media_url"] == "https://photos.example.cn/a.jpg"
    root = xml_root(client.get(f"{BASE}/requests/{number}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == number
    assert root.findtext("request/status") == "open"
    assert root.findtext("request/zipcode") == ""
    for text in (response.text, ET.tostring(root, encoding="unicode")):
        for secret in (PHONE, NAME_FIRST, "5678", "apikey:"):
            assert secret not in text


def test_get_one_unknown_or_wrong_number_is_404(client, api_key):
    number = report(client, api_key)
    wrong_date = "20250101" + number[8:]
    assert_error(client.get(f"{BASE}/requests/{wrong_date}.json"), 404, wrong_date)
    assert_error(client.get(f"{BASE}/requests/202611209999999.xml"), 404, fmt="xml")
    assert_error(client.get(f"{BASE}/requests/1.json"), 404)
    assert_error(client.get(f"{BASE}/requests/{'9' * 40}.json"), 404)


def test_get_requests_filters_by_id_code_status_and_dates(client, services, system, clock, api_key):
    old = report(client, api_key)
    clock.advance(timedelta(days=100))
    first = report(client, api_key)
    second = report(client, api_key, service_code=OTHER)
    third = report(client, api_key)
    close(services, system, third)

    def ids(**params: str) -> list[str]:
        response = client.get(f"{BASE}/requests.json", params=params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    assert ids() == [third, second, first]  # newest first, the last 90 days
    assert ids(service_request_id=f"{first},{old}, 202611209999999") == [first, old]
    assert ids(service_code=OTHER) == [second]
    assert ids(service_code=f"{OTHER},{MANHOLE}") == [third, second, first]
    assert ids(status="closed") == [third]
    assert ids(status="open") == [second, first]
    assert ids(status="open,closed") == [third, second, first]
    assert ids(start_date="2026-11-01T00:00:00Z", end_date="2026-11-30T00:00:00+08:00") == [old]
    assert ids(end_date="2026-11-21") == [old]
    assert ids(start_date="2027-02-28T10:00:00+08:00") == [third, second, first]
    assert ids(start_date="2027-03-01T00:00:00Z") == []

    root = xml_root(client.get(f"{BASE}/requests.xml", params={"status": "closed"}))
    [closed] = root.findall("request")
    assert closed.findtext("service_request_id") == third
    assert closed.findtext("status") == "closed"
    assert closed.findtext("status_notes") == "结案：核查完好"
    assert closed.findtext("agency_responsible") == "市政养护所"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"status": "pending"}, ("status", "one_of")),
        ({"start_date": "yesterday"}, ("start_date", "w3c_datetime")),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, ("90 days",)),
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, ("end_date",)),
        ({"service_request_id": "abc"}, ()),
    ],
)
def test_bad_request_filters_are_400(client, params, words):
    assert_error(client.get(f"{BASE}/requests.json", params=params), 400, *words)


def test_an_unknown_service_code_filter_is_404(client):
    assert_error(client.get(f"{BASE}/requests.xml?service_code=77777"), 404, "77777", fmt="xml")


def test_a_request_shows_its_department_and_deadline_while_the_clock_runs(
    client, services, system, api_key
):
    number = report(client, api_key)
    services.accounts.create_department(system, code="SZ", name="市政养护所")
    services.cases.act(system, number, CommandRequest("file"))
    services.cases.act(system, number, CommandRequest("dispatch", department_code="SZ"))
    [found] = client.get(f"{BASE}/requests/{number}.json").json()
    assert found["status"] == "open"
    assert found["status_notes"] == "派遣"
    assert found["agency_responsible"] == "市政养护所"
    assert found["expected_datetime"].endswith("+08:00")
    assert found["service_notice"].startswith("处置时限")


def test_a_merged_request_follows_the_case_it_was_merged_into(client, services, system, api_key):
    survivor = report(client, api_key)
    duplicate = report(client, api_key, description="又一个人报了同一个井盖")
    services.cases.merge(system, duplicate, survivor)
    [found] = client.get(f"{BASE}/requests/{duplicate}.json").json()
    assert found["service_request_id"] == duplicate
    assert found["status"] == "open"
    assert found["status_notes"].startswith(f"已并案至 {survivor}")
    assert found["description"] == "又一个人报了同一个井盖"
    listed = client.get(f"{BASE}/requests.json").json()
    assert [r["service_request_id"] for r in listed] == [survivor]


# --------------------------------------------------------------------------- rating


def test_a_citizen_rates_a_closed_request(client, services, system, api_key):
    number = report(client, api_key)
    close(services, system, number)
    response = client.post(
        f"{BASE}/requests/{number}/rating.json",
        data={"api_key": api_key, "rating": "4", "comment": "修得很快"},
    )
    assert response.status_code == 200, response.text
    [found] = response.json()
    assert found["status"] == "closed"
    assert found["status_notes"] == "回访评价：核查完好"
    case = services.cases.get(system, number)
    assert case["status"] == "evaluated"
    assert case["satisfaction"] == 4
    assert case["history"][-1]["comment"] == "修得很快"

    again = client.post(
        f"{BASE}/requests/{number}/rating.xml", data={"api_key": api_key, "rating": "5"}
    )
    assert_error(again, 409, "rated already", fmt="xml")


def test_rating_an_open_request_is_409_in_the_open311_format(client, services, system, api_key):
    number = report(client, api_key)
    url = f"{BASE}/requests/{number}/rating"
    assert_error(
        client.post(f"{url}.json", data={"api_key": api_key, "rating": "5"}), 409, "closed"
    )
    assert_error(
        client.post(f"{url}.xml", data={"api_key": api_key, "rating": "5"}), 409, fmt="xml"
    )
    assert services.cases.get(system, number)["status"] == "accepted"


@pytest.mark.parametrize("rating", ["0", "6", "x", "", "4.5"])
def test_a_rating_must_be_1_to_5(client, services, system, api_key, rating):
    number = report(client, api_key)
    close(services, system, number)
    response = client.post(
        f"{BASE}/requests/{number}/rating.json", data={"api_key": api_key, "rating": rating}
    )
    assert_error(response, 400, "rating", "range")


def test_rating_needs_a_good_api_key_and_an_existing_request(client, services, system, api_key):
    number = report(client, api_key)
    close(services, system, number)
    url = f"{BASE}/requests/{number}/rating.json"
    assert_error(client.post(url, data={"api_key": "cok_x", "rating": "5"}), 403, "api_key")
    missing = f"{BASE}/requests/202611209999999/rating.json"
    assert_error(client.post(missing, data={"api_key": api_key, "rating": "5"}), 404)


def test_a_key_limited_to_a_division_cannot_rate_elsewhere(client, services, system, api_key):
    number = report(client, api_key)
    close(services, system, number)
    _, local = services.api_keys.issue(
        system, name="district-app", permissions=["cases:create"], scope=Scope("division", "310101")
    )
    response = client.post(
        f"{BASE}/requests/{number}/rating.json", data={"api_key": local, "rating": "5"}
    )
    assert response.status_code in (403, 404), response.text
    assert services.cases.get(system, number)["status"] == "closed"


def test_rating_a_merged_request_rates_the_case_it_was_merged_into(
    client, services, system, api_key
):
    survivor = report(client, api_key)
    duplicate = report(client, api_key, description="同一个井盖")
    services.cases.merge(system, duplicate, survivor)
    close(services, system, survivor)
    [before] = client.get(f"{BASE}/requests/{duplicate}.json").json()
    assert before["status"] == "closed"
    assert before["status_notes"] == f"已并案至 {survivor}。结案：核查完好"
    response = client.post(
        f"{BASE}/requests/{duplicate}/rating.json", data={"api_key": api_key, "rating": "5"}
    )
    assert response.status_code == 200, response.text
    assert response.json()[0]["service_request_id"] == duplicate
    assert services.cases.get(system, survivor)["satisfaction"] == 5
    assert services.cases.get(system, duplicate)["status"] == "voided"
