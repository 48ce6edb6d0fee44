"""What the accounts domain needs from a store (implemented in cityops.storage)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from cityops.auth.model import ApiKey, Department, RoleGrant, User
from cityops.auth.scopes import Scope
from cityops.kernel.uow import UnitOfWork


class UserRepository(Protocol):
    """Users and their role grants."""

    def add(
        self,
        *,
        username: str,
        display_name: str,
        department_code: str | None,
        password_hash: str,
        created_at: datetime,
    ) -> User:
        """Insert a user and return it with its id."""
        ...

    def get(self, username: str) -> User | None:
        """Return the user with this username (case-insensitive), with grants."""
        ...

    def get_by_id(self, user_id: int) -> User | None:
        """Return the user with this id, with grants."""
        ...

    def list(self) -> list[User]:
        """Return every user, with grants, ordered by username."""
        ...

    def update(
        self,
        user_id: int,
        *,
        display_name: str,
        department_code: str | None,
        active: bool,
    ) -> None:
        """Change a user's profile fields."""
        ...

    def set_password_hash(self, user_id: int, password_hash: str, changed_at: datetime) -> None:
        """Replace a user's password hash."""
        ...

    def add_grant(self, user_id: int, grant: RoleGrant) -> bool:
        """Add a role grant; return False if the user already had it."""
        ...

    def remove_grant(self, user_id: int, grant: RoleGrant) -> bool:
        """Remove a role grant; return False if the user did not have it."""
        ...


class DepartmentRepository(Protocol):
    """Departments (a tree by parent code)."""

    def add(self, department: Department, created_at: datetime) -> None:
        """Insert a department."""
        ...

    def get(self, code: str) -> Department | None:
        """Return the department with this code."""
        ...

    def list(self) -> list[Department]:
        """Return every department ordered by code."""
        ...

    def update(self, department: Department) -> None:
        """Replace a department's name, parent and active flag."""
        ...


class ApiKeyRepository(Protocol):
    """API keys, stored as a public prefix plus the hash of the secret."""

    def add(
        self,
        *,
        prefix: str,
        secret_hash: str,
        name: str,
        permissions: frozenset[str],
        scope: Scope,
        created_by: str,
        created_at: datetime,
        expires_at: datetime | None,
    ) -> ApiKey:
        """Insert a key and return it with its id."""
        ...

    def find(self, prefix: str) -> tuple[ApiKey, str] | None:
        """Return the key with this prefix and its stored secret hash."""
        ...

    def get(self, key_id: int) -> ApiKey | None:
        """Return the key with this id."""
        ...

    def list(self) -> list[ApiKey]:
        """Return every key, newest first."""
        ...

    def revoke(self, key_id: int, at: datetime) -> None:
        """Mark a key revoked."""
        ...


class SessionRepository(Protocol):
    """Sign-in sessions, stored under the hash of their token."""

    def add(
        self,
        *,
        token_hash: str,
        user_id: int,
        created_at: datetime,
        expires_at: datetime,
        client_address: str | None,
    ) -> None:
        """Insert a session."""
        ...

    def get(self, token_hash: str) -> tuple[int, datetime] | None:
        """Return ``(user_id, expires_at)`` of a session."""
        ...

    def delete(self, token_hash: str) -> None:
        """End one session."""
        ...

    def delete_for_user(self, user_id: int) -> int:
        """End every session of a user; return how many."""
        ...

    def purge_expired(self, now: datetime) -> int:
        """Delete sessions that expired before ``now``; return how many."""
        ...


class AccountsUnitOfWork(UnitOfWork, Protocol):
    """A transaction with the account repositories."""

    @property
    def users(self) -> UserRepository:
        """Users in this transaction."""
        ...

    @property
    def departments(self) -> DepartmentRepository:
        """Departments in this transaction."""
        ...

    @property
    def api_keys(self) -> ApiKeyRepository:
        """API keys in this transaction."""
        ...

    @property
    def sessions(self) -> SessionRepository:
        """Sessions in this transaction."""
        ...
