"""Issuing and revoking API keys for integrations (sensors, vendor platforms, scripts)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cityops.auth import events
from cityops.auth.audit import make_entry
from cityops.auth.model import ApiKey, Principal
from cityops.auth.permissions import parse_permission
from cityops.auth.ports import AccountsUnitOfWork
from cityops.auth.scopes import ResourceScope, Scope
from cityops.auth.secrets import hash_token, new_api_key
from cityops.kernel.clock import Clock
from cityops.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory


class ApiKeyService:
    """Issue, list and revoke API keys; the secret is shown once and stored only as a hash."""

    def __init__(self, unit_of_work: UnitOfWorkFactory[AccountsUnitOfWork], clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def issue(
        self,
        principal: Principal,
        *,
        name: str,
        permissions: Iterable[str],
        scope: Scope | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key; return it and the full secret (shown to the caller only this once)."""
        cleaned = name.strip()
        if not cleaned or len(cleaned) > 100:
            raise ValidationFailed.single("name", "length", "1–100 characters")
        perms = frozenset(
            parse_permission(p, field=f"permissions[{i}]") for i, p in enumerate(permissions)
        )
        if not perms:
            raise ValidationFailed.single("permissions", "required", "name at least one permission")
        scope = scope or Scope.city()
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationFailed.single("expires_at", "future", "must be in the future")
        resource = None if scope.kind == "city" else _resource(scope)
        grant = principal.authorize("apikeys:write", resource)
        for permission in perms:
            # Nobody hands out more than they hold themselves.
            if not principal.can(permission, resource):
                raise PermissionDenied(f"{principal.name} cannot delegate {permission} in {scope}")
        prefix, full_key = new_api_key()
        with self._unit_of_work() as uow:
            key = uow.api_keys.add(
                prefix=prefix,
                secret_hash=hash_token(full_key),
                name=cleaned,
                permissions=perms,
                scope=scope,
                created_by=principal.name,
                created_at=now,
                expires_at=expires_at,
            )
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="apikey.issue",
                    object_type="apikey",
                    object_id=prefix,
                    after=key.public(),
                )
            )
            uow.record(events.ApiKeyIssued(prefix=prefix, name=cleaned))
            uow.commit()
        return key, full_key

    def list(self, principal: Principal) -> list[ApiKey]:
        """Return every key (without secrets)."""
        principal.authorize("apikeys:read")
        with self._unit_of_work(read_only=True) as uow:
            return uow.api_keys.list()

    def revoke(self, principal: Principal, key_id: int) -> ApiKey:
        """Revoke a key; it stops working at once."""
        with self._unit_of_work() as uow:
            key = uow.api_keys.get(key_id)
            if key is None:
                raise NotFound(f"no API key with id {key_id}")
            grant = principal.authorize(
                "apikeys:write", None if key.scope.kind == "city" else _resource(key.scope)
            )
            if key.revoked_at is not None:
                raise Conflict(f"API key {key.prefix} is already revoked")
            uow.api_keys.revoke(key_id, self._clock.now())
            revoked = uow.api_keys.get(key_id) or key
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="apikey.revoke",
                    object_type="apikey",
                    object_id=key.prefix,
                    before=key.public(),
                    after=revoked.public(),
                )
            )
            uow.record(events.ApiKeyRevoked(prefix=key.prefix))
            uow.commit()
        return revoked


def _resource(scope: Scope) -> ResourceScope:
    if scope.kind == "division":
        return ResourceScope(division_code=scope.code)
    return ResourceScope(department_codes=(scope.code,))
