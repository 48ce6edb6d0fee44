"""Request and response bodies of the JSON API (pydantic v2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from cityops.auth.model import ApiKey, Department, User
from cityops.kernel.audit import AuditEntry
from cityops.kernel.events import StoredEvent

# Control characters are never meaningful in these fields and PostgreSQL refuses NUL.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=_PRINTABLE)


Username = Annotated[str, _text(64, 1)]
Password = Annotated[str, _text(1024, 1)]
Code = Annotated[str, _text(32, 1)]
Name = Annotated[str, _text(100, 1)]
ScopeText = Annotated[str, _text(64, 1)]
RoleText = Annotated[str, _text(32, 1)]
PermissionText = Annotated[str, _text(64, 1)]


def _representable_in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is outside years 1–9999 once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_representable_in_utc)]


class Body(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(Body):
    """Username and password."""

    username: Username
    password: Password


class TokenResponse(BaseModel):
    """A bearer token for the Authorization header."""

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class GrantBody(Body):
    """A role within a scope (``city``, ``division:<code>``, ``department:<code>``)."""

    role: RoleText
    scope: ScopeText = "city"


class GrantOut(BaseModel):
    """A role grant."""

    role: str
    scope: str


class UserCreate(Body):
    """A new user account."""

    username: Username
    password: Password
    display_name: Name | None = None
    department_code: Code | None = None
    grants: list[GrantBody] = Field(default_factory=list, max_length=50)


class UserPatch(Body):
    """Changes to a user; omitted fields stay as they are."""

    display_name: Name | None = None
    department_code: Code | None = None
    clear_department: bool = False
    active: bool | None = None


class PasswordBody(Body):
    """A new password."""

    password: Password


class OwnPasswordBody(Body):
    """The current and a new password."""

    current_password: Password
    new_password: Password


class UserOut(BaseModel):
    """A user account (never the password hash)."""

    username: str
    display_name: str
    department_code: str | None
    active: bool
    created_at: datetime
    grants: list[GrantOut]

    @classmethod
    def of(cls, user: User) -> UserOut:
        """Convert a domain user."""
        return cls(
            username=user.username,
            display_name=user.display_name,
            department_code=user.department_code,
            active=user.active,
            created_at=user.created_at,
            grants=[GrantOut(role=g.role.value, scope=str(g.scope)) for g in user.grants],
        )


class MeOut(BaseModel):
    """The caller: who, through which credential, with what."""

    name: str
    kind: str
    display_name: str | None = None
    department_code: str | None = None
    grants: list[GrantOut]
    permissions: list[str]


class DepartmentCreate(Body):
    """A new department."""

    code: Code
    name: Name
    parent_code: Code | None = None


class DepartmentPatch(Body):
    """Changes to a department."""

    name: Name | None = None
    parent_code: Code | None = None
    clear_parent: bool = False
    active: bool | None = None


class DepartmentOut(BaseModel):
    """A department."""

    code: str
    name: str
    parent_code: str | None
    active: bool

    @classmethod
    def of(cls, department: Department) -> DepartmentOut:
        """Convert a domain department."""
        return cls(
            code=department.code,
            name=department.name,
            parent_code=department.parent_code,
            active=department.active,
        )


class ApiKeyCreate(Body):
    """A new API key for an integration."""

    name: Name
    permissions: list[PermissionText] = Field(min_length=1, max_length=50)
    scope: ScopeText = "city"
    expires_at: UtcDatetime | None = None


class ApiKeyOut(BaseModel):
    """An API key without its secret."""

    id: int
    prefix: str
    name: str
    permissions: list[str]
    scope: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        """Convert a domain API key."""
        return cls(
            id=key.id,
            prefix=key.prefix,
            name=key.name,
            permissions=sorted(key.permissions),
            scope=str(key.scope),
            created_by=key.created_by,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyIssued(ApiKeyOut):
    """A new API key with its secret, shown only in this response."""

    key: str


class AuditEntryOut(BaseModel):
    """One audit entry."""

    id: int
    at: datetime
    actor: str
    actor_kind: str
    role: str | None
    scope: str | None
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client_address: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        """Convert a domain audit entry."""
        assert entry.id is not None
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            actor_kind=entry.actor_kind,
            role=entry.role,
            scope=entry.scope,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            before=entry.before,
            after=entry.after,
            request_id=entry.request_id,
            client_address=entry.client_address,
        )


class AuditPage(BaseModel):
    """A page of audit entries, newest first; pass ``next_before_id`` for the next page."""

    items: list[AuditEntryOut]
    next_before_id: int | None


class EventOut(BaseModel):
    """One domain event from the outbox."""

    id: int
    type: str
    aggregate_type: str
    aggregate_id: str
    payload: dict[str, Any]
    occurred_at: datetime

    @classmethod
    def of(cls, event: StoredEvent) -> EventOut:
        """Convert a stored event."""
        return cls(
            id=event.id,
            type=event.type,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            payload=event.payload,
            occurred_at=event.occurred_at,
        )


class EventPage(BaseModel):
    """Events after a given id, oldest first."""

    items: list[EventOut]
    last_id: int


class Health(BaseModel):
    """Liveness or readiness."""

    status: str
    checks: dict[str, str] = Field(default_factory=dict)
