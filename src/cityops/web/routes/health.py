"""Liveness (/healthz) and readiness (/readyz: store reachable, migrations current)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cityops.storage import migrate
from cityops.web.schemas import Health
from cityops.web.security import services_of

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Tell that the process is up (no dependencies are checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request) -> JSONResponse:
    """Tell whether the store is reachable and migrated to the code's head revision."""
    store = services_of(request).store
    checks: dict[str, str] = {}
    try:
        store.ping()
        checks["store"] = "ok"
        current = migrate.current_revision(store.engine)
        head = migrate.head_revision()
        checks["migrations"] = "ok" if current == head else f"at {current}, head is {head}"
    except Exception as error:  # any failure means "not ready"; the reason is logged
        log.warning("readiness check failed: %s", error)
        checks.setdefault("store", "unreachable")
    ready = all(value == "ok" for value in checks.values()) and "migrations" in checks
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
