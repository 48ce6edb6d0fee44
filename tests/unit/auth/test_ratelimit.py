"""Unit tests of the sign-in rate limiter, driven by a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.auth.ratelimit import LoginRateLimiter
from cityops.kernel.clock import FrozenClock
from cityops.kernel.errors import RateLimited

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 3
PER_ADDRESS = 5


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))


@pytest.fixture
def limiter(frozen: FrozenClock) -> LoginRateLimiter:
    return LoginRateLimiter(frozen, per_account=PER_ACCOUNT, per_address=PER_ADDRESS, window=WINDOW)


def fail(limiter: LoginRateLimiter, account: str, address: str | None, times: int = 1) -> None:
    for _ in range(times):
        limiter.check(account, address)
        limiter.failed(account, address)


def test_fresh_limiter_lets_attempts_through(limiter: LoginRateLimiter) -> None:
    limiter.check("alice", "10.0.0.1")
    limiter.check("alice", None)


def test_failures_below_the_account_limit_are_allowed(limiter: LoginRateLimiter) -> None:
    fail(limiter, "alice", "10.0.0.1", PER_ACCOUNT - 1)
    limiter.check("alice", "10.0.0.1")


def test_account_is_refused_after_n_failures(limiter: LoginRateLimiter) -> None:
    fail(limiter, "alice", "10.0.0.1", PER_ACCOUNT)
    with pytest.raises(RateLimited) as caught:
        limiter.check("alice", "10.0.0.2")
    assert caught.value.retry_after > 0
    assert caught.value.retry_after == int(WINDOW.total_seconds())
    assert caught.value.status == 429
    assert "account" in caught.value.message
    assert str(caught.value.retry_after) in caught.value.message


def test_account_limit_applies_without_an_address(limiter: LoginRateLimiter) -> None:
    fail(limiter, "alice", None, PER_ACCOUNT)
    with pytest.raises(RateLimited):
        limiter.check("alice", None)
    limiter.check("bob", None)


def test_retry_after_counts_down(limiter: LoginRateLimiter, frozen: FrozenClock) -> None:
    fail(limiter, "alice", None, PER_ACCOUNT)
    frozen.advance(timedelta(seconds=100))
    with pytest.raises(RateLimited) as caught:
        limiter.check("alice", None)
    assert caught.value.retry_after == int(WINDOW.total_seconds()) - 100
    frozen.advance(WINDOW - timedelta(seconds=101))
    with pytest.raises(RateLimited) as caught:
        limiter.check("alice", None)
    assert caught.value.retry_after == 1


def test_window_expiry_lets_attempts_through(
    limiter: LoginRateLimiter, frozen: FrozenClock
) -> None:
    fail(limiter, "alice", "10.0.0.1", PER_ACCOUNT)
    frozen.advance(WINDOW + timedelta(seconds=1))
    limiter.check("alice", "10.0.0.1")
    # The counter started over: it takes the full number of failures again.
    fail(limiter, "alice", "10.0.0.1", PER_ACCOUNT - 1)
    limiter.check("alice", "10.0.0.1")
    limiter.failed("alice", "10.0.0.1")
    with pytest.raises(RateLimited):
        limiter.check("alice", "10.0.0.1")


def test_window_slides(limiter: LoginRateLimiter, frozen: FrozenClock) -> None:
    start = frozen.now()
    for _ in range(PER_ACCOUNT):
        limiter.failed("alice", None)
        frozen.advance(timedelta(minutes=5))
    # Failures at +0, +5 and +10 minutes; now is +15 minutes: the first one is just expiring.
    frozen.advance(timedelta(seconds=1))
    assert frozen.now() - start == timedelta(minutes=15, seconds=1)
    limiter.check("alice", None)
    limiter.failed("alice", None)
    with pytest.raises(RateLimited) as caught:
        limiter.check("alice", None)
    # The oldest remaining failure (+5 min) expires at +20 min, 299 s from now.
    assert caught.value.retry_after == 299


def test_succeeded_resets_the_account(limiter: LoginRateLimiter) -> None:
    fail(limiter, "alice", "10.0.0.1", PER_ACCOUNT)
    with pytest.raises(RateLimited):
        limiter.check("alice", "10.0.0.9")
    limiter.succeeded("alice")
    limiter.check("alice", "10.0.0.9")
    fail(limiter, "alice", "10.0.0.9", PER_ACCOUNT - 1)
    limiter.check("alice", "10.0.0.9")


def test_succeeded_does_not_reset_the_address(limiter: LoginRateLimiter) -> None:
    fail(limiter, "alice", "10.0.0.1", PER_ACCOUNT)
    limiter.succeeded("alice")
    limiter.check("alice", "10.0.0.1")
    # The address still holds alice's three failures: two more from anyone fill it up.
    fail(limiter, "bob", "10.0.0.1", PER_ADDRESS - PER_ACCOUNT)
    with pytest.raises(RateLimited) as caught:
        limiter.check("carol", "10.0.0.1")
    assert "address" in caught.value.message
    limiter.check("carol", "10.0.0.2")


def test_succeeded_leaves_other_accounts_alone(limiter: LoginRateLimiter) -> None:
    fail(limiter, "alice", None, PER_ACCOUNT)
    fail(limiter, "bob", None, PER_ACCOUNT)
    limiter.succeeded("alice")
    limiter.check("alice", None)
    with pytest.raises(RateLimited):
        limiter.check("bob", None)


def test_address_limit_spans_accounts(limiter: LoginRateLimiter) -> None:
    for i in range(PER_ADDRESS):
        fail(limiter, f"user{i}", "203.0.113.7")
    with pytest.raises(RateLimited) as caught:
        limiter.check("someone-new", "203.0.113.7")
    assert "address" in caught.value.message
    assert caught.value.retry_after > 0
    # The same accounts from elsewhere are fine: none of them reached the account limit.
    limiter.check("user0", "198.51.100.1")
    limiter.check("someone-new", None)


def test_address_limit_expires(limiter: LoginRateLimiter, frozen: FrozenClock) -> None:
    for i in range(PER_ADDRESS):
        fail(limiter, f"user{i}", "203.0.113.7")
    frozen.advance(WINDOW + timedelta(seconds=1))
    limiter.check("someone-new", "203.0.113.7")


def test_accounts_are_case_insensitive(limiter: LoginRateLimiter) -> None:
    fail(limiter, "Alice", "10.0.0.1")
    fail(limiter, "ALICE", "10.0.0.2")
    fail(limiter, "alice", "10.0.0.3")
    with pytest.raises(RateLimited):
        limiter.check("aLiCe", "10.0.0.4")
    limiter.succeeded("ALICE")
    limiter.check("alice", "10.0.0.4")


def test_different_accounts_have_separate_counters(limiter: LoginRateLimiter) -> None:
    fail(limiter, "alice", None, PER_ACCOUNT)
    limiter.check("bob", None)
    limiter.check("alice2", None)


def test_checking_alone_counts_nothing(limiter: LoginRateLimiter) -> None:
    for _ in range(PER_ACCOUNT * 3):
        limiter.check("alice", "10.0.0.1")
