"""The web layer's principal cache: a short TTL, the credential's own expiry, and forgetting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import pytest

from cityops.auth.model import Principal
from cityops.auth.principal_cache import PrincipalCache
from cityops.kernel.clock import FrozenClock

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ALICE = Principal("user", "alice")


class Loads:
    """A credential check that counts how often it reads the 'store'."""

    def __init__(self, result: tuple[Principal, datetime | None] | None) -> None:
        self.result = result
        self.calls = 0

    def __call__(self) -> tuple[Principal, datetime | None] | None:
        self.calls += 1
        return self.result


def test_a_checked_credential_is_read_once_while_trusted() -> None:
    cache = PrincipalCache(FrozenClock(START), seconds=60)
    load = Loads((ALICE, None))
    assert cache.principal("session", "t1", load) is ALICE
    assert cache.principal("session", "t1", load) is ALICE
    assert cache.cached("session", "t1") is ALICE
    assert load.calls == 1
    assert cache.cached("key", "t1") is None  # kinds do not mix
    assert cache.cached("session", "t2") is None


def test_an_invalid_credential_is_never_cached() -> None:
    cache = PrincipalCache(FrozenClock(START), seconds=60)
    load = Loads(None)
    assert cache.principal("session", "bad", load) is None
    assert cache.principal("session", "bad", load) is None
    assert load.calls == 2


def test_the_credentials_own_expiry_is_checked_on_every_use() -> None:
    clock = FrozenClock(START)
    cache = PrincipalCache(clock, seconds=60)
    load = Loads((ALICE, START + timedelta(seconds=5)))
    assert cache.principal("session", "t", load) is ALICE
    clock.advance(timedelta(seconds=5))
    assert cache.cached("session", "t") is None
    load.result = None  # the store says it expired too
    assert cache.principal("session", "t", load) is None
    assert load.calls == 2


def test_entries_expire_after_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("cityops.auth.principal_cache.time.monotonic", lambda: now[0])
    cache = PrincipalCache(FrozenClock(START), seconds=2)
    load = Loads((ALICE, None))
    cache.principal("key", "k", load)
    now[0] += 1.9
    assert cache.cached("key", "k") is ALICE
    now[0] += 0.2
    assert cache.cached("key", "k") is None
    cache.principal("key", "k", load)
    assert load.calls == 2


def test_forget_drops_everything_and_a_read_racing_with_it_is_not_kept() -> None:
    cache = PrincipalCache(FrozenClock(START), seconds=60)
    cache.principal("session", "t", Loads((ALICE, None)))
    cache.forget()
    assert cache.cached("session", "t") is None

    def load_while_credentials_change() -> tuple[Principal, datetime | None]:
        cache.forget()  # a revocation commits while the old state is being read
        return ALICE, None

    assert cache.principal("session", "t", load_while_credentials_change) is ALICE
    assert cache.cached("session", "t") is None


class Unit:
    """A minimal unit of work recording how it ended."""

    def __init__(self, log: list[str], read_only: bool) -> None:
        self.log = log
        self.read_only = read_only

    def __enter__(self) -> Self:
        self.log.append("enter")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.log.append("exit")

    def commit(self) -> None:
        self.log.append("commit")


def test_writing_units_of_work_of_watched_services_make_the_cache_forget() -> None:
    cache = PrincipalCache(FrozenClock(START), seconds=60)
    log: list[str] = []
    watched = cache.watching(lambda *, read_only=False: Unit(log, read_only))  # type: ignore[arg-type,return-value]
    cache.principal("session", "t", Loads((ALICE, None)))
    with watched(read_only=True) as unit:
        assert isinstance(unit, Unit)
    assert cache.cached("session", "t") is ALICE  # reading changes nothing
    with watched() as unit:
        assert isinstance(unit, Unit)  # the service works with the real unit of work
        unit.commit()
        assert cache.cached("session", "t") is ALICE  # forgotten after the commit, not before
    assert cache.cached("session", "t") is None
    assert log == ["enter", "exit", "enter", "commit", "exit"]
    cache.principal("session", "t", Loads((ALICE, None)))
    with pytest.raises(RuntimeError), watched():
        raise RuntimeError("rolled back")
    assert cache.cached("session", "t") is None
