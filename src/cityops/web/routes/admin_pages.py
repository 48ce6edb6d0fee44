"""Admin pages (管理): users, roles and scopes, departments, matter rules, API keys, audit log.

Like the workspace pages, these are shells: their scripts (``static/admin*.js``) read and change
through the existing JSON API (``/api/v1/users``, ``/departments``, ``/cases/rules``, ``/apikeys``,
``/audit``) with the session cookie and the CSRF header, so every permission and scope check stays
in the API. Each page asks for the permission its API needs to be useful (an anonymous visitor is
sent to sign in, anyone else without it gets 403); the forms that change things appear only to
those who hold the write permission, and the API refuses anything else anyway.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from cityops.auth.model import Principal
from cityops.auth.permissions import Role
from cityops.kernel.errors import PermissionDenied
from cityops.web.routes.pages import redirect_to_login, render_page
from cityops.web.security import RequireOrAnonymous

router = APIRouter(include_in_schema=False)

# The scripts' messages: the catalogue keys under these prefixes are embedded in the page
# ("ws." for the shared ws.js: its loading and failure messages).
ADMIN_MESSAGES = ("admin.", "role.", "scope.", "ws.")

# Each section and the permission its page needs (departments and rules are for those who may
# change them: everyone may read departments and rules through the API and the workspaces).
SECTIONS: dict[str, str] = {
    "users": "users:read",
    "departments": "departments:write",
    "rules": "cases:admin",
    "apikeys": "apikeys:read",
    "audit": "audit:read",
}
ADMIN_PERMISSIONS = tuple(SECTIONS.values())
SCOPE_KINDS = ("city", "division", "department")

Caller = Principal | None


def sections_of(principal: Principal) -> list[str]:
    """Return the admin sections the principal may open, in the order of the overview."""
    return [name for name, permission in SECTIONS.items() if principal.has_anywhere(permission)]


def _page(
    request: Request, template: str, principal: Principal, section: str, **context: object
) -> Response:
    return render_page(
        request,
        template,
        200,
        script_messages=ADMIN_MESSAGES,
        can=sorted({p for g in principal.grants for p in g.permissions}),
        sections=sections_of(principal),
        section=section,
        scope_kinds=SCOPE_KINDS,
        **context,
    )


@router.get("/admin", response_class=HTMLResponse)
def overview(
    request: Request,
    principal: Annotated[Caller, Depends(RequireOrAnonymous("dashboard:view"))],
) -> Response:
    """Show the admin overview: a card for each section the caller may use."""
    if principal is None:
        return redirect_to_login(request)
    if not sections_of(principal):
        raise PermissionDenied("the admin pages need one of " + ", ".join(ADMIN_PERMISSIONS))
    return _page(request, "admin.html", principal, "overview")


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    principal: Annotated[Caller, Depends(RequireOrAnonymous(SECTIONS["users"]))],
) -> Response:
    """List users with their roles and scopes; create, grant, revoke, disable (users:write)."""
    if principal is None:
        return redirect_to_login(request)
    return _page(request, "admin_users.html", principal, "users", roles=[r.value for r in Role])


@router.get("/admin/departments", response_class=HTMLResponse)
def departments_page(
    request: Request,
    principal: Annotated[Caller, Depends(RequireOrAnonymous(SECTIONS["departments"]))],
) -> Response:
    """List departments; create one, rename, move or (de)activate it."""
    if principal is None:
        return redirect_to_login(request)
    return _page(request, "admin_departments.html", principal, "departments")


@router.get("/admin/rules", response_class=HTMLResponse)
def rules_page(
    request: Request,
    principal: Annotated[Caller, Depends(RequireOrAnonymous(SECTIONS["rules"]))],
) -> Response:
    """List matter rules (事项规则) by class; edit department, conditions, limits, keywords."""
    if principal is None:
        return redirect_to_login(request)
    return _page(request, "admin_rules.html", principal, "rules")


@router.get("/admin/apikeys", response_class=HTMLResponse)
def apikeys_page(
    request: Request,
    principal: Annotated[Caller, Depends(RequireOrAnonymous(SECTIONS["apikeys"]))],
) -> Response:
    """List API keys; issue one (its secret shown once) and revoke (apikeys:write)."""
    if principal is None:
        return redirect_to_login(request)
    return _page(request, "admin_apikeys.html", principal, "apikeys")


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    principal: Annotated[Caller, Depends(RequireOrAnonymous(SECTIONS["audit"]))],
) -> Response:
    """Read the audit log, newest first, with the API's filters and paging."""
    if principal is None:
        return redirect_to_login(request)
    return _page(request, "admin_audit.html", principal, "audit")
