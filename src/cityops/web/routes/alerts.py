"""Alerts: the queue, acknowledge and resolve, and the rules (JSON or YAML)."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Path, Query, Request

from cityops.alerts.model import OPEN, STATUSES
from cityops.alerts.ports import AlertFilter
from cityops.auth.model import Principal
from cityops.kernel.errors import ValidationFailed
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
Read = Annotated[Principal, Depends(Require("alerts:read"))]
Manage = Annotated[Principal, Depends(Require("alerts:manage"))]
MAX_RULES_BYTES = 1024 * 1024
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/rules")
def list_rules(request: Request, principal: Read) -> list[dict[str, Any]]:
    """Return every alert rule as data."""
    return [r.as_json() for r in services_of(request).alerts.rules(principal)]


@router.put("/rules")
async def put_rules(request: Request, principal: Manage) -> list[dict[str, Any]]:
    """Create or replace rules, all or none: a JSON array, or YAML (``application/yaml``)."""
    body = await request.body()
    if len(body) > MAX_RULES_BYTES:
        raise ValidationFailed.single("body", "max_bytes", f"at most {MAX_RULES_BYTES:,} bytes")
    content_type = request.headers.get("content-type", "application/json")
    try:
        data = yaml.safe_load(body.decode("utf-8"))  # JSON is YAML too
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        kind = "yaml" if "yaml" in content_type else "json"
        raise ValidationFailed.single("body", kind, f"cannot read the rules: {error}") from None
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
    if not isinstance(data, list):
        raise ValidationFailed.single("rules", "array", "send a list of rules")
    rules = services_of(request).alerts.put_rules(principal, data)
    return [r.as_json() for r in rules]


@router.delete("/rules/{key}", status_code=204)
def delete_rule(
    request: Request, principal: Manage, key: Annotated[str, Path(max_length=64)]
) -> None:
    """Delete a rule (its alerts stay)."""
    services_of(request).alerts.delete_rule(principal, key)


@router.get("/summary")
def summary(request: Request, principal: Read) -> dict[str, Any]:
    """Return open alerts by warning level and all alerts by status."""
    return services_of(request).alerts.counts(principal)


@router.get("")
def list_alerts(
    request: Request,
    principal: Read,
    status: Annotated[str, Query(pattern=r"^(open|all|raised|acknowledged|resolved)$")] = "open",
    level: Annotated[str | None, Query(pattern=r"^(I|II|III|IV)$")] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    division: Annotated[str | None, Query(pattern=r"^[0-9]{1,15}$")] = None,
    department: Annotated[str | None, Query(max_length=18)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Return the alert queue: open first, most severe and newest first."""
    statuses = {"open": OPEN, "all": STATUSES}.get(status, (status,))
    found = services_of(request).alerts.queue(
        principal,
        AlertFilter(
            statuses=tuple(statuses),
            level=level,
            rule_key=rule,
            grid_prefix=division,
            department_code=department,
            limit=limit,
        ),
    )
    return [a.as_json() for a in found]


@router.get("/{alert_id}")
def get_alert(request: Request, principal: Read, alert_id: AlertId) -> dict[str, Any]:
    """Return one alert."""
    return services_of(request).alerts.get(principal, alert_id).as_json()


@router.post("/{alert_id}/acknowledge")
def acknowledge(request: Request, principal: Manage, alert_id: AlertId) -> dict[str, Any]:
    """Take charge of a raised alert."""
    return services_of(request).alerts.acknowledge(principal, alert_id).as_json()


@router.post("/{alert_id}/resolve")
def resolve(request: Request, principal: Manage, alert_id: AlertId) -> dict[str, Any]:
    """Close an open alert by hand."""
    return services_of(request).alerts.resolve(principal, alert_id).as_json()
