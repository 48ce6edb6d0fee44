"""User accounts and their role grants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from cityops.auth.model import Principal, RoleGrant
from cityops.auth.permissions import parse_role
from cityops.auth.scopes import parse_scope
from cityops.web.schemas import GrantBody, PasswordBody, UserCreate, UserOut, UserPatch
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/users", tags=["users"])
UsernamePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("", response_model=list[UserOut])
def list_users(
    request: Request, principal: Annotated[Principal, Depends(Require("users:read"))]
) -> list[UserOut]:
    """List the users you may read."""
    return [UserOut.of(u) for u in services_of(request).accounts.list_users(principal)]


@router.post("", response_model=UserOut, status_code=201)
def create_user(
    body: UserCreate,
    request: Request,
    principal: Annotated[Principal, Depends(Require("users:write"))],
) -> UserOut:
    """Create a user with a password and optional role grants."""
    grants = [
        RoleGrant(
            parse_role(g.role, field=f"grants[{i}].role"),
            parse_scope(g.scope, field=f"grants[{i}].scope"),
        )
        for i, g in enumerate(body.grants)
    ]
    user = services_of(request).accounts.create_user(
        principal,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        department_code=body.department_code,
        grants=grants,
    )
    return UserOut.of(user)


@router.get("/{username}", response_model=UserOut)
def get_user(
    username: UsernamePath,
    request: Request,
    principal: Annotated[Principal, Depends(Require("users:read"))],
) -> UserOut:
    """Read one user."""
    return UserOut.of(services_of(request).accounts.get_user(principal, username))


@router.patch("/{username}", response_model=UserOut)
def update_user(
    username: UsernamePath,
    body: UserPatch,
    request: Request,
    principal: Annotated[Principal, Depends(Require("users:write"))],
) -> UserOut:
    """Change a user's name, department or active flag (disabling ends their sessions)."""
    user = services_of(request).accounts.update_user(
        principal,
        username,
        display_name=body.display_name,
        department_code=body.department_code,
        clear_department=body.clear_department,
        active=body.active,
    )
    return UserOut.of(user)


@router.put("/{username}/password", status_code=204)
def set_password(
    username: UsernamePath,
    body: PasswordBody,
    request: Request,
    principal: Annotated[Principal, Depends(Require("users:write"))],
) -> Response:
    """Reset a user's password (their sessions end)."""
    services_of(request).accounts.set_password(principal, username, body.password)
    return Response(status_code=204)


@router.post("/{username}/grants", response_model=UserOut, status_code=201)
def grant_role(
    username: UsernamePath,
    body: GrantBody,
    request: Request,
    principal: Annotated[Principal, Depends(Require("users:write"))],
) -> UserOut:
    """Grant a role within a scope."""
    user = services_of(request).accounts.grant_role(
        principal, username, parse_role(body.role), parse_scope(body.scope)
    )
    return UserOut.of(user)


@router.delete("/{username}/grants", response_model=UserOut)
def revoke_role(
    username: UsernamePath,
    body: GrantBody,
    request: Request,
    principal: Annotated[Principal, Depends(Require("users:write"))],
) -> UserOut:
    """Remove a role grant."""
    user = services_of(request).accounts.revoke_role(
        principal, username, parse_role(body.role), parse_scope(body.scope)
    )
    return UserOut.of(user)
