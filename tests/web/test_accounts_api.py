"""Users, role grants and departments through the JSON API, and the audit trail they leave."""

from __future__ import annotations

import pytest

from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.kernel.audit import AuditFilter
from tests.conftest import PASSWORD, bearer
from tests.web.problems import assert_problem, assert_rule

NEW_PASSWORD = "a-long-password-1"


class AuditWatch:
    """Notes the newest audit id, then returns the entries written after it."""

    def __init__(self, services, system) -> None:
        self.services = services
        self.system = system
        self.mark = self._newest_id()

    def _all(self):
        return self.services.audit.query(self.system, AuditFilter(limit=1000))

    def _newest_id(self) -> int:
        entries = self._all()
        return entries[0].id if entries else 0

    def new_entries(self):
        entries = [e for e in self._all() if e.id > self.mark]
        self.mark = max([self.mark, *(e.id for e in entries)])
        return entries

    def single(self, response, *, action: str, actor: str, role: str, scope: str, object_id: str):
        """Assert that exactly one entry was written by ``response``'s request, and return it."""
        entries = self.new_entries()
        assert len(entries) == 1, [(e.action, e.object_id) for e in entries]
        [entry] = entries
        assert entry.action == action
        assert entry.actor == actor
        assert entry.actor_kind == "user"
        assert entry.role == role
        assert entry.scope == scope
        assert entry.object_id == object_id
        assert entry.request_id == response.headers["X-Request-ID"]
        assert entry.client_address == "testclient"
        return entry

    def nothing(self) -> None:
        assert self.new_entries() == []


@pytest.fixture
def admin_headers(client, make_user):
    return bearer(client, make_user("root", Role.ADMIN))


@pytest.fixture
def audit(services, system, admin_headers):
    """Watches the audit log from after the admin signed in."""
    return AuditWatch(services, system)


@pytest.fixture
def departments(services, system):
    services.accounts.create_department(system, code="SZ", name="市政管理处")
    services.accounts.create_department(system, code="SZ-1", name="道路科", parent_code="SZ")
    services.accounts.create_department(system, code="HW", name="环卫处")


def create_user(client, headers, **fields):
    body = {"username": "zhang.san", "password": NEW_PASSWORD, **fields}
    return client.post("/api/v1/users", json=body, headers=headers)


# -- users -------------------------------------------------------------------------------------


