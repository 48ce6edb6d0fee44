"""Unit tests of principals: how users, API keys and the system are authorized."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.auth.model import ApiKey, Grant, Principal, RoleGrant, User
from cityops.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role
from cityops.auth.scopes import ResourceScope, Scope
from cityops.kernel.errors import PermissionDenied

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
CITY = Scope.city()
IN_CG = ResourceScope(division_code="320102001", department_codes=("cg-east", "cg"))
IN_HW = ResourceScope(division_code="320102001", department_codes=("hw",))


def make_user(
    *grants: RoleGrant, username: str = "alice", department_code: str | None = "cg"
) -> User:
    return User(
        id=1,
        username=username,
        display_name="Alice",
        department_code=department_code,
        active=True,
        password_hash="$argon2id$not-a-real-hash",
        created_at=NOW,
        grants=tuple(grants),
    )


def make_key(
    permissions: set[str],
    scope: Scope = CITY,
    *,
    expires_at: datetime | None = None,
    revoked_at: datetime | None = None,
) -> ApiKey:
    return ApiKey(
        id=7,
        prefix="a1b2c3d4",
        name="sensor gateway",
        permissions=frozenset(permissions),
        scope=scope,
        created_by="admin",
        created_at=NOW,
        expires_at=expires_at,
        revoked_at=revoked_at,
    )


def viewer_grant(scope: Scope) -> Grant:
    return Grant(Role.VIEWER.value, scope, ROLE_PERMISSIONS[Role.VIEWER])


# --- construction ---------------------------------------------------------------------------


def test_for_user_maps_every_role_grant() -> None:
    user = make_user(
        RoleGrant(Role.DISPATCHER, Scope("division", "320102")),
        RoleGrant(Role.VIEWER, CITY),
    )
    principal = Principal.for_user(user)
    assert principal.kind == "user"
    assert principal.name == "alice"
    assert principal.department_code == "cg"
    assert principal.grants == (
        Grant("dispatcher", Scope("division", "320102"), ROLE_PERMISSIONS[Role.DISPATCHER]),
        Grant("viewer", CITY, ROLE_PERMISSIONS[Role.VIEWER]),
    )


def test_user_without_grants_can_do_nothing() -> None:
    principal = Principal.for_user(make_user(department_code=None))
    assert principal.grants == ()
    assert principal.department_code is None
    for permission in PERMISSIONS:
        assert not principal.can(permission)
        assert not principal.can(permission, IN_CG)
        assert not principal.has_anywhere(permission)


def test_for_api_key_carries_exactly_the_keys_permissions() -> None:
    scope = Scope("division", "320102")
    key = make_key({"telemetry:write", "telemetry:read"}, scope)
    principal = Principal.for_api_key(key)
    assert principal.kind == "apikey"
    assert principal.name == "apikey:a1b2c3d4"
    assert principal.department_code is None
    assert principal.grants == (
        Grant("apikey", scope, frozenset({"telemetry:write", "telemetry:read"})),
    )
    assert principal.can("telemetry:write", ResourceScope(division_code="320102001"))
    assert not principal.can("telemetry:write", ResourceScope(division_code="320103001"))
    assert not principal.can("cases:read", ResourceScope(division_code="320102001"))
    assert not principal.can("telemetry:write")


def test_city_wide_api_key_still_limited_to_its_permissions() -> None:
    principal = Principal.for_api_key(make_key({"cases:read"}))
    assert principal.can("cases:read")
    assert principal.can("cases:read", IN_HW)
    with pytest.raises(PermissionDenied):
        principal.authorize("cases:create", IN_HW)


def test_system_principal_is_a_city_admin() -> None:
    principal = Principal.system("cli")
    assert principal.kind == "system"
    assert principal.name == "cli"
    assert len(principal.grants) == 1
    grant = principal.grants[0]
    assert grant.role == "admin"
    assert grant.scope == CITY
    assert grant.permissions == frozenset(PERMISSIONS)
    for permission in PERMISSIONS:
        assert principal.authorize(permission) == grant
        assert principal.authorize(permission, IN_HW) == grant


# --- grant_for / can ------------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True], ids=["narrow-first", "wide-first"])
def test_grant_for_prefers_city_over_narrower_grants(reverse: bool) -> None:
    grants = [
        RoleGrant(Role.DISPATCHER, Scope("department", "cg")),
        RoleGrant(Role.DISPATCHER, Scope("division", "320102")),
        RoleGrant(Role.COMMAND_CENTER, CITY),
    ]
    principal = Principal.for_user(make_user(*(reversed(grants) if reverse else grants)))
    grant = principal.grant_for("cases:dispatch", IN_CG)
    assert grant is not None
    assert grant.scope == CITY
    assert grant.role == "command_center"


@pytest.mark.parametrize("reverse", [False, True], ids=["narrow-first", "wide-first"])
def test_grant_for_prefers_a_shorter_division_code(reverse: bool) -> None:
    grants = [
        RoleGrant(Role.VIEWER, Scope("division", "320102001")),
        RoleGrant(Role.ANALYST, Scope("division", "320102")),
    ]
    principal = Principal.for_user(make_user(*(reversed(grants) if reverse else grants)))
    grant = principal.grant_for("cases:read", ResourceScope(division_code="320102001001"))
    assert grant is not None
    assert grant.scope == Scope("division", "320102")


@pytest.mark.parametrize(
    ("narrow", "wide"),
    [("320102", "320100"), ("320102", "320000"), ("320100", "320000")],
)
@pytest.mark.parametrize("reverse", [False, True], ids=["narrow-first", "wide-first"])
def test_grant_for_prefers_the_wider_six_digit_division(
    narrow: str, wide: str, reverse: bool
) -> None:
    """A province (320000) is wider than its city (320100), which is wider than a district."""
    grants = [
        RoleGrant(Role.VIEWER, Scope("division", narrow)),
        RoleGrant(Role.ANALYST, Scope("division", wide)),
    ]
    principal = Principal.for_user(make_user(*(reversed(grants) if reverse else grants)))
    grant = principal.grant_for("cases:read", ResourceScope(division_code="320102001"))
    assert grant is not None
    assert grant.scope == Scope("division", wide)


def test_grant_for_only_considers_grants_holding_the_permission() -> None:
    principal = Principal.for_user(
        make_user(
            RoleGrant(Role.VIEWER, CITY),
            RoleGrant(Role.DISPATCHER, Scope("division", "320102")),
        )
    )
    grant = principal.grant_for("cases:dispatch", ResourceScope(division_code="320102001"))
    assert grant is not None
    assert grant.role == "dispatcher"
    assert principal.grant_for("cases:dispatch", ResourceScope(division_code="320103001")) is None
    assert principal.grant_for("cases:dispatch") is None
    read = principal.grant_for("cases:read", ResourceScope(division_code="320102001"))
    assert read is not None
    assert read.role == "viewer"


def test_grant_for_returns_none_when_no_scope_covers() -> None:
    principal = Principal("user", "bob", (viewer_grant(Scope("division", "320102")),))
    assert principal.grant_for("cases:read", ResourceScope(division_code="330100")) is None
    assert principal.grant_for("cases:read", None) is None
    assert principal.grant_for("users:write", ResourceScope(division_code="320102")) is None
    assert not principal.can("cases:read", ResourceScope(division_code="330100"))
    assert principal.can("cases:read", ResourceScope(division_code="320102"))


# --- authorize ------------------------------------------------------------------------------


def test_authorize_returns_the_allowing_grant() -> None:
    principal = Principal.for_user(make_user(RoleGrant(Role.INTAKE, CITY)))
    grant = principal.authorize("cases:create", IN_HW)
    assert grant.role == "intake"
    assert grant.scope == CITY


def test_authorize_names_the_permission_and_principal_when_denied() -> None:
    principal = Principal.for_user(make_user(RoleGrant(Role.VIEWER, CITY)))
    with pytest.raises(PermissionDenied) as caught:
        principal.authorize("users:write")
    assert "users:write" in caught.value.message
    assert "alice" in caught.value.message
    assert caught.value.status == 403


def test_authorize_in_a_scope_says_so() -> None:
    principal = Principal.for_user(
        make_user(RoleGrant(Role.DEPARTMENT_HANDLER, Scope("department", "cg")))
    )
    with pytest.raises(PermissionDenied) as caught:
        principal.authorize("cases:handle", IN_HW)
    assert "cases:handle" in str(caught.value)
    assert "scope" in str(caught.value)


# --- department-scoped roles ----------------------------------------------------------------


@pytest.fixture
def handler() -> Principal:
    return Principal.for_user(
        make_user(RoleGrant(Role.DEPARTMENT_HANDLER, Scope("department", "cg")))
    )


def test_department_handler_acts_on_its_department(handler: Principal) -> None:
    grant = handler.authorize("cases:handle", IN_CG)
    assert grant.scope == Scope("department", "cg")
    assert handler.can("cases:handle", ResourceScope(department_codes=("cg",)))
    assert handler.can("cases:read", ResourceScope(department_codes=("cg-east-1", "cg-east", "cg")))


def test_department_handler_cannot_act_on_another_department(handler: Principal) -> None:
    assert not handler.can("cases:handle", IN_HW)
    assert not handler.can("cases:read", IN_HW)
    with pytest.raises(PermissionDenied):
        handler.authorize("cases:handle", IN_HW)
    with pytest.raises(PermissionDenied):
        handler.authorize("cases:handle", ResourceScope(department_codes=("cg-east",)))


def test_department_handler_cannot_act_city_wide(handler: Principal) -> None:
    assert not handler.can("cases:handle", None)
    with pytest.raises(PermissionDenied) as caught:
        handler.authorize("cases:handle")
    assert "cases:handle" in caught.value.message
    with pytest.raises(PermissionDenied):
        handler.authorize("dashboard:view", None)


def test_department_handler_lacks_other_roles_permissions(handler: Principal) -> None:
    with pytest.raises(PermissionDenied):
        handler.authorize("cases:dispatch", IN_CG)


# --- has_anywhere ---------------------------------------------------------------------------


def test_has_anywhere_ignores_the_scope(handler: Principal) -> None:
    assert handler.has_anywhere("cases:handle")
    assert handler.has_anywhere("dashboard:view")
    assert not handler.can("cases:handle")  # held in a department, not city-wide
    assert not handler.has_anywhere("cases:dispatch")
    assert not handler.has_anywhere("users:write")
    assert not handler.has_anywhere("no:such")


def test_has_anywhere_unions_all_grants() -> None:
    principal = Principal.for_user(
        make_user(
            RoleGrant(Role.DATA_OFFICER, Scope("division", "320102")),
            RoleGrant(Role.ANALYST, Scope("department", "cg")),
        )
    )
    assert principal.has_anywhere("datasets:publish")
    assert principal.has_anywhere("events:read")
    assert not principal.has_anywhere("cases:create")


# --- the model around principals ------------------------------------------------------------


def test_role_grant_str() -> None:
    assert str(RoleGrant(Role.DISPATCHER, Scope("division", "320102"))) == (
        "dispatcher@division:320102"
    )
    assert str(RoleGrant(Role.ADMIN, CITY)) == "admin@city"


def test_user_public_never_shows_the_password_hash() -> None:
    user = make_user(RoleGrant(Role.VIEWER, CITY), RoleGrant(Role.ADMIN, CITY))
    public = user.public()
    assert "password_hash" not in public
    assert user.password_hash not in repr(public)
    assert public["grants"] == ["admin@city", "viewer@city"]
    assert public["username"] == "alice"


def test_api_key_usable_until_expiry_or_revocation() -> None:
    assert make_key({"cases:read"}).usable_at(NOW)
    expiring = make_key({"cases:read"}, expires_at=NOW + timedelta(hours=1))
    assert expiring.usable_at(NOW)
    assert expiring.usable_at(NOW + timedelta(minutes=59))
    assert not expiring.usable_at(NOW + timedelta(hours=1))
    assert not expiring.usable_at(NOW + timedelta(days=1))
    revoked = make_key({"cases:read"}, revoked_at=NOW)
    assert not revoked.usable_at(NOW - timedelta(days=1))


def test_api_key_public_never_shows_a_secret() -> None:
    key = make_key({"telemetry:write", "cases:read"}, Scope("division", "320102"))
    assert key.public() == {
        "id": 7,
        "prefix": "a1b2c3d4",
        "name": "sensor gateway",
        "permissions": ["cases:read", "telemetry:write"],
        "scope": "division:320102",
        "expires_at": None,
        "revoked": False,
    }
