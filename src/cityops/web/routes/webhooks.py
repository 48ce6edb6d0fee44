"""Webhooks: register receivers of signed event notifications, see their deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request

from cityops.auth.model import Principal
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", status_code=201)
def register(
    request: Request,
    principal: Annotated[Principal, Depends(Require("apikeys:write"))],
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Register ``{"url", "events": ["AlertRaised", …] or ["*"], "description"}``.

    The answer carries the signing ``secret`` once; keep it to check ``X-Cityops-Signature``.
    """
    webhook, secret = services_of(request).webhooks.register(principal, body)
    return {**webhook.as_json(), "secret": secret}


@router.get("")
def list_webhooks(
    request: Request, principal: Annotated[Principal, Depends(Require("apikeys:read"))]
) -> list[dict[str, Any]]:
    """Return the webhooks (without secrets)."""
    return [w.as_json() for w in services_of(request).webhooks.registered(principal)]


@router.get("/{webhook_id}/deliveries")
def deliveries(
    request: Request,
    principal: Annotated[Principal, Depends(Require("apikeys:read"))],
    webhook_id: WebhookId,
) -> list[dict[str, Any]]:
    """Return a webhook's latest deliveries: status, attempts, next attempt, last error."""
    return [
        {
            "id": d.id,
            "event_id": d.event_id,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at.isoformat(),
            "last_error": d.last_error,
        }
        for d in services_of(request).webhooks.deliveries(principal, webhook_id)
    ]


@router.delete("/{webhook_id}", status_code=204)
def delete(
    request: Request,
    principal: Annotated[Principal, Depends(Require("apikeys:write"))],
    webhook_id: WebhookId,
) -> None:
    """Delete a webhook (its pending deliveries are dropped)."""
    services_of(request).webhooks.remove(principal, webhook_id)
