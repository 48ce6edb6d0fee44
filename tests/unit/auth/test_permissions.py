"""Unit tests of the permission catalogue, the roles and their parsers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.auth.permissions import (
    PERMISSIONS,
    ROLE_LABELS_ZH,
    ROLE_PERMISSIONS,
    Role,
    parse_permission,
    parse_role,
)
from cityops.kernel.errors import ValidationFailed

SHAPE = re.compile(r"[a-z][a-z_]*:[a-z][a-z_]*")
well_formed = st.from_regex(r"\A[a-z][a-z_]{0,12}:[a-z][a-z_]{0,12}\Z")


# --- parse_permission -----------------------------------------------------------------------


@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_every_known_permission_parses(permission: str) -> None:
    assert parse_permission(permission) == permission


@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_surrounding_whitespace_is_stripped(permission: str) -> None:
    assert parse_permission(f"  {permission}\n") == permission


@pytest.mark.parametrize(
    "text", ["foo:bar", "cases:delete", "users:admin", "case:read", "cases:reads", "x:y"]
)
def test_unknown_well_formed_permission_is_rejected_as_unknown(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_permission(text)
    issue = caught.value.issues[0]
    assert issue.field == "permission"
    assert issue.rule == "permission_known"
    assert text in issue.message


@given(well_formed.filter(lambda p: p not in PERMISSIONS))
def test_any_unknown_well_formed_permission_is_unknown(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_permission(text)
    assert caught.value.issues[0].rule == "permission_known"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "cases",
        "cases:",
        ":read",
        ":",
        "Cases:read",
        "cases:Read",
        "CASES:READ",
        "cases:read:extra",
        "cases read",
        "cases: read",
        "cases :read",
        "cases:re-ad",
        "cases-x:read",
        "1cases:read",
        "cases:1read",
        "_cases:read",
        "cases:_read",
        "cases.read",
        "cases：read",  # full-width colon
        "cases:read*",
        "*:*",
        "cases:réad",
    ],
)
def test_malformed_permission_is_rejected_as_format(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_permission(text)
    issue = caught.value.issues[0]
    assert issue.field == "permission"
    assert issue.rule == "permission_format"


def test_permission_field_name_is_the_callers() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_permission("nope", field="permissions[3]")
    assert caught.value.issues[0].field == "permissions[3]"


@given(st.text())
def test_arbitrary_text_is_a_known_permission_or_validation_failed(text: str) -> None:
    try:
        result = parse_permission(text)
    except ValidationFailed as error:
        issue = error.issues[0]
        assert issue.field == "permission"
        assert issue.rule in {"permission_format", "permission_known"}
        if issue.rule == "permission_known":
            assert SHAPE.fullmatch(text.strip())
        return
    assert result in PERMISSIONS
    assert result == text.strip()


# --- parse_role -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_every_role_parses(role: Role) -> None:
    assert parse_role(role.value) is role
    assert parse_role(f" {role.value} ") is role


@pytest.mark.parametrize(
    "text", ["", "Admin", "ADMIN", "superuser", "admin@city", "command-center", "view"]
)
def test_unknown_role_is_rejected(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_role(text)
    issue = caught.value.issues[0]
    assert issue.field == "role"
    assert issue.rule == "role_known"
    for role in Role:
        assert role.value in issue.message


def test_role_field_name_is_the_callers() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_role("chief", field="grants[0].role")
    assert caught.value.issues[0].field == "grants[0].role"


@given(st.text())
def test_arbitrary_text_is_a_role_or_validation_failed(text: str) -> None:
    try:
        role = parse_role(text)
    except ValidationFailed as error:
        issue = error.issues[0]
    else:
        assert role.value == text.strip()
        return
    assert issue.rule == "role_known"
    assert issue.field == "role"


# --- the catalogue --------------------------------------------------------------------------


@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_catalogue_entries_are_well_formed_and_described(permission: str) -> None:
    assert SHAPE.fullmatch(permission)
    assert PERMISSIONS[permission].strip()


def test_every_role_has_permissions_and_a_label() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert set(ROLE_LABELS_ZH) == set(Role)
    for role in Role:
        assert ROLE_PERMISSIONS[role], role


@pytest.mark.parametrize("role", list(Role))
def test_role_permissions_are_known(role: Role) -> None:
    assert ROLE_PERMISSIONS[role] <= set(PERMISSIONS)


def test_admin_has_every_permission() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(PERMISSIONS)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_see_the_dashboard(role: Role) -> None:
    assert "dashboard:view" in ROLE_PERMISSIONS[role]


def test_viewer_has_no_write_permission() -> None:
    viewer = ROLE_PERMISSIONS[Role.VIEWER]
    assert not [p for p in viewer if p.endswith(":write")]
    assert all(p.endswith((":read", ":view")) for p in viewer), sorted(viewer)


@pytest.mark.parametrize("permission", ["users:write", "apikeys:write", "audit:read"])
def test_only_admin_manages_accounts_keys_and_audit(permission: str) -> None:
    holders = {role for role in Role if permission in ROLE_PERMISSIONS[role]}
    assert holders == {Role.ADMIN}


def test_every_other_role_is_a_strict_subset_of_admin() -> None:
    admin = ROLE_PERMISSIONS[Role.ADMIN]
    for role in Role:
        if role is not Role.ADMIN:
            assert ROLE_PERMISSIONS[role] < admin, role
