"""Managing departments, users and role grants; every change is audited and emits an event."""

from __future__ import annotations

import re
from typing import Any

from cityops.auth import events
from cityops.auth.audit import make_entry
from cityops.auth.model import Department, Grant, Principal, RoleGrant, User
from cityops.auth.permissions import Role
from cityops.auth.ports import AccountsUnitOfWork
from cityops.auth.scopes import ResourceScope, Scope, is_department_code
from cityops.auth.secrets import PasswordHasher, check_password_rules
from cityops.kernel.clock import Clock
from cityops.kernel.errors import Conflict, NotFound, ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")
_MAX_NAME = 100


def check_username(username: str, *, field: str = "username") -> str:
    """Return the normalised username or raise ValidationFailed naming the rule."""
    normal = username.strip().lower()
    if not _USERNAME.fullmatch(normal):
        raise ValidationFailed.single(
            field,
            "username_format",
            "3–64 characters: lower-case letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
        )
    return normal


def _check_name(name: str, field: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValidationFailed.single(field, "required", "must not be empty")
    if len(cleaned) > _MAX_NAME:
        raise ValidationFailed.single(field, "max_length", f"at most {_MAX_NAME} characters")
    return cleaned


class AccountService:
    """Departments, users and their role grants."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[AccountsUnitOfWork],
        clock: Clock,
        hasher: PasswordHasher,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._hasher = hasher

    # -- departments -------------------------------------------------------------------------

    def list_departments(self, principal: Principal) -> list[Department]:
        """Return every department."""
        principal.require_somewhere("departments:read")
        with self._unit_of_work(read_only=True) as uow:
            return uow.departments.list()

    def get_department(self, principal: Principal, code: str) -> Department:
        """Return one department or raise NotFound."""
        principal.require_somewhere("departments:read")
        with self._unit_of_work(read_only=True) as uow:
            return self._department(uow, code)

    def create_department(
        self, principal: Principal, *, code: str, name: str, parent_code: str | None = None
    ) -> Department:
        """Create a department under an optional parent."""
        if not is_department_code(code):
            raise ValidationFailed.single(
                "code", "department_code", "1–32 letters, digits, '_' or '-'"
            )
        department = Department(code=code, name=_check_name(name, "name"), parent_code=parent_code)
        with self._unit_of_work() as uow:
            chain = department_chain(uow, parent_code, field="parent_code") if parent_code else ()
            grant = principal.authorize(
                "departments:write", ResourceScope(department_codes=chain) if chain else None
            )
            if uow.departments.get(code) is not None:
                raise Conflict(f"department {code} already exists")
            uow.departments.add(department, self._clock.now())
            self._audit(
                uow,
                principal,
                grant,
                "department.create",
                "department",
                code,
                None,
                _department_fields(department),
            )
            uow.record(events.DepartmentCreated(code=code, name=department.name))
            uow.commit()
        return department

    def update_department(
        self,
        principal: Principal,
        code: str,
        *,
        name: str | None = None,
        parent_code: str | None = None,
        clear_parent: bool = False,
        active: bool | None = None,
    ) -> Department:
        """Change a department's name, parent or active flag."""
        with self._unit_of_work() as uow:
            current = self._department(uow, code)
            grant = principal.authorize(
                "departments:write", ResourceScope(department_codes=department_chain(uow, code))
            )
            new_parent = None if clear_parent else (parent_code or current.parent_code)
            if new_parent is not None and code in department_chain(
                uow, new_parent, field="parent_code"
            ):
                raise ValidationFailed.single(
                    "parent_code", "no_cycle", "a department cannot sit under itself"
                )
            updated = Department(
                code=code,
                name=_check_name(name, "name") if name is not None else current.name,
                parent_code=new_parent,
                active=current.active if active is None else active,
            )
            uow.departments.update(updated)
            self._audit(
                uow,
                principal,
                grant,
                "department.update",
                "department",
                code,
                _department_fields(current),
                _department_fields(updated),
            )
            uow.record(events.DepartmentChanged(code=code))
            uow.commit()
        return updated

    # -- users -------------------------------------------------------------------------------

    def list_users(self, principal: Principal) -> list[User]:
        """Return the users the principal may read (all, for a city-wide reader)."""
        principal.require_somewhere("users:read")
        with self._unit_of_work(read_only=True) as uow:
            users = uow.users.list()
            return [u for u in users if principal.can("users:read", self._user_scope(uow, u))]

    def own_profile(self, principal: Principal) -> User | None:
        """Return the signed-in user's own account (None for API keys and the system)."""
        if principal.kind != "user":
            return None
        with self._unit_of_work(read_only=True) as uow:
            return uow.users.get(principal.name)

    def get_user(self, principal: Principal, username: str) -> User:
        """Return one user the principal may read, or raise NotFound."""
        with self._unit_of_work(read_only=True) as uow:
            user = self._user(uow, username)
            principal.authorize("users:read", self._user_scope(uow, user))
            return user

    def create_user(
        self,
        principal: Principal,
        *,
        username: str,
        password: str,
        display_name: str | None = None,
        department_code: str | None = None,
        grants: list[RoleGrant] | None = None,
    ) -> User:
        """Create a user with a checked password and optional role grants."""
        username = check_username(username)
        check_password_rules(password, username)
        shown = _check_name(display_name or username, "display_name")
        with self._unit_of_work() as uow:
            chain = department_chain(uow, department_code, field="department_code")
            grant = principal.authorize(
                "users:write", ResourceScope(department_codes=chain) if chain else None
            )
            for new_grant in grants or []:
                principal.authorize("users:write", _scope_as_resource(uow, new_grant.scope))
            if uow.users.get(username) is not None:
                raise Conflict(f"user {username} already exists")
            user = uow.users.add(
                username=username,
                display_name=shown,
                department_code=department_code,
                password_hash=self._hasher.hash(password),
                created_at=self._clock.now(),
            )
            for new_grant in grants or []:
                uow.users.add_grant(user.id, new_grant)
            created = uow.users.get_by_id(user.id) or user
            self._audit(
                uow, principal, grant, "user.create", "user", username, None, created.public()
            )
            uow.record(events.UserCreated(username=username))
            uow.commit()
        return created

    def update_user(
        self,
        principal: Principal,
        username: str,
        *,
        display_name: str | None = None,
        department_code: str | None = None,
        clear_department: bool = False,
        active: bool | None = None,
    ) -> User:
        """Change a user's profile; disabling a user also ends their sessions."""
        with self._unit_of_work() as uow:
            user = self._user(uow, username)
            grant = principal.authorize("users:write", self._user_scope(uow, user))
            new_department = (
                None
                if clear_department
                else (department_code if department_code is not None else user.department_code)
            )
            if new_department != user.department_code and new_department is not None:
                principal.authorize(
                    "users:write",
                    ResourceScope(
                        department_codes=department_chain(
                            uow, new_department, field="department_code"
                        )
                    ),
                )
            new_active = user.active if active is None else active
            if not new_active and principal.kind == "user" and principal.name == user.username:
                raise ValidationFailed.single("active", "not_self", "you cannot disable yourself")
            uow.users.update(
                user.id,
                display_name=_check_name(display_name, "display_name")
                if display_name is not None
                else user.display_name,
                department_code=new_department,
                active=new_active,
            )
            if not new_active:
                uow.sessions.delete_for_user(user.id)
            updated = uow.users.get_by_id(user.id) or user
            action = "user.disable" if user.active and not new_active else "user.update"
            self._audit(
                uow, principal, grant, action, "user", username, user.public(), updated.public()
            )
            uow.record(events.UserChanged(username=username, active=new_active))
            uow.commit()
        return updated

    def set_password(self, principal: Principal, username: str, new_password: str) -> None:
        """Set a user's password (an admin reset); ends the user's other sessions."""
        with self._unit_of_work() as uow:
            user = self._user(uow, username)
            grant = principal.authorize("users:write", self._user_scope(uow, user))
            self._store_password(uow, principal, grant, user, new_password)
            uow.commit()

    def change_own_password(
        self, principal: Principal, current_password: str, new_password: str
    ) -> None:
        """Let a signed-in user change their own password after proving the current one."""
        if principal.kind != "user":
            raise ValidationFailed.single("principal", "user_only", "only users have passwords")
        with self._unit_of_work() as uow:
            user = self._user(uow, principal.name)
            if not self._hasher.verify(user.password_hash, current_password):
                raise ValidationFailed.single(
                    "current_password", "matches", "the current password is wrong"
                )
            self._store_password(uow, principal, None, user, new_password)
            uow.commit()

    def grant_role(self, principal: Principal, username: str, role: Role, scope: Scope) -> User:
        """Grant ``role`` within ``scope``; the granter must hold users:write over that scope."""
        return self._change_grant(principal, username, RoleGrant(role, scope), add=True)

    def revoke_role(self, principal: Principal, username: str, role: Role, scope: Scope) -> User:
        """Remove a role grant."""
        return self._change_grant(principal, username, RoleGrant(role, scope), add=False)

    # -- internals ---------------------------------------------------------------------------

    def _change_grant(
        self, principal: Principal, username: str, role_grant: RoleGrant, *, add: bool
    ) -> User:
        with self._unit_of_work() as uow:
            user = self._user(uow, username)
            grant = principal.authorize("users:write", _scope_as_resource(uow, role_grant.scope))
            changed = (
                uow.users.add_grant(user.id, role_grant)
                if add
                else uow.users.remove_grant(user.id, role_grant)
            )
            if not changed:
                verb = "already has" if add else "does not have"
                raise Conflict(f"{username} {verb} {role_grant}")
            updated = uow.users.get_by_id(user.id) or user
            self._audit(
                uow,
                principal,
                grant,
                "user.grant" if add else "user.revoke",
                "user",
                username,
                user.public(),
                updated.public(),
            )
            event_type = events.RoleGranted if add else events.RoleRevoked
            uow.record(
                event_type(
                    username=username, role=role_grant.role.value, scope=str(role_grant.scope)
                )
            )
            uow.commit()
        return updated

    def _store_password(
        self,
        uow: AccountsUnitOfWork,
        principal: Principal,
        grant: Grant | None,
        user: User,
        new_password: str,
    ) -> None:
        check_password_rules(new_password, user.username)
        uow.users.set_password_hash(user.id, self._hasher.hash(new_password), self._clock.now())
        uow.sessions.delete_for_user(user.id)
        self._audit(uow, principal, grant, "user.set_password", "user", user.username, None, None)
        uow.record(events.PasswordChanged(username=user.username))

    def _audit(
        self,
        uow: AccountsUnitOfWork,
        principal: Principal,
        grant: Grant | None,
        action: str,
        object_type: str,
        object_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        uow.audit.append(
            make_entry(
                self._clock,
                principal,
                grant,
                action=action,
                object_type=object_type,
                object_id=object_id,
                before=before,
                after=after,
            )
        )

    @staticmethod
    def _user(uow: AccountsUnitOfWork, username: str) -> User:
        user = uow.users.get(username.strip().lower())
        if user is None:
            raise NotFound(f"no user named {username}")
        return user

    @staticmethod
    def _department(uow: AccountsUnitOfWork, code: str) -> Department:
        department = uow.departments.get(code)
        if department is None:
            raise NotFound(f"no department with code {code}")
        return department

    def _user_scope(self, uow: AccountsUnitOfWork, user: User) -> ResourceScope | None:
        if user.department_code is None:
            return None
        return ResourceScope(department_codes=department_chain(uow, user.department_code))


def department_chain(
    uow: AccountsUnitOfWork, code: str | None, *, field: str = "code"
) -> tuple[str, ...]:
    """Return ``code`` and its ancestors' codes; raise ValidationFailed if one is unknown."""
    chain: list[str] = []
    while code is not None and code not in chain:
        department = uow.departments.get(code)
        if department is None:
            raise ValidationFailed.single(field, "department_exists", f"no department {code}")
        chain.append(code)
        code = department.parent_code
    return tuple(chain)


def _scope_as_resource(uow: AccountsUnitOfWork, scope: Scope) -> ResourceScope | None:
    """Express a grant's scope as a resource, so granting needs authority over that scope."""
    if scope.kind == "division":
        return ResourceScope(division_code=scope.code)
    if scope.kind == "department":
        return ResourceScope(department_codes=department_chain(uow, scope.code, field="scope"))
    return None


def _department_fields(department: Department) -> dict[str, Any]:
    return {
        "code": department.code,
        "name": department.name,
        "parent_code": department.parent_code,
        "active": department.active,
    }
