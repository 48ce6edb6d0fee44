"""API keys, the audit log and the domain-event feed through the JSON API."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from tests.conftest import PASSWORD, bearer
from tests.web.problems import assert_problem, assert_rule


@pytest.fixture
def admin_headers(client, make_user):
    return bearer(client, make_user("root", Role.ADMIN))


def issue(client, headers, **fields):
    body = {"name": "sensor gateway", "permissions": ["telemetry:write"], **fields}
    return client.post("/api/v1/apikeys", json=body, headers=headers)


# -- API keys ----------------------------------------------------------------------------------


def test_issue_key_returns_the_secret_once(client, admin_headers, clock):
    response = issue(client, admin_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    secret = body["key"]
    assert secret.startswith(f"cok_{body['prefix']}_")
    assert body["name"] == "sensor gateway"
    assert body["permissions"] == ["telemetry:write"]
    assert body["scope"] == "city"
    assert body["created_by"] == "root"
    assert datetime.fromisoformat(body["created_at"]) == clock.now()
    assert body["expires_at"] is None
    assert body["revoked_at"] is None

    listed = client.get("/api/v1/apikeys", headers=admin_headers)
    assert listed.status_code == 200
    [item] = listed.json()
    assert "key" not in item
    assert secret not in listed.text
    assert secret.split("_", 2)[2] not in listed.text
    assert {k: v for k, v in body.items() if k != "key"} == item

    me = client.get("/api/v1/auth/me", headers={"X-API-Key": secret})
    assert me.status_code == 200
    assert me.json()["name"] == f"apikey:{body['prefix']}"


def test_issue_and_revoke_are_audited_without_the_secret(client, admin_headers):
    issued = issue(client, admin_headers)
    secret = issued.json()["key"]
    revoked = client.delete(f"/api/v1/apikeys/{issued.json()['id']}", headers=admin_headers)
    assert revoked.status_code == 200
    audit = client.get(
        "/api/v1/audit", params={"object_type": "apikey"}, headers=admin_headers
    ).json()["items"]
    assert [e["action"] for e in audit] == ["apikey.revoke", "apikey.issue"]
    assert audit[1]["request_id"] == issued.headers["X-Request-ID"]
    assert audit[0]["request_id"] == revoked.headers["X-Request-ID"]
    assert audit[0]["before"]["revoked"] is False
    assert audit[0]["after"]["revoked"] is True
    assert secret.split("_", 2)[2] not in str(audit)


def test_list_keys_newest_first(client, admin_headers, clock):
    first = issue(client, admin_headers, name="first").json()
    clock.advance(timedelta(minutes=1))
    second = issue(client, admin_headers, name="second").json()
    listed = client.get("/api/v1/apikeys", headers=admin_headers).json()
    assert [k["id"] for k in listed] == [second["id"], first["id"]]


def test_revoke_key_then_second_revoke_is_409(client, admin_headers, clock):
    issued = issue(client, admin_headers).json()
    clock.advance(timedelta(minutes=5))
    revoked = client.delete(f"/api/v1/apikeys/{issued['id']}", headers=admin_headers)
    assert revoked.status_code == 200, revoked.text
    assert datetime.fromisoformat(revoked.json()["revoked_at"]) == clock.now()
    assert "key" not in revoked.json()

    assert_problem(client.get("/api/v1/auth/me", headers={"X-API-Key": issued["key"]}), 401)
    assert_problem(client.delete(f"/api/v1/apikeys/{issued['id']}", headers=admin_headers), 409)
    listed = client.get("/api/v1/apikeys", headers=admin_headers).json()
    assert listed[0]["revoked_at"] is not None


def test_revoke_unknown_key_is_404(client, admin_headers):
    assert_problem(client.delete("/api/v1/apikeys/999999", headers=admin_headers), 404)


@pytest.mark.parametrize("key_id", ["0", "-1", "x", str(2**31)])
def test_revoke_with_bad_id_is_422(client, admin_headers, key_id):
    assert_problem(client.delete(f"/api/v1/apikeys/{key_id}", headers=admin_headers), 422)


def test_key_holder_cannot_delegate_a_permission_it_does_not_hold(client, services, system):
    _, secret = services.api_keys.issue(
        system, name="provisioner", permissions=["apikeys:write", "telemetry:write"]
    )
    headers = {"X-API-Key": secret}
    allowed = issue(client, headers)
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["created_by"].startswith("apikey:")

    refused = issue(client, headers, permissions=["telemetry:write", "users:write"])
    body = assert_problem(refused, 403)
    assert "users:write" in body["detail"]


def test_department_admin_cannot_issue_keys_outside_their_department(
    client, services, system, make_user
):
    services.accounts.create_department(system, code="SZ", name="市政")
    services.accounts.create_department(system, code="HW", name="环卫")
    headers = bearer(
        client,
        make_user("sz.admin", Role.ADMIN, scope=Scope("department", "SZ"), department_code="SZ"),
    )
    assert issue(client, headers, scope="department:SZ").status_code == 201
    assert_problem(issue(client, headers, scope="department:HW"), 403)
    assert_problem(issue(client, headers, scope="city"), 403)


def test_non_admin_cannot_issue_or_list_keys(client, make_user):
    headers = bearer(client, make_user("disp.one", Role.DISPATCHER))
    assert_problem(issue(client, headers), 403)
    assert_problem(client.get("/api/v1/apikeys", headers=headers), 403)


def test_expires_at_in_the_past_is_422(client, admin_headers, clock):
    past = (clock.now() - timedelta(minutes=1)).isoformat()
    assert_rule(issue(client, admin_headers, expires_at=past), "expires_at", "future")
    now = clock.now().isoformat()
    assert_rule(issue(client, admin_headers, expires_at=now), "expires_at", "future")
    assert client.get("/api/v1/apikeys", headers=admin_headers).json() == []


def test_expires_at_without_time_zone_is_422(client, admin_headers):
    response = issue(client, admin_headers, expires_at="2030-01-01T00:00:00")
    assert_rule(response, "expires_at", "timezone_aware")


def test_expires_at_in_the_future_is_kept(client, admin_headers, clock):
    later = clock.now() + timedelta(days=30)
    response = issue(client, admin_headers, expires_at=later.isoformat())
    assert response.status_code == 201, response.text
    assert datetime.fromisoformat(response.json()["expires_at"]) == later


@pytest.mark.parametrize(
    ("permissions", "field", "rule"),
    [
        (["telemetry:fly"], "permissions[0]", "permission_known"),
        (["telemetry:write", "NOT A PERMISSION"], "permissions[1]", "permission_format"),
        ([], "permissions", "too_short"),
    ],
)
def test_bad_permissions_are_422(client, admin_headers, permissions, field, rule):
    assert_rule(issue(client, admin_headers, permissions=permissions), field, rule)


def test_bad_scope_is_422(client, admin_headers):
    assert_rule(issue(client, admin_headers, scope="galaxy"), "scope", "scope_format")


# -- audit log ---------------------------------------------------------------------------------


@pytest.fixture
def history(client, admin_headers, clock, make_user):
    """Some audited changes, one hour apart; returns the instants."""
    make_user("disp.one", Role.DISPATCHER)
    t0 = clock.now()
    for code in ("A1", "A2"):
        response = client.post(
            "/api/v1/departments", json={"code": code, "name": code}, headers=admin_headers
        )
        assert response.status_code == 201
    clock.advance(timedelta(hours=1))
    t1 = clock.now()
    for username in ("user.one", "user.two", "user.three"):
        response = client.post(
            "/api/v1/users",
            json={"username": username, "password": "a-long-password-1"},
            headers=admin_headers,
        )
        assert response.status_code == 201
    clock.advance(timedelta(hours=1))
    return t0, t1, clock.now()


def audit_items(client, headers, **params):
    response = client.get("/api/v1/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_audit_is_newest_first(client, admin_headers, history):
    items = audit_items(client, admin_headers)
    ids = [e["id"] for e in items]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)
    times = [datetime.fromisoformat(e["at"]) for e in items]
    assert times == sorted(times, reverse=True)


def test_audit_filters_by_action(client, admin_headers, history):
    items = audit_items(client, admin_headers, action="user.create")
    assert [e["object_id"] for e in items] == [
        "user.three",
        "user.two",
        "user.one",
        "disp.one",
        "root",
    ]
    assert all(e["action"] == "user.create" for e in items)


def test_audit_filters_by_actor(client, admin_headers, history):
    items = audit_items(client, admin_headers, actor="root")
    assert items
    assert {e["actor"] for e in items} == {"root"}
    # make_user acts as the system principal named "test".
    system_items = audit_items(client, admin_headers, actor="test")
    assert {e["object_id"] for e in system_items} == {"root", "disp.one"}
    assert audit_items(client, admin_headers, actor="nobody") == []


def test_audit_filters_by_object(client, admin_headers, history):
    items = audit_items(client, admin_headers, object_type="department")
    assert [e["object_id"] for e in items] == ["A2", "A1"]
    one = audit_items(client, admin_headers, object_type="user", object_id="user.two")
    assert [(e["action"], e["object_id"]) for e in one] == [("user.create", "user.two")]


def test_audit_filters_by_time(client, admin_headers, history):
    t0, t1, t2 = history
    since = audit_items(client, admin_headers, since=t1.isoformat(), action="user.create")
    assert [e["object_id"] for e in since] == ["user.three", "user.two", "user.one"]
    until = audit_items(client, admin_headers, until=t1.isoformat())
    assert {e["object_id"] for e in until if e["action"] != "auth.login"} == {
        "A1",
        "A2",
        "disp.one",
        "root",
    }
    assert all(datetime.fromisoformat(e["at"]) < t1 for e in until)
    window = audit_items(
        client, admin_headers, since=t0.isoformat(), until=t1.isoformat(), object_type="department"
    )
    assert [e["object_id"] for e in window] == ["A2", "A1"]
    assert audit_items(client, admin_headers, since=t2.isoformat()) == []
    # An instant in another time zone means the same moment.
    shanghai = t1.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()
    assert audit_items(client, admin_headers, since=shanghai, action="user.create") == since


def test_audit_since_must_have_a_time_zone(client, admin_headers):
    response = client.get(
        "/api/v1/audit", params={"since": "2026-11-20T02:00:00"}, headers=admin_headers
    )
    assert_rule(response, "since", "timezone_aware")


def test_audit_pagination_with_before_id(client, admin_headers, history):
    everything = audit_items(client, admin_headers, limit=1000)
    assert len(everything) >= 7
    collected = []
    before_id = None
    pages = 0
    while True:
        params = {"limit": 2}
        if before_id is not None:
            params["before_id"] = before_id
        page = client.get("/api/v1/audit", params=params, headers=admin_headers).json()
        pages += 1
        assert len(page["items"]) <= 2
        collected.extend(page["items"])
        before_id = page["next_before_id"]
        if before_id is None:
            break
        assert before_id == page["items"][-1]["id"]
        assert pages < 100
    assert [e["id"] for e in collected] == [e["id"] for e in everything]
    assert pages >= len(everything) // 2


def test_audit_last_page_has_no_next(client, admin_headers, history):
    everything = audit_items(client, admin_headers, limit=1000)
    page = client.get(
        "/api/v1/audit", params={"limit": len(everything) + 1}, headers=admin_headers
    ).json()
    assert page["next_before_id"] is None
    assert len(page["items"]) == len(everything)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"before_id": 0}, "before_id"),
        ({"before_id": 2**63}, "before_id"),
        ({"actor": "x" * 129}, "actor"),
        ({"action": "bad\x00value"}, "action"),
    ],
)
def test_audit_parameter_bounds_are_422(client, admin_headers, params, field):
    response = client.get("/api/v1/audit", params=params, headers=admin_headers)
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == field


def test_audit_limit_bounds_are_inclusive(client, admin_headers):
    for limit in (1, 1000):
        assert (
            client.get("/api/v1/audit", params={"limit": limit}, headers=admin_headers).status_code
            == 200
        )


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.COMMAND_CENTER, Role.VIEWER])
def test_non_admin_cannot_read_the_audit_log(client, make_user, role):
    headers = bearer(client, make_user("someone", role))
    body = assert_problem(client.get("/api/v1/audit", headers=headers), 403)
    assert "audit:read" in body["detail"]


def test_department_admin_cannot_read_the_city_audit_log(client, services, system, make_user):
    services.accounts.create_department(system, code="SZ", name="市政")
    headers = bearer(
        client,
        make_user("sz.admin", Role.ADMIN, scope=Scope("department", "SZ"), department_code="SZ"),
    )
    assert_problem(client.get("/api/v1/audit", headers=headers), 403)


# -- domain events -----------------------------------------------------------------------------


def test_events_are_listed_in_id_order_after_an_id(client, admin_headers, make_user):
    headers = bearer(client, make_user("analyst.one", Role.ANALYST))
    start = client.get("/api/v1/events", headers=headers)
    assert start.status_code == 200
    last_id = start.json()["last_id"]
    types_before = [e["type"] for e in start.json()["items"]]
    assert types_before == ["UserCreated", "UserCreated"]  # root, analyst.one

    client.post("/api/v1/departments", json={"code": "SZ", "name": "市政"}, headers=admin_headers)
    client.post(
        "/api/v1/users",
        json={"username": "new.user", "password": "a-long-password-1", "department_code": "SZ"},
        headers=admin_headers,
    )
    client.post("/api/v1/users/new.user/grants", json={"role": "viewer"}, headers=admin_headers)
    client.patch("/api/v1/users/new.user", json={"active": False}, headers=admin_headers)

    page = client.get("/api/v1/events", params={"after": last_id}, headers=headers).json()
    items = page["items"]
    assert [e["type"] for e in items] == [
        "DepartmentCreated",
        "UserCreated",
        "RoleGranted",
        "UserChanged",
    ]
    ids = [e["id"] for e in items]
    assert ids == sorted(ids)
    assert all(i > last_id for i in ids)
    assert page["last_id"] == ids[-1]
    assert items[0]["aggregate_type"] == "department"
    assert items[0]["aggregate_id"] == "SZ"
    assert items[0]["payload"] == {"code": "SZ", "name": "市政"}
    assert items[1]["payload"] == {"username": "new.user"}
    assert items[2]["payload"] == {"username": "new.user", "role": "viewer", "scope": "city"}
    assert items[3]["payload"] == {"username": "new.user", "active": False}

    limited = client.get(
        "/api/v1/events", params={"after": last_id, "limit": 2}, headers=headers
    ).json()
    assert [e["id"] for e in limited["items"]] == ids[:2]
    assert limited["last_id"] == ids[1]

    empty = client.get("/api/v1/events", params={"after": ids[-1]}, headers=headers).json()
    assert empty == {"items": [], "last_id": ids[-1]}


def test_events_need_events_read(client, make_user, services, system):
    viewer = bearer(client, make_user("viewer.one", Role.VIEWER))
    body = assert_problem(client.get("/api/v1/events", headers=viewer), 403)
    assert "events:read" in body["detail"]
    _, secret = services.api_keys.issue(system, name="feed", permissions=["events:read"])
    assert client.get("/api/v1/events", headers={"X-API-Key": secret}).status_code == 200


@pytest.mark.parametrize("params", [{"after": -1}, {"limit": 0}, {"limit": 1001}])
def test_events_parameter_bounds_are_422(client, admin_headers, params):
    assert_problem(client.get("/api/v1/events", params=params, headers=admin_headers), 422)


def test_events_do_not_leak_passwords(client, admin_headers):
    client.post(
        "/api/v1/users",
        json={"username": "new.user", "password": "a-long-password-1"},
        headers=admin_headers,
    )
    client.put(
        "/api/v1/users/new.user/password", json={"password": PASSWORD}, headers=admin_headers
    )
    feed = client.get("/api/v1/events", headers=admin_headers)
    assert "a-long-password-1" not in feed.text
    assert PASSWORD not in feed.text
    assert "PasswordChanged" in feed.text


# -- instants at the edge of the representable range ------------------------------------------


@pytest.fixture
def lenient_client(services):
    """A client that answers a server error with its 500 response instead of raising."""
    from fastapi.testclient import TestClient

    from cityops.web.app import create_app

    with TestClient(create_app(services=services), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("name", "instant"),
    [
        ("since", "0001-01-01T00:00:00+14:00"),
        ("until", "0001-01-01T00:00:00+01:00"),
        ("since", "9999-12-31T23:59:59-14:00"),
        ("until", "9999-12-31T23:59:59-00:01"),
    ],
)
def test_audit_filter_at_the_edge_of_time_is_not_a_server_error(
    lenient_client, make_user, name, instant
):
    # A valid RFC 3339 instant whose UTC form falls outside year 1..9999.
    headers = bearer(lenient_client, make_user("root", Role.ADMIN))
    response = lenient_client.get("/api/v1/audit", params={name: instant}, headers=headers)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_problem(response, 422)


@pytest.mark.parametrize("instant", ["9999-12-31T23:59:59-14:00", "9999-12-31T23:00:00-01:00"])
def test_api_key_expiry_at_the_edge_of_time_is_not_a_server_error(
    lenient_client, make_user, instant
):
    headers = bearer(lenient_client, make_user("root", Role.ADMIN))
    response = issue(lenient_client, headers, expires_at=instant)
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert_rule(response, "expires_at", response.json()["errors"][0]["rule"])
