"""Sliding-window limits on failed sign-in attempts, per account and per client address.

The counters live in the process's memory: that is enough for one server process and costs no
write per attempt. A deployment with several processes multiplies the limit by the process count
(documented in docs/security.md).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import timedelta

from cityops.kernel.clock import Clock
from cityops.kernel.errors import RateLimited

# Past this many tracked accounts/addresses, keys with no failure inside the window are dropped.
_SWEEP_AT = 10_000


class LoginRateLimiter:
    """Refuse sign-in attempts after too many recent failures for an account or an address."""

    def __init__(
        self,
        clock: Clock,
        *,
        per_account: int,
        per_address: int,
        window: timedelta,
    ) -> None:
        self._clock = clock
        self._limits = {"account": per_account, "address": per_address}
        self._window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, account: str, address: str | None) -> None:
        """Raise RateLimited if the account or the address is over its limit now."""
        now = self._clock.now().timestamp()
        with self._lock:
            for kind, key in self._keys(account, address):
                times = self._recent(kind, key, now)
                if not times:
                    # Forget keys with no recent failures, so the maps cannot grow forever.
                    self._failures.pop((kind, key), None)
                    continue
                if len(times) >= self._limits[kind]:
                    retry = math.ceil(times[0] + self._window.total_seconds() - now)
                    raise RateLimited(
                        f"too many failed sign-in attempts for this {kind}; "
                        f"try again in {max(retry, 1)} s",
                        retry_after=max(retry, 1),
                    )

    def failed(self, account: str, address: str | None) -> None:
        """Count one failed attempt against the account and the address."""
        now = self._clock.now().timestamp()
        with self._lock:
            if len(self._failures) >= _SWEEP_AT:
                self._sweep(now)
            for kind, key in self._keys(account, address):
                self._recent(kind, key, now).append(now)

    def succeeded(self, account: str) -> None:
        """Forget the account's failures after a successful sign-in (the address keeps its own)."""
        with self._lock:
            self._failures.pop(("account", account.lower()), None)

    def _sweep(self, now: float) -> None:
        horizon = now - self._window.total_seconds()
        stale = [key for key, times in self._failures.items() if not times or times[-1] <= horizon]
        for key in stale:
            del self._failures[key]

    def _keys(self, account: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("account", account.lower())]
        if address:
            keys.append(("address", address))
        return keys

    def _recent(self, kind: str, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault((kind, key), deque())
        horizon = now - self._window.total_seconds()
        while times and times[0] <= horizon:
            times.popleft()
        return times
