"""Matter rules over HTTP: department, filing and closing conditions, time limits, keywords."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from cityops.auth.model import Principal
from cityops.cases.rules import read_rules_csv, rule_from_mapping, write_rules_csv
from cityops.kernel.errors import ValidationFailed
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/cases/rules", tags=["case rules"])
Admin = Annotated[Principal, Depends(Require("cases:admin"))]
Reader = Annotated[Principal, Depends(Require("cases:read"))]
Division = Annotated[str, Query(description="'' for the whole city, or a division code")]


class RuleIn(BaseModel):
    """A matter rule's fields (all optional but the class in the path)."""

    department_code: str | None = None
    filing_condition: str | None = Field(None, description="立案条件")
    closing_condition: str | None = Field(None, description="结案条件")
    limit_normal: str | None = Field(None, description="e.g. '3 工作日' or '5 工作时'")
    limit_urgent: str | None = Field(None, description="e.g. '4 工作时'")
    keywords: list[str] = Field(default_factory=list, description="Words that decide the class")


@router.get("")
def list_rules(
    request: Request,
    principal: Reader,
    matter: Annotated[str | None, Query(pattern=r"^[0-9]{5}$")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    """Return the city's matter rules (JSON, or CSV to edit and import again)."""
    rules = services_of(request).matter_rules.list_rules(principal, matter)
    if format == "csv":
        return Response(write_rules_csv(rules), media_type="text/csv; charset=utf-8")
    return [rule.as_json() for rule in rules]


@router.get("/{matter_code}")
def get_rule(
    request: Request, matter_code: str, principal: Reader, division: Division = ""
) -> dict[str, Any]:
    """Return one rule."""
    return services_of(request).matter_rules.get(principal, matter_code, division).as_json()


@router.put("/{matter_code}")
def put_rule(
    request: Request, matter_code: str, body: RuleIn, principal: Admin, division: Division = ""
) -> dict[str, Any]:
    """Create or replace a rule (audited)."""
    rule = rule_from_mapping(
        {**body.model_dump(), "matter_code": matter_code, "division_code": division}
    )
    return services_of(request).matter_rules.put(principal, rule).as_json()


@router.delete("/{matter_code}", status_code=204)
def delete_rule(
    request: Request, matter_code: str, principal: Admin, division: Division = ""
) -> Response:
    """Delete a rule (audited)."""
    services_of(request).matter_rules.delete(principal, matter_code, division)
    return Response(status_code=204)


@router.post("/import")
def import_rules(
    request: Request,
    principal: Admin,
    body: Annotated[Any, Body(description='A JSON array of rules, or {"csv": text}')],
) -> dict[str, Any]:
    """Create or replace many rules atomically; errors name the row and field."""
    if isinstance(body, dict) and isinstance(body.get("csv"), str):
        rules = read_rules_csv(body["csv"])
    elif isinstance(body, list):
        rules = [
            rule_from_mapping(row if isinstance(row, dict) else {}, row=index)
            for index, row in enumerate(body, start=1)
        ]
    else:
        raise ValidationFailed.single("body", "rules", 'send a JSON array or {"csv": text}')
    saved = services_of(request).matter_rules.put_many(principal, rules)
    return {"saved": len(saved)}
