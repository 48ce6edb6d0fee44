"""Who is calling, and may they: credentials, declared permissions and CSRF protection.

Every route declares what it needs with ``Depends(Require("perm"))`` (or ``Require()`` for "any
signed-in caller"). Routes without a declaration must be listed in :data:`PUBLIC_ROUTES`; a test
walks the app and fails on any other route.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from cityops.auth.model import Principal
from cityops.bootstrap import Services
from cityops.kernel.context import current_context
from cityops.kernel.errors import AuthenticationFailed, PermissionDenied

SESSION_COOKIE = "cityops_session"
CSRF_COOKIE = "cityops_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
API_KEY_HEADER = "X-API-Key"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# (method, path) pairs that anyone may call. Everything else must declare a permission.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("POST", "/api/v1/auth/login"),
        ("GET", "/login"),
        ("POST", "/login"),
        # Open311 GeoReport v2: citizens read services and requests (no personal data) freely.
        ("GET", "/open311/v2/services.{fmt}"),
        ("GET", "/open311/v2/services/{service_code}.{fmt}"),
        ("GET", "/open311/v2/requests.{fmt}"),
        ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"),
        # A citizen's case status by its whole number (no personal data; see public_status.py).
        ("GET", "/status"),
    }
)
PUBLIC_MOUNTS: frozenset[str] = frozenset({"/static"})


def services_of(request: Request) -> Services:
    """Return the services the app was built with."""
    services: Services = request.app.state.services
    return services


def csrf_token_for(secret_key: str, nonce: str) -> str:
    """Return the CSRF token that matches the nonce in the browser's CSRF cookie."""
    return hmac.new(secret_key.encode(), f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def new_csrf_nonce() -> str:
    """Return a fresh nonce for the CSRF cookie."""
    return secrets.token_urlsafe(24)


def check_csrf(request: Request, submitted: str | None) -> None:
    """Raise PermissionDenied unless ``submitted`` matches the request's CSRF cookie."""
    nonce = request.cookies.get(CSRF_COOKIE)
    secret = services_of(request).secret_key
    if (
        not nonce
        or not submitted
        or not hmac.compare_digest(csrf_token_for(secret, nonce), submitted)
    ):
        raise PermissionDenied("missing or invalid CSRF token; reload the page and try again")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(request: Request) -> Principal | None:
    """Return the caller's principal from a bearer token, an API key or the session cookie.

    A credential that is present but wrong is an error (401), never silently anonymous.
    Cookie-authenticated unsafe requests must carry the CSRF header, because a browser sends
    cookies on cross-site requests too.
    """
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    services = services_of(request)
    principal: Principal | None = None
    token = _bearer(request)
    api_key = request.headers.get(API_KEY_HEADER)
    # Checked credentials are trusted for a couple of seconds (see auth/principal_cache.py).
    principals, signin = services.principals, services.signin
    if token is not None:
        principal = principals.principal("session", token, lambda: signin.session_principal(token))
        if principal is None:
            raise AuthenticationFailed("the bearer token is invalid or has expired")
    elif api_key:
        principal = principals.principal("key", api_key, lambda: signin.api_key_principal(api_key))
        if principal is None:
            raise AuthenticationFailed("the API key is invalid, revoked or expired")
    elif cookie := request.cookies.get(SESSION_COOKIE):
        principal = principals.principal(
            "session", cookie, lambda: signin.session_principal(cookie)
        )
        if principal is not None and request.method in UNSAFE_METHODS and not _is_form(request):
            check_csrf(request, request.headers.get(CSRF_HEADER))
    request.state.principal = principal
    return principal


def _is_form(request: Request) -> bool:
    # HTML form posts check the CSRF field themselves (see pages.py).
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def known_principal(request: Request) -> Principal | None:
    """Return the caller's principal if it is known without reading the store, else None.

    That is: already worked out for this request, or a bearer token or an API key whose check
    is cached (cookies always go through :func:`authenticate`, which checks CSRF).
    """
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    principals = services_of(request).principals
    token = _bearer(request)
    if token is not None:
        known = principals.cached("session", token)
    elif api_key := request.headers.get(API_KEY_HEADER):
        known = principals.cached("key", api_key)
    if known is not None:
        request.state.principal = known
    return known


class Require:
    """A route dependency that declares and enforces the permission a route needs.

    It runs on the event loop: a caller whose credential check is cached costs no trip to a
    worker thread; otherwise :func:`authenticate` reads the store in one.
    """

    def __init__(self, permission: str | None = None) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        """Return the authorised principal or raise 401/403."""
        principal = known_principal(request) or await run_in_threadpool(authenticate, request)
        if principal is None:
            raise AuthenticationFailed("sign in, or send a bearer token or an X-API-Key")
        if self.permission is not None:
            principal.require_somewhere(self.permission)
        return principal

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.permission!r})"


class RequireOrAnonymous(Require):
    """Like :class:`Require`, but an anonymous caller gets ``None`` (pages redirect to sign-in)."""

    async def __call__(self, request: Request) -> Principal | None:  # type: ignore[override]
        """Return the authorised principal, None for anonymous, or raise 403."""
        try:
            return await super().__call__(request)
        except AuthenticationFailed:
            return None


def client_address() -> str | None:
    """Return the address of the client being served (worked out by the middleware)."""
    context = current_context()
    return context.client_address if context else None
