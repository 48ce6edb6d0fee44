from datetime import UTC, datetime, timedelta

from cityops.auth import ratelimit
from cityops.auth.ratelimit import LoginRateLimiter
from cityops.kernel.clock import FrozenClock


def test_keys_without_recent_failures_are_forgotten(monkeypatch):
    monkeypatch.setattr(ratelimit, "_SWEEP_AT", 50)
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    limiter = LoginRateLimiter(clock, per_account=5, per_address=20, window=timedelta(minutes=15))
    for n in range(40):
        limiter.failed(f"user{n}", f"10.0.0.{n}")
    assert len(limiter._failures) == 80
    clock.advance(timedelta(minutes=16))
    limiter.failed("late", "10.9.9.9")
    assert set(limiter._failures) == {("account", "late"), ("address", "10.9.9.9")}
    limiter.check("user1", "10.0.0.1")  # a check of a quiet key also drops it
    assert ("account", "user1") not in limiter._failures
