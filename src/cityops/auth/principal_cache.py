"""Principals of recently checked credentials, kept for a couple of seconds (the web layer's).

Every API request presents a session token or an API key; checking it reads the session, the
user and the grants (or the key) from the store. The web layer asks this cache first:

* an entry is trusted for :data:`PRINCIPAL_CACHE_SECONDS` at most, and never past the session's
  or the key's own expiry (checked against the clock on every request);
* every change to users, roles, sessions and API keys made through this process's services
  forgets all entries at once (their units of work are wrapped with :meth:`watching`), so a
  sign-out, a disabled user or a revoked key is refused on the very next request;
* a change made by another process (the CLI, another server) is seen within the TTL;
* only valid credentials are cached: a wrong or unknown one is checked against the store every
  time.

Domain services that check credentials themselves (:class:`~cityops.auth.signin.SignInService`)
do not use the cache: they always read the store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

from cityops.auth.model import Principal
from cityops.auth.secrets import hash_token
from cityops.kernel.clock import Clock
from cityops.kernel.uow import UnitOfWork, UnitOfWorkFactory

PRINCIPAL_CACHE_SECONDS = 2.0
"""How long a checked credential is trusted without reading the store again."""

MAX_ENTRIES = 10_000

U = TypeVar("U", bound=UnitOfWork)

Loaded = tuple[Principal, datetime | None]
"""A principal and when its credential expires (None: never)."""


class PrincipalCache:
    """Credential → principal, for a few seconds; safe to share between threads."""

    def __init__(self, clock: Clock, seconds: float = PRINCIPAL_CACHE_SECONDS) -> None:
        self._clock = clock
        self._seconds = seconds
        self._entries: dict[str, tuple[Principal, float, datetime | None]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def principal(
        self, kind: str, credential: str, load: Callable[[], Loaded | None]
    ) -> Principal | None:
        """Return the principal of a credential, from the cache or from ``load()``.

        ``load`` checks the credential against the store and returns the principal with the
        credential's expiry, or None when it is not valid (then nothing is cached).
        """
        key = f"{kind}:{hash_token(credential)}"
        cached = self._get(key)
        if cached is not None:
            return cached
        generation = self._generation
        found = load()
        if found is None:
            return None
        principal, until = found
        with self._lock:
            # A change committed while we were reading must not be hidden by what we read.
            if generation == self._generation:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = (principal, time.monotonic(), until)
        return principal

    def cached(self, kind: str, credential: str) -> Principal | None:
        """Return the principal of a credential if it is cached (and still trusted), else None."""
        return self._get(f"{kind}:{hash_token(credential)}")

    def _get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        principal, loaded_at, until = entry
        if time.monotonic() - loaded_at < self._seconds and (
            until is None or self._clock.now() < until
        ):
            return principal
        self._entries.pop(key, None)
        return None

    def forget(self) -> None:
        """Forget every cached principal (credentials or grants changed)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def watching(self, factory: UnitOfWorkFactory[U]) -> UnitOfWorkFactory[U]:
        """Return ``factory``, whose writing units of work make the cache forget when they end."""

        def open_unit_of_work(*, read_only: bool = False) -> U:
            unit = factory(read_only=read_only)
            return unit if read_only else cast(U, _Forgetting(unit, self.forget))

        return open_unit_of_work


class _Forgetting(Generic[U]):
    """A unit of work that calls ``forget`` once it has ended (committed or not)."""

    def __init__(self, unit: U, forget: Callable[[], None]) -> None:
        self._unit = unit
        self._forget = forget

    def __enter__(self) -> U:
        return self._unit.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._unit.__exit__(exc_type, exc, traceback)
        finally:
            self._forget()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit, name)
