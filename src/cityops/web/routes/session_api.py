"""Sign in for API clients (bearer tokens), sign out, and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from cityops.auth.model import Principal
from cityops.web.schemas import GrantOut, LoginRequest, MeOut, OwnPasswordBody, TokenResponse
from cityops.web.security import Require, client_address, services_of

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=TokenResponse)
def login(body: LoginRequest, request: Request) -> TokenResponse:
    """Exchange a username and password for a bearer token (rate-limited)."""
    signed_in = services_of(request).signin.login(body.username, body.password, client_address())
    return TokenResponse(access_token=signed_in.token, expires_at=signed_in.expires_at)


@router.post("/logout", status_code=204)
def logout(request: Request, principal: Annotated[Principal, Depends(Require())]) -> Response:
    """End the session of the bearer token (or session cookie) used for this call."""
    header = request.headers.get("Authorization", "")
    token = header.partition(" ")[2].strip() or request.cookies.get("cityops_session", "")
    if token:
        services_of(request).signin.logout(token)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
def me(request: Request, principal: Annotated[Principal, Depends(Require())]) -> MeOut:
    """Return the caller, their grants and every permission they hold somewhere."""
    user = services_of(request).accounts.own_profile(principal)
    permissions = sorted({p for g in principal.grants for p in g.permissions})
    return MeOut(
        name=principal.name,
        kind=principal.kind,
        display_name=user.display_name if user else None,
        department_code=principal.department_code,
        grants=[GrantOut(role=g.role, scope=str(g.scope)) for g in principal.grants],
        permissions=permissions,
    )


@router.post("/password", status_code=204)
def change_own_password(
    body: OwnPasswordBody,
    request: Request,
    principal: Annotated[Principal, Depends(Require())],
) -> Response:
    """Change your own password (all your sessions end; sign in again)."""
    services_of(request).accounts.change_own_password(
        principal, body.current_password, body.new_password
    )
    return Response(status_code=204)
