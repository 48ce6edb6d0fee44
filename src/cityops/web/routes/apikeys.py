"""API keys for integrations: issue (secret shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from cityops.auth.model import Principal
from cityops.auth.scopes import parse_scope
from cityops.web.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyOut
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/apikeys", tags=["apikeys"])


@router.get("", response_model=list[ApiKeyOut])
def list_keys(
    request: Request, principal: Annotated[Principal, Depends(Require("apikeys:read"))]
) -> list[ApiKeyOut]:
    """List API keys (never their secrets)."""
    return [ApiKeyOut.of(k) for k in services_of(request).api_keys.list(principal)]


@router.post("", response_model=ApiKeyIssued, status_code=201)
def issue_key(
    body: ApiKeyCreate,
    request: Request,
    principal: Annotated[Principal, Depends(Require("apikeys:write"))],
) -> ApiKeyIssued:
    """Issue a key with permissions (e.g. telemetry:write); the secret is in this response only."""
    key, secret = services_of(request).api_keys.issue(
        principal,
        name=body.name,
        permissions=body.permissions,
        scope=parse_scope(body.scope),
        expires_at=body.expires_at,
    )
    return ApiKeyIssued(**ApiKeyOut.of(key).model_dump(), key=secret)


@router.delete("/{key_id}", response_model=ApiKeyOut)
def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
    request: Request,
    principal: Annotated[Principal, Depends(Require("apikeys:write"))],
) -> ApiKeyOut:
    """Revoke a key; it stops working at once."""
    return ApiKeyOut.of(services_of(request).api_keys.revoke(principal, key_id))
