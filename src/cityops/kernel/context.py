"""Per-request context (request id, client address) carried through logs and the audit log."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where a change came from: the request id and the client's address."""

    request_id: str
    client_address: str | None = None


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "cityops_request_context", default=None
)


def new_request_id() -> str:
    """Return a fresh random request id."""
    return uuid.uuid4().hex


def current_context() -> RequestContext | None:
    """Return the context of the request being served, if any."""
    return _current.get()


@contextmanager
def request_context(context: RequestContext) -> Iterator[RequestContext]:
    """Make ``context`` current for the duration of the block."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
