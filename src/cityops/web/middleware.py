"""Request ids, client addresses and access logs for every request."""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityops.kernel.context import RequestContext, new_request_id, request_context
from cityops.web.problems import problem

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("cityops.access")


class RequestContextMiddleware:
    """Give every request an id (the caller's, if well-formed) and echo it in the response."""

    def __init__(self, app: ASGIApp, trusted_proxies: list[str]) -> None:
        self.app = app
        self.trusted_proxies = frozenset(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        offered = headers.get(REQUEST_ID_HEADER.lower(), "")
        request_id = offered if _SAFE_REQUEST_ID.fullmatch(offered) else new_request_id()
        context = RequestContext(request_id=request_id, client_address=self._client(scope, headers))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        started_response = False

        async def send_tracking(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
            await send_with_id(message)

        with request_context(context):
            try:
                await self.app(scope, receive, send_tracking)
            except Exception:
                # Answer here, inside the request context, so even a 500 carries the request
                # id (header and body) and passes through the security-headers middleware.
                log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                if started_response:
                    raise
                response = problem(
                    500, "Internal error", "the server failed; the request id helps find why"
                )
                await response(scope, receive, send_tracking)
            finally:
                log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "request_id": request_id,
                        "client": context.client_address,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )

    def _client(self, scope: Scope, headers: dict[str, str]) -> str | None:
        client = scope.get("client")
        direct = client[0] if client else None
        forwarded = headers.get("x-forwarded-for")
        if forwarded and direct in self.trusted_proxies:
            for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
                if hop not in self.trusted_proxies:
                    return hop[:64]
        return direct
