"""Signing in through the JSON API: bearer tokens, sessions, rate limits and API keys."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cityops.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role
from cityops.auth.scopes import Scope
from tests.conftest import PASSWORD, bearer
from tests.web.problems import assert_problem

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def login(client, username: str, password: str = PASSWORD):
    return client.post(LOGIN, json={"username": username, "password": password})


# -- bearer tokens -----------------------------------------------------------------------------


def test_login_returns_a_bearer_token_that_authenticates(client, make_user, clock):
    make_user("alice", Role.VIEWER)
    response = login(client, "alice")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert len(body["access_token"]) >= 32
    assert datetime.fromisoformat(body["expires_at"]) == clock.now() + timedelta(hours=12)
    me = client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["name"] == "alice"


def test_each_login_issues_a_different_token(client, make_user):
    make_user("alice", Role.VIEWER)
    first = login(client, "alice").json()["access_token"]
    second = login(client, "alice").json()["access_token"]
    assert first != second


def test_login_username_is_case_and_space_insensitive(client, make_user):
    make_user("alice", Role.VIEWER)
    response = login(client, "  Alice ")
    assert response.status_code == 200, response.text


def test_me_shows_grants_and_permissions_of_an_admin(client, make_user):
    admin = make_user("root", Role.ADMIN)
    me = client.get(ME, headers=bearer(client, admin))
    assert me.status_code == 200
    body = me.json()
    assert body["name"] == "root"
    assert body["kind"] == "user"
    assert body["display_name"] == "root"
    assert body["department_code"] is None
    assert body["grants"] == [{"role": "admin", "scope": "city"}]
    assert body["permissions"] == sorted(PERMISSIONS)


def test_me_shows_a_department_scoped_grant(client, services, system, make_user):
    services.accounts.create_department(system, code="SZ", name="市政")
    dispatcher = make_user(
        "li.si", Role.DISPATCHER, scope=Scope("department", "SZ"), department_code="SZ"
    )
    body = client.get(ME, headers=bearer(client, dispatcher)).json()
    assert body["kind"] == "user"
    assert body["department_code"] == "SZ"
    assert body["grants"] == [{"role": "dispatcher", "scope": "department:SZ"}]
    assert body["permissions"] == sorted(ROLE_PERMISSIONS[Role.DISPATCHER])
    assert "users:read" not in body["permissions"]


def test_me_without_credentials_is_401(client):
    body = assert_problem(client.get(ME), 401)
    assert body["title"] == "Authentication failed"


def test_garbage_bearer_token_is_401_not_anonymous(client):
    response = client.get(ME, headers={"Authorization": "Bearer not-a-real-token"})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_login_body_must_not_have_unknown_fields(client, make_user):
    make_user("alice", Role.VIEWER)
    response = client.post(
        LOGIN, json={"username": "alice", "password": PASSWORD, "remember": True}
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "remember"


# -- failures ----------------------------------------------------------------------------------


def test_wrong_password_is_401_problem_and_audited(client, services, make_user):
    make_user("alice", Role.VIEWER)
    admin = make_user("root", Role.ADMIN)
    response = login(client, "alice", "not-the-password")
    body = assert_problem(response, 401)
    assert body["title"] == "Authentication failed"
    assert "access_token" not in body

    audit = client.get(
        "/api/v1/audit", params={"action": "auth.login_failed"}, headers=bearer(client, admin)
    )
    assert audit.status_code == 200
    entries = audit.json()["items"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["actor"] == "alice"
    assert entry["actor_kind"] == "anonymous"
    assert entry["object_type"] == "user"
    assert entry["object_id"] == "alice"
    assert entry["request_id"] == response.headers["X-Request-ID"]
    assert entry["client_address"] == "testclient"


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client, make_user):
    make_user("alice", Role.VIEWER)
    wrong_password = assert_problem(login(client, "alice", "not-the-password"), 401)
    unknown_user = assert_problem(login(client, "nobody", "not-the-password"), 401)
    assert wrong_password["detail"] == unknown_user["detail"]


def test_disabled_user_cannot_log_in_and_their_token_stops_working(client, make_user):
    alice = make_user("alice", Role.VIEWER)
    admin = make_user("root", Role.ADMIN)
    alice_headers = bearer(client, alice)
    assert client.get(ME, headers=alice_headers).status_code == 200

    disabled = client.patch(
        "/api/v1/users/alice", json={"active": False}, headers=bearer(client, admin)
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False

    assert_problem(client.get(ME, headers=alice_headers), 401)
    assert_problem(login(client, "alice"), 401)


def test_logout_ends_the_token_but_not_other_sessions(client, make_user):
    alice = make_user("alice", Role.VIEWER)
    first = bearer(client, alice)
    second = bearer(client, alice)
    response = client.post("/api/v1/auth/logout", headers=first)
    assert response.status_code == 204
    assert_problem(client.get(ME, headers=first), 401)
    assert client.get(ME, headers=second).status_code == 200


def test_session_expires_after_session_ttl(client, make_user, clock):
    alice = make_user("alice", Role.VIEWER)
    headers = bearer(client, alice)
    clock.advance(timedelta(hours=11, minutes=59))
    assert client.get(ME, headers=headers).status_code == 200
    clock.advance(timedelta(minutes=1, seconds=1))
    assert_problem(client.get(ME, headers=headers), 401)


# -- rate limits -------------------------------------------------------------------------------


def test_sixth_attempt_after_five_failures_is_429_even_with_the_right_password(
    client, make_user, clock
):
    make_user("alice", Role.VIEWER)
    make_user("bob", Role.VIEWER)
    for _ in range(5):
        assert_problem(login(client, "alice", "wrong-password-x"), 401)

    limited = login(client, "alice")
    body = assert_problem(limited, 429)
    assert "access_token" not in body
    retry_after = int(limited.headers["Retry-After"])
    assert 0 < retry_after <= 900

    # The limit is per account: another user still signs in.
    assert login(client, "bob").status_code == 200

    clock.advance(timedelta(seconds=899))
    assert_problem(login(client, "alice"), 429)
    clock.advance(timedelta(seconds=2))
    assert login(client, "alice").status_code == 200


def test_failures_below_the_limit_do_not_block(client, make_user):
    make_user("alice", Role.VIEWER)
    for _ in range(4):
        assert_problem(login(client, "alice", "wrong-password-x"), 401)
    assert login(client, "alice").status_code == 200


# -- API keys ----------------------------------------------------------------------------------


@pytest.fixture
def telemetry_key(services, system):
    key, secret = services.api_keys.issue(
        system, name="sensor gateway", permissions=["telemetry:write"]
    )
    return key, secret


def test_api_key_authenticates_with_x_api_key(client, telemetry_key):
    key, secret = telemetry_key
    me = client.get(ME, headers={"X-API-Key": secret})
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["kind"] == "apikey"
    assert body["name"] == f"apikey:{key.prefix}"
    assert body["display_name"] is None
    assert body["permissions"] == ["telemetry:write"]
    assert body["grants"] == [{"role": "apikey", "scope": "city"}]


def test_revoked_api_key_is_401(client, services, system, telemetry_key):
    key, secret = telemetry_key
    services.api_keys.revoke(system, key.id)
    assert_problem(client.get(ME, headers={"X-API-Key": secret}), 401)


def test_expired_api_key_is_401(client, services, system, clock):
    _, secret = services.api_keys.issue(
        system,
        name="short lived",
        permissions=["telemetry:write"],
        expires_at=clock.now() + timedelta(hours=1),
    )
    assert client.get(ME, headers={"X-API-Key": secret}).status_code == 200
    clock.advance(timedelta(hours=1))
    assert_problem(client.get(ME, headers={"X-API-Key": secret}), 401)


@pytest.mark.parametrize(
    "bad_key",
    ["not-a-key", "cok_short_secret", "cok__", "xyz_12345678_secret", ""],
)
def test_malformed_api_key_is_401(client, bad_key):
    response = client.get(ME, headers={"X-API-Key": bad_key})
    assert_problem(response, 401)


def test_api_key_with_tampered_secret_is_401(client, telemetry_key):
    key, secret = telemetry_key
    tampered = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    assert tampered.startswith(f"cok_{key.prefix}_")
    assert_problem(client.get(ME, headers={"X-API-Key": tampered}), 401)


def test_api_key_without_users_read_is_403(client, telemetry_key):
    _, secret = telemetry_key
    body = assert_problem(client.get("/api/v1/users", headers={"X-API-Key": secret}), 403)
    assert body["title"] == "Permission denied"
    assert "users:read" in body["detail"]


# -- own password ------------------------------------------------------------------------------


def test_change_own_password(client, make_user):
    alice = make_user("alice", Role.VIEWER)
    headers = bearer(client, alice)
    response = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a-brand-new-secret-9"},
        headers=headers,
    )
    assert response.status_code == 204, response.text
    # Every session of the user ends: sign in again.
    assert_problem(client.get(ME, headers=headers), 401)
    assert_problem(login(client, "alice", PASSWORD), 401)
    assert login(client, "alice", "a-brand-new-secret-9").status_code == 200


def test_change_own_password_needs_the_current_password(client, make_user):
    alice = make_user("alice", Role.VIEWER)
    headers = bearer(client, alice)
    response = client.post(
        "/api/v1/auth/password",
        json={"current_password": "wrong-current-1", "new_password": "a-brand-new-secret-9"},
        headers=headers,
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "current_password"
    assert body["errors"][0]["rule"] == "matches"
    assert client.get(ME, headers=headers).status_code == 200
    assert login(client, "alice", PASSWORD).status_code == 200


def test_change_own_password_checks_the_password_rules(client, make_user):
    alice = make_user("alice", Role.VIEWER)
    response = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=bearer(client, alice),
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["rule"] == "min_length"
    assert login(client, "alice", PASSWORD).status_code == 200


def test_change_own_password_needs_a_signed_in_caller(client):
    response = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a-brand-new-secret-9"},
    )
    assert_problem(response, 401)
