"""The FastAPI application factory. Building an app opens no connection; serving it does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import cityops
from cityops.bootstrap import Services, bootstrap
from cityops.settings import Settings, load_settings
from cityops.web.middleware import RequestContextMiddleware
from cityops.web.problems import install_problem_handlers
from cityops.web.routes import (
    admin_pages,
    alerts,
    apikeys,
    audit,
    case_rules,
    cases,
    components,
    departments,
    geo,
    health,
    indices,
    monitoring_pages,
    open311,
    pages,
    session_api,
    situation,
    sta,
    stream,
    telemetry,
    users,
    webhooks,
    workspace_pages,
)

# Pages and the docs load only what this server serves: the "offline" promise, enforced. The one
# exception a deployment may configure: map tiles from its own tile server (CITYOPS_MAP_TILE_URL).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)


def content_security_policy(image_origins: Sequence[str] = ()) -> str:
    """Return the CSP, with images also allowed from ``image_origins`` (``scheme://host[:port]``)."""
    if not image_origins:
        return CONTENT_SECURITY_POLICY
    img_src = " ".join(("img-src 'self' data:", *image_origins))
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", img_src, 1)


class SecurityHeadersMiddleware:
    """Add CSP and the usual hardening headers to every response."""

    def __init__(self, app: ASGIApp, image_origins: Sequence[str] = ()) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(image_origins).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the web app for ``settings`` (or the environment), or around given services."""
    if services is None:
        services = bootstrap(settings or load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.start_background()
        try:
            yield
        finally:
            services.stop_background()

    app = FastAPI(
        title="cityops API",
        version=cityops.__version__,
        description=(
            "城市运行管理服务平台 (一网统管) API. Authenticate with `POST /api/v1/auth/login` "
            "(bearer token) or an `X-API-Key` issued to an integration. Errors are "
            "`application/problem+json` naming the field and the rule."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    package = resources.files("cityops.web")
    app.state.templates = Jinja2Templates(directory=str(package.joinpath("templates")))
    zone = services.settings.zone
    # The nav shows 管理 to those who may open an admin section (ws_base.html).
    app.state.templates.env.globals["admin_permissions"] = admin_pages.ADMIN_PERMISSIONS
    app.state.templates.env.filters["local_time"] = lambda moment: (
        f"{moment.astimezone(zone):%Y-%m-%d %H:%M}" if moment else "–"
    )
    app.mount("/static", StaticFiles(directory=str(package.joinpath("static"))), name="static")
    install_problem_handlers(app)
    # Matter rules before cases: /cases/rules must not be read as the case numbered "rules".
    routers = (health, session_api, users, departments, apikeys, audit, stream, geo, components)
    pages_routers = (pages, workspace_pages, admin_pages, monitoring_pages)
    sensing = (telemetry, indices, alerts, webhooks, sta)
    for module in (*routers, case_rules, cases, situation, *sensing, open311, *pages_routers):
        app.include_router(module.router)
    # Outermost last: security headers wrap everything, including the 500 answered by
    # RequestContextMiddleware.
    app.add_middleware(RequestContextMiddleware, trusted_proxies=services.settings.trusted_proxies)
    tile_origin = services.settings.map_tile_origin
    app.add_middleware(
        SecurityHeadersMiddleware, image_origins=[tile_origin] if tile_origin else []
    )
    return app


def create_app_from_environment() -> FastAPI:
    """Uvicorn factory entry point (``cityops.web.app:create_app_from_environment``)."""
    return create_app(load_settings())
