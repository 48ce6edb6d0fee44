"""Events of the accounts domain."""

from __future__ import annotations

from dataclasses import dataclass

from cityops.kernel.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class UserCreated(DomainEvent):
    """A user account was created."""

    aggregate_type = "user"
    username: str


@dataclass(frozen=True, kw_only=True)
class UserChanged(DomainEvent):
    """A user's profile or active flag changed."""

    aggregate_type = "user"
    username: str
    active: bool


@dataclass(frozen=True, kw_only=True)
class PasswordChanged(DomainEvent):
    """A user's password was set or reset."""

    aggregate_type = "user"
    username: str


@dataclass(frozen=True, kw_only=True)
class RoleGranted(DomainEvent):
    """A user was granted a role in a scope."""

    aggregate_type = "user"
    username: str
    role: str
    scope: str


@dataclass(frozen=True, kw_only=True)
class RoleRevoked(DomainEvent):
    """A user's role grant was removed."""

    aggregate_type = "user"
    username: str
    role: str
    scope: str


@dataclass(frozen=True, kw_only=True)
class DepartmentCreated(DomainEvent):
    """A department was created."""

    aggregate_type = "department"
    code: str
    name: str


@dataclass(frozen=True, kw_only=True)
class DepartmentChanged(DomainEvent):
    """A department's name, parent or active flag changed."""

    aggregate_type = "department"
    code: str


@dataclass(frozen=True, kw_only=True)
class ApiKeyIssued(DomainEvent):
    """An API key was issued to an integration."""

    aggregate_type = "apikey"
    prefix: str
    name: str


@dataclass(frozen=True, kw_only=True)
class ApiKeyRevoked(DomainEvent):
    """An API key was revoked."""

    aggregate_type = "apikey"
    prefix: str
