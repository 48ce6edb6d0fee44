"""Departments (a tree by parent code)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from cityops.auth.model import Principal
from cityops.web.schemas import DepartmentCreate, DepartmentOut, DepartmentPatch
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/departments", tags=["departments"])
CodePath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]


@router.get("", response_model=list[DepartmentOut])
def list_departments(
    request: Request, principal: Annotated[Principal, Depends(Require("departments:read"))]
) -> list[DepartmentOut]:
    """List every department."""
    return [DepartmentOut.of(d) for d in services_of(request).accounts.list_departments(principal)]


@router.post("", response_model=DepartmentOut, status_code=201)
def create_department(
    body: DepartmentCreate,
    request: Request,
    principal: Annotated[Principal, Depends(Require("departments:write"))],
) -> DepartmentOut:
    """Create a department (code: 统一社会信用代码 or a local code)."""
    department = services_of(request).accounts.create_department(
        principal, code=body.code, name=body.name, parent_code=body.parent_code
    )
    return DepartmentOut.of(department)


@router.get("/{code}", response_model=DepartmentOut)
def get_department(
    code: CodePath,
    request: Request,
    principal: Annotated[Principal, Depends(Require("departments:read"))],
) -> DepartmentOut:
    """Read one department."""
    return DepartmentOut.of(services_of(request).accounts.get_department(principal, code))


@router.patch("/{code}", response_model=DepartmentOut)
def update_department(
    code: CodePath,
    body: DepartmentPatch,
    request: Request,
    principal: Annotated[Principal, Depends(Require("departments:write"))],
) -> DepartmentOut:
    """Rename, move or (de)activate a department."""
    department = services_of(request).accounts.update_department(
        principal,
        code,
        name=body.name,
        parent_code=body.parent_code,
        clear_parent=body.clear_parent,
        active=body.active,
    )
    return DepartmentOut.of(department)
