"""The composition root: turn Settings into a store, a clock, a bus and the domain services.

This is the only module that knows every concrete class. Nothing here runs at import time;
call :func:`bootstrap` (the web app factory and the CLI do).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cityops.auth.accounts import AccountService
from cityops.auth.apikeys import ApiKeyService
from cityops.auth.audit import AuditReader
from cityops.auth.ratelimit import LoginRateLimiter
from cityops.auth.secrets import PasswordHasher
from cityops.auth.signin import SignInService
from cityops.cases.workcalendar import build_calendar, read_overrides
from cityops.catalog.components import ComponentService
from cityops.geo.divisions import DivisionService
from cityops.geo.locate import LocationService
from cityops.geo.places import GazetteerService
from cityops.geo.responsibility import ResponsibilityService
from cityops.kernel.bus import EventBus
from cityops.kernel.clock import Clock, SystemClock
from cityops.kernel.worktime import WorkingCalendar
from cityops.settings import Settings
from cityops.storage import Store
from cityops.storage.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request handler or a CLI command may use."""

    settings: Settings
    clock: Clock
    store: Store
    bus: EventBus[SqlUnitOfWork]
    accounts: AccountService
    signin: SignInService
    api_keys: ApiKeyService
    audit: AuditReader
    divisions: DivisionService
    locations: LocationService
    responsibility: ResponsibilityService
    components: ComponentService
    gazetteer: GazetteerService
    calendar: WorkingCalendar
    secret_key: str = field(repr=False)

    def close(self) -> None:
        """Stop background work and close the store's connections."""
        self.bus.stop()
        self.store.dispose()


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
) -> Services:
    """Build the services for ``settings``; connects to nothing until first used."""
    clock = clock or SystemClock()
    store = Store(settings.database_url, clock=clock, pool_size=settings.database_pool_size)
    bus: EventBus[SqlUnitOfWork] = EventBus(
        store.unit_of_work, poll_interval=settings.event_poll_seconds
    )
    store.on_commit(bus.notify)
    hasher = hasher or PasswordHasher()
    limiter = LoginRateLimiter(
        clock,
        per_account=settings.login_max_failures_per_account,
        per_address=settings.login_max_failures_per_address,
        window=timedelta(seconds=settings.login_failure_window_seconds),
    )
    locations = LocationService(store.unit_of_work)
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        accounts=AccountService(store.unit_of_work, clock, hasher),
        signin=SignInService(
            store.unit_of_work,
            clock,
            hasher,
            limiter,
            timedelta(hours=settings.session_ttl_hours),
        ),
        api_keys=ApiKeyService(store.unit_of_work, clock),
        audit=AuditReader(store.unit_of_work),
        divisions=DivisionService(store.unit_of_work, clock),
        locations=locations,
        responsibility=ResponsibilityService(store.unit_of_work, clock),
        components=ComponentService(store.unit_of_work, clock, locations.placer),
        gazetteer=GazetteerService(store.unit_of_work, clock, locations),
        calendar=build_calendar(
            settings.timezone,
            settings.working_hours,
            read_overrides(settings.calendar_file) if settings.calendar_file else None,
        ),
        secret_key=resolve_secret_key(settings),
    )


def resolve_secret_key(settings: Settings) -> str:
    """Return the configured secret, or (dev/demo only) one generated and kept in the data dir."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    if settings.mode == "production":  # Settings validation already refuses this; belt and braces.
        raise RuntimeError("CITYOPS_SECRET_KEY is required in production mode")
    path = Path(settings.data_dir) / "secret-key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    log.info("generated a %s-mode secret key in %s", settings.mode, path)
    return secret
