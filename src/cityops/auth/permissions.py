"""The permission catalogue and what each role may do.

A permission is ``resource:action`` (``cases:create``). Roles are bundles of permissions; a role
is always granted *within a scope* (see :mod:`cityops.auth.scopes`). API keys carry permissions
directly, because an integration is not a person with a job title.
"""

from __future__ import annotations

import re
from enum import StrEnum

from cityops.kernel.errors import ValidationFailed


class Role(StrEnum):
    """The roles of an operations platform (一网统管)."""

    ADMIN = "admin"
    COMMAND_CENTER = "command_center"  # 指挥中心 / 值班长
    DISPATCHER = "dispatcher"  # 派遣员
    INTAKE = "intake"  # 受理员
    DEPARTMENT_HANDLER = "department_handler"  # 专业部门
    PATROLLER = "patroller"  # 监督员 / 网格员
    ANALYST = "analyst"
    DATA_OFFICER = "data_officer"
    VIEWER = "viewer"


ROLE_LABELS_ZH: dict[Role, str] = {
    Role.ADMIN: "系统管理员",
    Role.COMMAND_CENTER: "指挥中心/值班长",
    Role.DISPATCHER: "派遣员",
    Role.INTAKE: "受理员",
    Role.DEPARTMENT_HANDLER: "专业部门处置人员",
    Role.PATROLLER: "监督员/网格员",
    Role.ANALYST: "分析员",
    Role.DATA_OFFICER: "数据专员",
    Role.VIEWER: "只读用户",
}

# Permission → one-line description. Later capabilities (cases, sensing, data sharing) already
# have their permissions here so that roles and API keys can be granted before the features land.
PERMISSIONS: dict[str, str] = {
    "dashboard:view": "see the signed-in pages and the command-center dashboard",
    "users:read": "list and read user accounts",
    "users:write": "create, disable and change user accounts and their role grants",
    "departments:read": "list and read departments",
    "departments:write": "create and change departments",
    "apikeys:read": "list API keys",
    "apikeys:write": "issue and revoke API keys",
    "audit:read": "read the audit log",
    "events:read": "read the domain-event feed",
    "settings:read": "read the effective settings (secrets masked)",
    "geo:read": "read divisions, grids and components",
    "geo:write": "import and change divisions, grids and components",
    "cases:read": "read cases",
    "cases:contact": "see reporters' names and phone numbers unmasked",
    "cases:create": "register new cases (appeals, reports, detections)",
    "cases:file": "file (立案) or reject cases",
    "cases:dispatch": "dispatch, re-dispatch, hold, void and urge cases",
    "cases:handle": "handle dispatched cases and report back",
    "cases:verify": "verify handled cases on site",
    "cases:admin": "change matter rules, time limits and routing",
    "telemetry:read": "read devices, datastreams and observations",
    "telemetry:write": "send observations and register devices",
    "alerts:read": "read alerts",
    "alerts:manage": "acknowledge, close and configure alerts",
    "datasets:read": "read the dataset catalog and granted datasets",
    "datasets:publish": "publish datasets and approve data requests",
    "analytics:read": "read indicators, reports and KPIs",
}

_READ_ALL = {
    "dashboard:view",
    "geo:read",
    "cases:read",
    "telemetry:read",
    "alerts:read",
    "analytics:read",
    "datasets:read",
    "departments:read",
}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(PERMISSIONS),
    Role.COMMAND_CENTER: frozenset(
        _READ_ALL
        | {
            "cases:create",
            "cases:contact",
            "cases:file",
            "cases:dispatch",
            "cases:verify",
            "alerts:manage",
            "events:read",
            "users:read",
        }
    ),
    Role.DISPATCHER: frozenset(
        _READ_ALL | {"cases:create", "cases:contact", "cases:file", "cases:dispatch"}
    ),
    Role.INTAKE: frozenset(_READ_ALL | {"cases:create", "cases:contact"}),
    Role.DEPARTMENT_HANDLER: frozenset(_READ_ALL | {"cases:handle"}),
    Role.PATROLLER: frozenset(_READ_ALL | {"cases:create", "cases:verify"}),
    Role.ANALYST: frozenset(_READ_ALL | {"events:read"}),
    Role.DATA_OFFICER: frozenset(_READ_ALL | {"datasets:publish"}),
    Role.VIEWER: frozenset(_READ_ALL),
}

_PERMISSION_SHAPE = re.compile(r"^[a-z][a-z_]*:[a-z][a-z_]*$")


def parse_permission(text: str, *, field: str = "permission") -> str:
    """Return ``text`` as a known permission, or raise ValidationFailed naming the rule."""
    candidate = text.strip()
    if not _PERMISSION_SHAPE.fullmatch(candidate):
        raise ValidationFailed.single(
            field, "permission_format", f"{text!r} is not of the form resource:action"
        )
    if candidate not in PERMISSIONS:
        raise ValidationFailed.single(
            field, "permission_known", f"{candidate!r} is not a known permission"
        )
    return candidate


def parse_role(text: str, *, field: str = "role") -> Role:
    """Return ``text`` as a Role, or raise ValidationFailed listing the valid roles."""
    try:
        return Role(text.strip())
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise ValidationFailed.single(
            field, "role_known", f"{text!r} is not a role; use one of {valid}"
        ) from None
