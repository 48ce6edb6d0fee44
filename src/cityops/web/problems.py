"""Errors as RFC 9457 ``application/problem+json`` that name the field and the broken rule."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityops.cases.workflow import IllegalTransition
from cityops.kernel.context import current_context
from cityops.kernel.errors import CityOpsError, RateLimited, ValidationFailed

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Build a problem+json response carrying the request id."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    context = current_context()
    if context is not None:
        body["request_id"] = context.request_id
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, rest = parts[0], parts[1:]
        return ".".join(rest) if rest else where
    return ".".join(parts)


async def _on_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    issues = [
        {
            "field": _field_name(e.get("loc", ())),
            "rule": str(e.get("type", "invalid")),
            "message": str(e.get("msg", "invalid value")),
        }
        for e in error.errors()
    ]
    first = issues[0] if issues else {"field": "request", "rule": "invalid", "message": ""}
    return problem(
        422,
        "Validation failed",
        f"{first['field']}: {first['message']} (rule: {first['rule']})",
        errors=issues,
    )


async def _on_domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CityOpsError)
    errors = None
    headers: dict[str, str] = {}
    if isinstance(error, ValidationFailed):
        errors = [{"field": i.field, "rule": i.rule, "message": i.message} for i in error.issues]
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="cityops"'
    extra = None
    if isinstance(error, IllegalTransition):
        extra = {
            "current_status": error.current.value,
            "allowed": [command.value for command in error.allowed],
        }
    return problem(
        error.status, error.title, error.message, errors=errors, headers=headers, extra=extra
    )


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    return problem(
        error.status_code,
        titles.get(error.status_code, "Error"),
        str(error.detail),
        headers=dict(error.headers or {}),
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem+json."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(CityOpsError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    # Unexpected errors are answered by RequestContextMiddleware, inside the request context.
