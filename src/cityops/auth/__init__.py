"""Accounts, departments, roles, scopes, permissions, API keys and sign-in."""

from cityops.auth.model import ApiKey, Department, Grant, Principal, User
from cityops.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role, parse_permission
from cityops.auth.scopes import ResourceScope, Scope, parse_scope

__all__ = [
    "PERMISSIONS",
    "ROLE_PERMISSIONS",
    "ApiKey",
    "Department",
    "Grant",
    "Principal",
    "ResourceScope",
    "Role",
    "Scope",
    "User",
    "parse_permission",
    "parse_scope",
]
