"""Server-rendered pages: sign-in, the home page, the command center, sign-out, the API docs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cityops.auth.model import Principal
from cityops.kernel.errors import AuthenticationFailed, PermissionDenied, RateLimited
from cityops.web.i18n import LANGUAGE_COOKIE, Translator, pick_language
from cityops.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Require,
    RequireOrAnonymous,
    check_csrf,
    client_address,
    csrf_token_for,
    new_csrf_nonce,
    services_of,
)

router = APIRouter(include_in_schema=False)


def render_page(
    request: Request, template: str, status: int = 200, **context: object
) -> HTMLResponse:
    """Render a template with the translator, a CSRF token and the language cookie."""
    services = services_of(request)
    language = pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        services.settings.language,
    )
    nonce = request.cookies.get(CSRF_COOKIE) or new_csrf_nonce()
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(
        request,
        template,
        {
            "t": Translator(language),
            "csrf_token": csrf_token_for(services.secret_key, nonce),
            **context,
        },
        status_code=status,
    )
    secure = services.settings.secure_cookies
    if request.cookies.get(CSRF_COOKIE) != nonce:
        response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=secure)
    if request.query_params.get("lang") == language:
        response.set_cookie(
            LANGUAGE_COOKIE, language, samesite="lax", secure=secure, max_age=365 * 24 * 3600
        )
    return response


def redirect_to_login(request: Request) -> RedirectResponse:
    """Send the browser to the sign-in page, keeping an explicit ?lang=."""
    lang = request.query_params.get("lang")
    return RedirectResponse("/login" + (f"?lang={lang}" if lang else ""), status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    principal: Annotated[Principal | None, Depends(RequireOrAnonymous("dashboard:view"))],
) -> Response:
    """Show the signed-in home page (sends anonymous visitors to the sign-in page)."""
    # Imported here: admin_pages builds on this module's render_page.
    from cityops.web.routes.admin_pages import sections_of

    if principal is None:
        return redirect_to_login(request)
    services = services_of(request)
    user = services.accounts.own_profile(principal)
    if user is None:
        return redirect_to_login(request)
    department_name = None
    if user.department_code:
        department_name = services.accounts.get_department(principal, user.department_code).name
    return render_page(
        request,
        "index.html",
        user=user,
        department_name=department_name,
        permissions=sorted({p for g in principal.grants for p in g.permissions}),
        store=services.store.dialect,
        mode=services.settings.mode,
        show_map=principal.has_anywhere("geo:read"),
        show_command=principal.has_anywhere("analytics:read"),
        show_work=principal.has_anywhere("cases:read"),
        show_intake=principal.has_anywhere("cases:create"),
        show_admin=bool(sections_of(principal)),
        map_tile_url=services.settings.map_tile_url or "",
        map_tile_attribution=services.settings.map_tile_attribution,
    )


@router.get("/command", response_class=HTMLResponse)
def command_center(
    request: Request,
    principal: Annotated[Principal | None, Depends(RequireOrAnonymous("analytics:read"))],
) -> Response:
    """Show the command center (大屏): cards, one map, charts and the live feed."""
    if principal is None:
        return redirect_to_login(request)
    services = services_of(request)
    with services.store.unit_of_work(read_only=True) as uow:
        newest_event = uow.outbox.last_event_id()  # the live feed shows what happens from now on
    return render_page(
        request,
        "command.html",
        events_after=newest_event,
        show_feed=principal.has_anywhere("events:read"),
        map_tile_url=services.settings.map_tile_url or "",
        map_tile_attribution=services.settings.map_tile_attribution,
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """Show the sign-in form."""
    return render_page(request, "login.html")


@router.post("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Check the form, open a session in an HttpOnly cookie, and go home."""
    services = services_of(request)
    language = pick_language(None, request.cookies.get(LANGUAGE_COOKIE), services.settings.language)
    t = Translator(language)
    try:
        check_csrf(request, csrf_token)
        signed_in = services.signin.login(username, password, client_address())
    except PermissionDenied:
        return render_page(request, "login.html", 403, error=t("login.csrf"), username=username)
    except RateLimited as limited:
        return render_page(
            request,
            "login.html",
            429,
            username=username,
            error=t("login.rate_limited", seconds=limited.retry_after),
        )
    except AuthenticationFailed:
        return render_page(request, "login.html", 401, error=t("login.failed"), username=username)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        httponly=True,
        samesite="lax",
        secure=services.settings.secure_cookies,
        max_age=int((signed_in.expires_at - services.clock.now()).total_seconds()),
    )
    return response


@router.post("/logout")
def logout_form(
    request: Request,
    principal: Annotated[Principal, Depends(Require())],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """End the browser's session (CSRF-checked) and go to the sign-in page."""
    check_csrf(request, csrf_token)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        services_of(request).signin.logout(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """Serve Swagger UI from the vendored copy (no CDN)."""
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(request, "docs.html", {})
    return response
