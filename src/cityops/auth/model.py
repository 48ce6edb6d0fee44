"""Accounts and the principal that a request acts as."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cityops.auth.permissions import ROLE_PERMISSIONS, Role
from cityops.auth.scopes import ResourceScope, Scope, division_prefix
from cityops.kernel.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Department:
    """A department or unit (城管, 环卫, 交警 …), identified by a code, within a tree."""

    code: str
    name: str
    parent_code: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """A role held by a user within a scope."""

    role: Role
    scope: Scope

    def __str__(self) -> str:
        return f"{self.role.value}@{self.scope}"


@dataclass(frozen=True, slots=True)
class User:
    """A person who signs in."""

    id: int
    username: str
    display_name: str
    department_code: str | None
    active: bool
    password_hash: str
    created_at: datetime
    grants: tuple[RoleGrant, ...] = ()

    def public(self) -> dict[str, object]:
        """Return the fields safe to show and audit (never the password hash)."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "department_code": self.department_code,
            "active": self.active,
            "grants": sorted(str(g) for g in self.grants),
        }


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A credential for an integration, with explicit permissions in one scope."""

    id: int
    prefix: str
    name: str
    permissions: frozenset[str]
    scope: Scope
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """Tell whether the key is neither revoked nor expired at ``now``."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    def public(self) -> dict[str, object]:
        """Return the fields safe to show and audit (never the secret)."""
        return {
            "id": self.id,
            "prefix": self.prefix,
            "name": self.name,
            "permissions": sorted(self.permissions),
            "scope": str(self.scope),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked": self.revoked_at is not None,
        }


@dataclass(frozen=True, slots=True)
class Grant:
    """What lets a principal act: a role (or an API key) with its permissions in one scope."""

    role: str
    scope: Scope
    permissions: frozenset[str]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a user, an API key, or the system (the CLI, the demo loader)."""

    kind: Literal["user", "apikey", "system"]
    name: str
    grants: tuple[Grant, ...] = field(default=())
    department_code: str | None = None

    @classmethod
    def for_user(cls, user: User) -> Principal:
        """Build the principal of a signed-in user from their role grants."""
        grants = tuple(Grant(g.role.value, g.scope, ROLE_PERMISSIONS[g.role]) for g in user.grants)
        return cls("user", user.username, grants, user.department_code)

    @classmethod
    def for_api_key(cls, key: ApiKey) -> Principal:
        """Build the principal of an integration presenting an API key."""
        return cls("apikey", f"apikey:{key.prefix}", (Grant("apikey", key.scope, key.permissions),))

    @classmethod
    def system(cls, name: str) -> Principal:
        """Build an all-powerful principal for trusted local tools (the CLI run by an operator)."""
        admin = Grant(Role.ADMIN.value, Scope.city(), ROLE_PERMISSIONS[Role.ADMIN])
        return cls("system", name, (admin,))

    def grant_for(self, permission: str, resource: ResourceScope | None = None) -> Grant | None:
        """Return the grant that allows ``permission`` on ``resource``, widest scope first."""
        matches = [
            g for g in self.grants if permission in g.permissions and g.scope.covers(resource)
        ]
        if not matches:
            return None
        return min(matches, key=_breadth)

    def can(self, permission: str, resource: ResourceScope | None = None) -> bool:
        """Tell whether the principal holds ``permission`` on ``resource``."""
        return self.grant_for(permission, resource) is not None

    def has_anywhere(self, permission: str) -> bool:
        """Tell whether the principal holds ``permission`` in at least one scope."""
        return any(permission in g.permissions for g in self.grants)

    def require_somewhere(self, permission: str) -> None:
        """Raise PermissionDenied unless ``permission`` is held in at least one scope."""
        if not self.has_anywhere(permission):
            raise PermissionDenied(f"{self.name} lacks permission {permission}")

    def authorize(self, permission: str, resource: ResourceScope | None = None) -> Grant:
        """Return the grant that allows the action, or raise PermissionDenied."""
        grant = self.grant_for(permission, resource)
        if grant is None:
            where = "" if resource is None else " in this scope"
            raise PermissionDenied(f"{self.name} lacks permission {permission}{where}")
        return grant


def _breadth(grant: Grant) -> tuple[int, int]:
    """Sort key: the city first, then the division or department covering the most."""
    if grant.scope.kind == "city":
        return (0, 0)
    if grant.scope.kind == "division":
        return (1, len(division_prefix(grant.scope.code)))
    return (2, 0)