def test_create_user_is_201_and_audited(client, admin_headers, audit):
    response = create_user(
        client,
        admin_headers,
        display_name="张三",
        grants=[{"role": "intake", "scope": "city"}],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == "zhang.san"
    assert body["display_name"] == "张三"
    assert body["department_code"] is None
    assert body["active"] is True
    assert body["grants"] == [{"role": "intake", "scope": "city"}]
    assert "password" not in response.text
    assert "argon2" not in response.text

    entry = audit.single(
        response,
        action="user.create",
        actor="root",
        role="admin",
        scope="city",
        object_id="zhang.san",
    )
    assert entry.object_type == "user"
    assert entry.before is None
    assert entry.after == {
        "username": "zhang.san",
        "display_name": "张三",
        "department_code": None,
        "active": True,
        "grants": ["intake@city"],
    }

    fetched = client.get("/api/v1/users/zhang.san", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.json() == body
    listed = client.get("/api/v1/users", headers=admin_headers).json()
    assert [u["username"] for u in listed] == ["root", "zhang.san"]


def test_created_user_can_sign_in(client, admin_headers):
    assert create_user(client, admin_headers).status_code == 201
    response = client.post(
        "/api/v1/auth/login", json={"username": "zhang.san", "password": NEW_PASSWORD}
    )
    assert response.status_code == 200


def test_duplicate_user_is_409_and_not_audited(client, admin_headers, audit):
    assert create_user(client, admin_headers).status_code == 201
    audit.new_entries()
    duplicate = create_user(client, admin_headers)
    assert_problem(duplicate, 409)
    upper = create_user(client, admin_headers, username="Zhang.San")
    assert_problem(upper, 409)
    audit.nothing()


@pytest.mark.parametrize("username", ["Bad Name!", "ab", "-leading-dash", "名字"])
def test_bad_username_is_422_username_format(client, admin_headers, audit, username):
    response = create_user(client, admin_headers, username=username)
    assert_rule(response, "username", "username_format")
    audit.nothing()


def test_weak_password_is_422_min_length(client, admin_headers, audit):
    response = create_user(client, admin_headers, password="short")
    assert_rule(response, "password", "min_length")
    audit.nothing()


def test_password_containing_the_username_is_refused(client, admin_headers):
    response = create_user(client, admin_headers, password="zhang.san-2026!")
    assert_rule(response, "password", "not_username")


def test_unknown_role_in_grants_is_422_naming_the_grant(client, admin_headers, audit):
    response = create_user(client, admin_headers, grants=[{"role": "emperor", "scope": "city"}])
    assert_rule(response, "grants[0].role", "role_known")
    audit.nothing()


def test_bad_scope_in_grants_is_422_naming_the_grant(client, admin_headers):
    response = create_user(
        client,
        admin_headers,
        grants=[{"role": "viewer", "scope": "city"}, {"role": "viewer", "scope": "planet:x"}],
    )
    assert_rule(response, "grants[1].scope", "scope_format")


def test_unknown_json_field_is_422_extra_forbidden(client, admin_headers, audit):
    response = create_user(client, admin_headers, nickname="xiao zhang")
    body = assert_rule(response, "nickname", "extra_forbidden")
    assert body["title"] == "Validation failed"
    audit.nothing()


def test_missing_required_field_is_422(client, admin_headers):
    response = client.post("/api/v1/users", json={"username": "zhang.san"}, headers=admin_headers)
    assert_rule(response, "password", "missing")


def test_unknown_department_is_422_department_exists(client, admin_headers):
    response = create_user(client, admin_headers, department_code="NOPE")
    assert_rule(response, "department_code", "department_exists")


def test_viewer_cannot_create_users(client, make_user, audit):
    viewer = make_user("viewer.one", Role.VIEWER)
    headers = bearer(client, viewer)
    audit.new_entries()
    response = create_user(client, headers)
    body = assert_problem(response, 403)
    assert "users:write" in body["detail"]
    audit.nothing()
    assert_problem(client.get("/api/v1/users", headers=headers), 403)


def test_disable_user_via_patch(client, admin_headers, audit, make_user):
    make_user("alice", Role.VIEWER)
    audit.new_entries()
    response = client.patch("/api/v1/users/alice", json={"active": False}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    entry = audit.single(
        response, action="user.disable", actor="root", role="admin", scope="city", object_id="alice"
    )
    assert entry.before["active"] is True
    assert entry.after["active"] is False

    enabled = client.patch("/api/v1/users/alice", json={"active": True}, headers=admin_headers)
    assert enabled.status_code == 200
    entry = audit.single(
        enabled, action="user.update", actor="root", role="admin", scope="city", object_id="alice"
    )
    assert (entry.before["active"], entry.after["active"]) == (False, True)


def test_patch_display_name_and_department(client, admin_headers, audit, make_user, departments):
    make_user("alice", Role.VIEWER)
    audit.new_entries()
    response = client.patch(
        "/api/v1/users/alice",
        json={"display_name": "爱丽丝", "department_code": "SZ"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "爱丽丝"
    assert response.json()["department_code"] == "SZ"
    entry = audit.single(
        response, action="user.update", actor="root", role="admin", scope="city", object_id="alice"
    )
    assert entry.before["display_name"] == "alice"
    assert entry.after["display_name"] == "爱丽丝"
    assert entry.after["department_code"] == "SZ"

    cleared = client.patch(
        "/api/v1/users/alice", json={"clear_department": True}, headers=admin_headers
    )
    assert cleared.json()["department_code"] is None
    assert cleared.json()["display_name"] == "爱丽丝"


def test_admin_cannot_disable_themselves(client, admin_headers, audit):
    response = client.patch("/api/v1/users/root", json={"active": False}, headers=admin_headers)
    assert_rule(response, "active", "not_self")
    audit.nothing()
    assert client.get("/api/v1/auth/me", headers=admin_headers).status_code == 200


def test_patch_rejects_unknown_fields(client, admin_headers, make_user):
    make_user("alice", Role.VIEWER)
    response = client.patch("/api/v1/users/alice", json={"role": "admin"}, headers=admin_headers)
    assert_rule(response, "role", "extra_forbidden")


def test_put_password_resets_and_is_audited(client, admin_headers, audit, make_user):
    alice = make_user("alice", Role.VIEWER)
    alice_headers = bearer(client, alice)
    audit.new_entries()
    response = client.put(
        "/api/v1/users/alice/password",
        json={"password": "reset-by-admin-42"},
        headers=admin_headers,
    )
    assert response.status_code == 204, response.text
    entry = audit.single(
        response,
        action="user.set_password",
        actor="root",
        role="admin",
        scope="city",
        object_id="alice",
    )
    assert entry.before is None
    assert entry.after is None
    # The user's sessions end and only the new password works.
    assert client.get("/api/v1/auth/me", headers=alice_headers).status_code == 401
    old = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert old.status_code == 401
    new = client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "reset-by-admin-42"}
    )
    assert new.status_code == 200


def test_put_password_checks_the_rules(client, admin_headers, audit, make_user):
    make_user("alice", Role.VIEWER)
    audit.new_entries()
    response = client.put(
        "/api/v1/users/alice/password", json={"password": "aaaaaaaaaaaa"}, headers=admin_headers
    )
    assert_rule(response, "password", "variety")
    audit.nothing()


def test_grant_and_revoke_a_role(client, admin_headers, audit, make_user, departments):
    make_user("alice", Role.VIEWER)
    audit.new_entries()
    grant = {"role": "dispatcher", "scope": "department:SZ"}
    granted = client.post("/api/v1/users/alice/grants", json=grant, headers=admin_headers)
    assert granted.status_code == 201, granted.text
    assert {"role": "dispatcher", "scope": "department:SZ"} in granted.json()["grants"]
    entry = audit.single(
        granted, action="user.grant", actor="root", role="admin", scope="city", object_id="alice"
    )
    assert entry.before["grants"] == ["viewer@city"]
    assert entry.after["grants"] == ["dispatcher@department:SZ", "viewer@city"]

    again = client.post("/api/v1/users/alice/grants", json=grant, headers=admin_headers)
    assert_problem(again, 409)
    audit.nothing()

    revoked = client.request(
        "DELETE", "/api/v1/users/alice/grants", json=grant, headers=admin_headers
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["grants"] == [{"role": "viewer", "scope": "city"}]
    entry = audit.single(
        revoked, action="user.revoke", actor="root", role="admin", scope="city", object_id="alice"
    )
    assert entry.before["grants"] == ["dispatcher@department:SZ", "viewer@city"]
    assert entry.after["grants"] == ["viewer@city"]

    missing = client.request(
        "DELETE", "/api/v1/users/alice/grants", json=grant, headers=admin_headers
    )
    assert_problem(missing, 409)
    audit.nothing()


def test_grant_with_unknown_role_or_department_is_422(client, admin_headers, make_user):
    make_user("alice", Role.VIEWER)
    bad_role = client.post(
        "/api/v1/users/alice/grants", json={"role": "king"}, headers=admin_headers
    )
    assert_rule(bad_role, "role", "role_known")
    bad_department = client.post(
        "/api/v1/users/alice/grants",
        json={"role": "viewer", "scope": "department:NOPE"},
        headers=admin_headers,
    )
    assert_rule(bad_department, "scope", "department_exists")


# -- department-scoped administrators ----------------------------------------------------------


@pytest.fixture
def sz_admin_headers(client, make_user, departments):
    admin = make_user("sz.admin", Role.ADMIN, scope=Scope("department", "SZ"), department_code="SZ")
    return bearer(client, admin)


def test_department_admin_creates_users_in_their_department(
    client, sz_admin_headers, services, system
):
    watch = AuditWatch(services, system)
    response = create_user(
        client,
        sz_admin_headers,
        department_code="SZ",
        grants=[{"role": "patroller", "scope": "department:SZ"}],
    )
    assert response.status_code == 201, response.text
    assert response.json()["department_code"] == "SZ"
    watch.single(
        response,
        action="user.create",
        actor="sz.admin",
        role="admin",
        scope="department:SZ",
        object_id="zhang.san",
    )


def test_department_admin_may_act_in_sub_departments(client, sz_admin_headers):
    response = create_user(
        client,
        sz_admin_headers,
        department_code="SZ-1",
        grants=[{"role": "department_handler", "scope": "department:SZ-1"}],
    )
    assert response.status_code == 201, response.text


def test_department_admin_cannot_create_users_in_another_department(client, sz_admin_headers):
    response = create_user(client, sz_admin_headers, department_code="HW")
    assert_problem(response, 403)
    response = create_user(
        client,
        sz_admin_headers,
        department_code="SZ",
        grants=[{"role": "viewer", "scope": "department:HW"}],
    )
    assert_problem(response, 403)


def test_department_admin_cannot_grant_city_wide_roles(client, sz_admin_headers):
    response = create_user(
        client,
        sz_admin_headers,
        department_code="SZ",
        grants=[{"role": "viewer", "scope": "city"}],
    )
    assert_problem(response, 403)
    # A user without a department is a city-wide object too.
    assert_problem(create_user(client, sz_admin_headers), 403)


def test_department_admin_cannot_touch_users_of_other_departments(
    client, sz_admin_headers, make_user
):
    make_user("hw.worker", Role.VIEWER, scope=Scope("department", "HW"), department_code="HW")
    assert_problem(client.get("/api/v1/users/hw.worker", headers=sz_admin_headers), 403)
    patch = client.patch(
        "/api/v1/users/hw.worker", json={"active": False}, headers=sz_admin_headers
    )
    assert_problem(patch, 403)
    listed = client.get("/api/v1/users", headers=sz_admin_headers)
    assert listed.status_code == 200
    assert [u["username"] for u in listed.json()] == ["sz.admin"]


# -- departments -------------------------------------------------------------------------------


def test_department_create_list_get_patch(client, admin_headers, audit):
    created = client.post(
        "/api/v1/departments", json={"code": "SZ", "name": "市政管理处"}, headers=admin_headers
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "code": "SZ",
        "name": "市政管理处",
        "parent_code": None,
        "active": True,
    }
    entry = audit.single(
        created,
        action="department.create",
        actor="root",
        role="admin",
        scope="city",
        object_id="SZ",
    )
    assert entry.object_type == "department"
    assert entry.before is None
    assert entry.after == created.json()

    child = client.post(
        "/api/v1/departments",
        json={"code": "SZ-1", "name": "道路科", "parent_code": "SZ"},
        headers=admin_headers,
    )
    assert child.status_code == 201
    assert child.json()["parent_code"] == "SZ"
    audit.new_entries()

    listed = client.get("/api/v1/departments", headers=admin_headers)
    assert listed.status_code == 200
    assert [d["code"] for d in listed.json()] == ["SZ", "SZ-1"]
    got = client.get("/api/v1/departments/SZ-1", headers=admin_headers)
    assert got.json() == child.json()

    patched = client.patch(
        "/api/v1/departments/SZ-1",
        json={"name": "道路养护科", "active": False},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json() == {
        "code": "SZ-1",
        "name": "道路养护科",
        "parent_code": "SZ",
        "active": False,
    }
    entry = audit.single(
        patched,
        action="department.update",
        actor="root",
        role="admin",
        scope="city",
        object_id="SZ-1",
    )
    assert entry.before == child.json()
    assert entry.after == patched.json()

    moved = client.patch(
        "/api/v1/departments/SZ-1", json={"clear_parent": True}, headers=admin_headers
    )
    assert moved.json()["parent_code"] is None


def test_viewer_reads_departments_but_cannot_write(client, make_user, departments):
    headers = bearer(client, make_user("viewer.one", Role.VIEWER))
    assert client.get("/api/v1/departments", headers=headers).status_code == 200
    refused = client.post("/api/v1/departments", json={"code": "X1", "name": "x"}, headers=headers)
    assert_problem(refused, 403)


def test_duplicate_department_is_409(client, admin_headers, departments, audit):
    response = client.post(
        "/api/v1/departments", json={"code": "SZ", "name": "again"}, headers=admin_headers
    )
    assert_problem(response, 409)
    audit.nothing()


def test_department_parent_must_exist(client, admin_headers, audit):
    response = client.post(
        "/api/v1/departments",
        json={"code": "SZ-1", "name": "道路科", "parent_code": "NOPE"},
        headers=admin_headers,
    )
    assert_rule(response, "parent_code", "department_exists")
    audit.nothing()


def test_department_patch_parent_must_exist(client, admin_headers, departments):
    response = client.patch(
        "/api/v1/departments/HW", json={"parent_code": "NOPE"}, headers=admin_headers
    )
    assert_rule(response, "parent_code", "department_exists")


@pytest.mark.parametrize(("code", "new_parent"), [("SZ", "SZ-1"), ("SZ", "SZ")])
def test_department_cycles_are_refused(client, admin_headers, departments, audit, code, new_parent):
    response = client.patch(
        f"/api/v1/departments/{code}", json={"parent_code": new_parent}, headers=admin_headers
    )
    assert_rule(response, "parent_code", "no_cycle")
    audit.nothing()
    assert (
        client.get(f"/api/v1/departments/{code}", headers=admin_headers).json()["parent_code"]
        is None
    )


def test_bad_department_code_is_422(client, admin_headers):
    response = client.post(
        "/api/v1/departments", json={"code": "has space", "name": "x"}, headers=admin_headers
    )
    assert_rule(response, "code", "department_code")


def test_blank_department_name_is_422(client, admin_headers):
    response = client.post(
        "/api/v1/departments", json={"code": "X1", "name": "   "}, headers=admin_headers
    )
    assert_rule(response, "name", "required")


# -- not found ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/users/nobody", None),
        ("PATCH", "/api/v1/users/nobody", {"active": False}),
        ("PUT", "/api/v1/users/nobody/password", {"password": "reset-by-admin-42"}),
        ("POST", "/api/v1/users/nobody/grants", {"role": "viewer"}),
        ("DELETE", "/api/v1/users/nobody/grants", {"role": "viewer"}),
        ("GET", "/api/v1/departments/NOPE", None),
        ("PATCH", "/api/v1/departments/NOPE", {"name": "x"}),
    ],
)
def test_unknown_user_or_department_is_404_problem(client, admin_headers, method, path, body):
    response = client.request(method, path, json=body, headers=admin_headers)
    body = assert_problem(response, 404)
    assert body["title"] == "Not found"


def test_malformed_path_parameter_is_422(client, admin_headers):
    response = client.get("/api/v1/users/bad name", headers=admin_headers)
    assert_rule(response, "username", "string_pattern_mismatch")
