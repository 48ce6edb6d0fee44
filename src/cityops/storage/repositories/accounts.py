"""Users, role grants and departments in SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from cityops.auth.model import Department, RoleGrant, User
from cityops.auth.permissions import Role
from cityops.auth.scopes import parse_scope
from cityops.storage.schema import departments, role_grants, users


class SqlUserRepository:
    """Users and their role grants."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(
        self,
        *,
        username: str,
        display_name: str,
        department_code: str | None,
        password_hash: str,
        created_at: datetime,
    ) -> User:
        """Insert a user."""
        result = self._connection.execute(
            insert(users).values(
                username=username,
                display_name=display_name,
                department_code=department_code,
                active=True,
                password_hash=password_hash,
                created_at=created_at,
                password_changed_at=created_at,
            )
        )
        assert result.inserted_primary_key is not None
        user_id = int(result.inserted_primary_key[0])
        return User(
            user_id, username, display_name, department_code, True, password_hash, created_at
        )

    def get(self, username: str) -> User | None:
        """Return a user by username."""
        return self._one(select(users).where(users.c.username == username.lower()))

    def get_by_id(self, user_id: int) -> User | None:
        """Return a user by id."""
        return self._one(select(users).where(users.c.id == user_id))

    def list(self) -> list[User]:
        """Return every user ordered by username."""
        rows = self._connection.execute(select(users).order_by(users.c.username)).mappings().all()
        grants = self._grants([row["id"] for row in rows])
        return [_user(row, grants.get(row["id"], ())) for row in rows]

    def count(self) -> int:
        """Return how many users exist."""
        return int(self._connection.execute(select(func.count()).select_from(users)).scalar_one())

    def update(
        self, user_id: int, *, display_name: str, department_code: str | None, active: bool
    ) -> None:
        """Change profile fields."""
        self._connection.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(display_name=display_name, department_code=department_code, active=active)
        )

    def set_password_hash(self, user_id: int, password_hash: str, changed_at: datetime) -> None:
        """Replace the password hash."""
        self._connection.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, password_changed_at=changed_at)
        )

    def add_grant(self, user_id: int, grant: RoleGrant) -> bool:
        """Add a grant unless the user has it."""
        if self._has_grant(user_id, grant):
            return False
        self._connection.execute(
            insert(role_grants).values(
                user_id=user_id, role=grant.role.value, scope=str(grant.scope)
            )
        )
        return True

    def remove_grant(self, user_id: int, grant: RoleGrant) -> bool:
        """Remove a grant if the user has it."""
        result = self._connection.execute(
            delete(role_grants).where(self._grant_clause(user_id, grant))
        )
        return result.rowcount > 0

    def _has_grant(self, user_id: int, grant: RoleGrant) -> bool:
        found = self._connection.execute(
            select(role_grants.c.user_id).where(self._grant_clause(user_id, grant))
        ).first()
        return found is not None

    @staticmethod
    def _grant_clause(user_id: int, grant: RoleGrant) -> Any:
        return and_(
            role_grants.c.user_id == user_id,
            role_grants.c.role == grant.role.value,
            role_grants.c.scope == str(grant.scope),
        )

    def _one(self, query: Any) -> User | None:
        row = self._connection.execute(query).mappings().first()
        if row is None:
            return None
        return _user(row, self._grants([row["id"]]).get(row["id"], ()))

    def _grants(self, user_ids: Sequence[int]) -> dict[int, tuple[RoleGrant, ...]]:
        if not user_ids:
            return {}
        rows = self._connection.execute(
            select(role_grants)
            .where(role_grants.c.user_id.in_(user_ids))
            .order_by(role_grants.c.role, role_grants.c.scope)
        ).mappings()
        found: dict[int, list[RoleGrant]] = defaultdict(list)
        for row in rows:
            found[row["user_id"]].append(RoleGrant(Role(row["role"]), parse_scope(row["scope"])))
        return {user_id: tuple(grants) for user_id, grants in found.items()}


def _user(row: Any, grants: tuple[RoleGrant, ...]) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        department_code=row["department_code"],
        active=bool(row["active"]),
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        grants=grants,
    )


class SqlDepartmentRepository:
    """Departments."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, department: Department, created_at: datetime) -> None:
        """Insert a department."""
        self._connection.execute(
            insert(departments).values(
                code=department.code,
                name=department.name,
                parent_code=department.parent_code,
                active=department.active,
                created_at=created_at,
            )
        )

    def get(self, code: str) -> Department | None:
        """Return one department."""
        row = (
            self._connection.execute(select(departments).where(departments.c.code == code))
            .mappings()
            .first()
        )
        return _department(row) if row is not None else None

    def list(self) -> list[Department]:
        """Return every department by code."""
        rows = self._connection.execute(select(departments).order_by(departments.c.code))
        return [_department(row) for row in rows.mappings()]

    def update(self, department: Department) -> None:
        """Replace name, parent and active flag."""
        self._connection.execute(
            update(departments)
            .where(departments.c.code == department.code)
            .values(
                name=department.name,
                parent_code=department.parent_code,
                active=department.active,
            )
        )


def _department(row: Any) -> Department:
    return Department(
        code=row["code"],
        name=row["name"],
        parent_code=row["parent_code"],
        active=bool(row["active"]),
    )
