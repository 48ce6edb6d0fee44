"""Every route declares the permission it needs, or is listed as public; anonymous calls fail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount, Route

from cityops.auth.permissions import PERMISSIONS
from cityops.web.app import create_app
from cityops.web.security import PUBLIC_MOUNTS, PUBLIC_ROUTES, Require, RequireOrAnonymous

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Endpoint:
    """One route as the app serves it: the effective path, methods and dependencies."""

    kind: str  # "api", "route" or "mount"
    path: str
    methods: frozenset[str]
    dependant: Any = None

    def pairs(self) -> list[tuple[str, str]]:
        return sorted((m, self.path) for m in self.methods if m != "HEAD")


def _route_contexts(routes: list[Any]) -> Iterator[Any]:
    # FastAPI keeps included routers nested; iter_route_contexts flattens them with the effective
    # path and dependencies (older versions have a flat app.routes instead).
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        yield from routes
        return
    yield from iter_route_contexts(routes)


def walk(app: FastAPI) -> list[Endpoint]:
    """Return every route of ``app``, flattened."""
    found = []
    for context in _route_contexts(app.routes):
        original = getattr(context, "original_route", context)
        if isinstance(original, APIRoute):
            found.append(
                Endpoint("api", context.path, frozenset(context.methods), context.dependant)
            )
        elif isinstance(original, Mount):
            found.append(Endpoint("mount", context.path, frozenset()))
        elif isinstance(original, Route):
            found.append(Endpoint("route", context.path, frozenset(context.methods or ())))
        else:
            found.append(Endpoint(type(original).__name__, str(context.path), frozenset()))
    return found


def requirements(dependant: Any) -> list[Require]:
    """Return every Require in a dependency tree."""
    found = []
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Require):
            found.append(dependency.call)
        found.extend(requirements(dependency))
    return found


def undeclared(app: FastAPI) -> list[str]:
    """Return a line for each route that is neither public nor guarded by a known permission."""
    problems = []
    for endpoint in walk(app):
        if endpoint.kind == "mount":
            if endpoint.path not in PUBLIC_MOUNTS:
                problems.append(f"mount {endpoint.path} is not in PUBLIC_MOUNTS")
            continue
        if endpoint.kind == "route":
            for method, path in endpoint.pairs():
                if (method, path) not in PUBLIC_ROUTES:
                    problems.append(f"{method} {path}: a plain route that is not public")
            continue
        if endpoint.kind != "api":
            problems.append(f"{endpoint.kind} {endpoint.path}: unknown kind of route")
            continue
        declared = requirements(endpoint.dependant)
        unknown = [
            r for r in declared if r.permission is not None and r.permission not in PERMISSIONS
        ]
        for method, path in endpoint.pairs():
            if (method, path) in PUBLIC_ROUTES:
                continue
            if not declared:
                problems.append(f"{method} {path}: declares no Require and is not public")
            elif unknown:
                problems.append(f"{method} {path}: requires unknown permission(s) {unknown}")
    return problems


@pytest.fixture
def app(services):
    return create_app(services=services)


def test_every_route_is_public_or_declares_a_known_permission(app):
    problems = undeclared(app)
    assert problems == [], "routes without a permission:\n" + "\n".join(problems)


def test_the_walk_sees_every_route_the_app_serves(app):
    seen = {pair for endpoint in walk(app) for pair in endpoint.pairs()}
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert documented <= seen
    assert {("GET", "/"), ("GET", "/login"), ("POST", "/logout"), ("GET", "/docs")} <= seen
    assert ("GET", "/openapi.json") in seen
    assert any(e.kind == "mount" and e.path == "/static" for e in walk(app))
    # Sanity: a real number of guarded routes, so the check above cannot pass vacuously.
    guarded = [e for e in walk(app) if e.kind == "api" and requirements(e.dependant)]
    assert len(guarded) >= 15


def test_public_routes_exist(app):
    seen = {pair for endpoint in walk(app) for pair in endpoint.pairs()}
    assert set(PUBLIC_ROUTES) <= seen, set(PUBLIC_ROUTES) - seen


def test_the_check_catches_undeclared_routes(services):
    app = create_app(services=services)
    extra = APIRouter()

    @extra.get("/api/v1/leak")
    def leak() -> dict[str, str]:
        return {}

    @extra.post("/api/v1/typo")
    def typo(principal: Annotated[object, Depends(Require("userz:write"))]) -> dict[str, str]:
        return {}

    @extra.get("/api/v1/fine")
    def fine(principal: Annotated[object, Depends(Require("users:read"))]) -> dict[str, str]:
        return {}

    app.include_router(extra)
    app.mount("/uploads", StaticFiles(directory=str(services.settings.data_dir), check_dir=False))
    problems = undeclared(app)
    assert any(p.startswith("GET /api/v1/leak:") for p in problems), problems
    assert any(p.startswith("POST /api/v1/typo:") and "userz:write" in p for p in problems)
    assert any("/uploads" in p for p in problems)
    assert not any("/api/v1/fine" in p for p in problems)
    assert len(problems) == 3, problems


def _dummy(field: Any) -> str:
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    annotation = annotation or getattr(field, "type_", str)
    return "1" if annotation is int else "x"


def fill_path(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], path)


def protected_calls(app: FastAPI) -> list[tuple[str, str, bool]]:
    """Return (method, url, anonymous_allowed) for every non-public API route."""
    calls = []
    for endpoint in walk(app):
        if endpoint.kind != "api":
            continue
        values = {p.name: _dummy(p) for p in endpoint.dependant.path_params}
        url = fill_path(endpoint.path, values)
        soft = any(isinstance(r, RequireOrAnonymous) for r in requirements(endpoint.dependant))
        for method, path in endpoint.pairs():
            if (method, path) not in PUBLIC_ROUTES:
                calls.append((method, url, soft))
    return calls


def test_every_protected_route_refuses_anonymous_callers(client):
    calls = protected_calls(client.app)
    assert len(calls) >= 15
    failures = []
    for method, url, soft in calls:
        response = client.request(method, url, follow_redirects=False)
        if soft:
            # Pages send anonymous visitors to the sign-in page instead.
            if response.status_code != 303 or response.headers["location"] != "/login":
                failures.append(f"{method} {url}: {response.status_code}, expected 303 /login")
            continue
        if response.status_code != 401:
            failures.append(f"{method} {url}: {response.status_code}, expected 401")
        elif not response.headers["content-type"].startswith(PROBLEM_JSON):
            failures.append(f"{method} {url}: 401 is not problem+json")
        elif response.json()["status"] != 401 or "request_id" not in response.json():
            failures.append(f"{method} {url}: 401 body is not a problem")
    assert failures == [], "\n".join(failures)


def test_protected_routes_refuse_a_bad_bearer_token_too(client):
    failures = []
    for method, url, _ in protected_calls(client.app):
        response = client.request(
            method, url, headers={"Authorization": "Bearer forged"}, follow_redirects=False
        )
        if response.status_code not in (401, 303):
            failures.append(f"{method} {url}: {response.status_code}")
    assert failures == [], "\n".join(failures)
