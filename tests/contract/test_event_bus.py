"""The outbox-fed bus: delivery after commit, exactly-once store effects, resume after restart."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from cityops.auth.events import UserCreated
from cityops.kernel.audit import AuditFilter
from cityops.kernel.bus import EventBus
from cityops.storage import Store


@pytest.fixture
def store(database_url, clock):
    built = Store(database_url, clock=clock)
    yield built
    built.dispose()


def _publish(store, *usernames):
    with store.unit_of_work() as uow:
        for name in usernames:
            uow.record(UserCreated(username=name))
        uow.commit()


def _recording_handler(seen):
    """A handler whose store effect (an audit row) commits together with the offset."""
    from cityops.kernel.audit import AuditEntry

    def handle(event, uow):
        seen.append(event.payload["username"])
        uow.audit.append(
            AuditEntry(
                action="test.handled",
                object_type="event",
                object_id=str(event.id),
                actor="subscriber",
                at=event.occurred_at,
            )
        )

    return handle


def _handled_ids(store):
    with store.unit_of_work(read_only=True) as uow:
        entries = uow.audit.query(AuditFilter(action="test.handled", limit=1000))
    return sorted(int(e.object_id) for e in entries)


def test_subscriber_resumes_after_restart_without_losing_or_repeating(store):
    _publish(store, "a", "b", "c")
    first_run: list[str] = []
    bus = EventBus(store.unit_of_work, batch_size=2)
    bus.subscribe("projector", _recording_handler(first_run))
    assert bus.drain() == 3
    assert first_run == ["a", "b", "c"]

    _publish(store, "d", "e")  # arrive while the "process" is down
    restarted: list[str] = []
    bus_after_restart = EventBus(store.unit_of_work, batch_size=2)
    bus_after_restart.subscribe("projector", _recording_handler(restarted))
    assert bus_after_restart.drain() == 2
    assert restarted == ["d", "e"]
    assert bus_after_restart.drain() == 0
    with store.unit_of_work(read_only=True) as uow:
        all_ids = [e.id for e in uow.outbox.events_after(0, 100)]
    assert _handled_ids(store) == all_ids


def test_a_failing_handler_rolls_back_its_batch_and_is_retried(store):
    _publish(store, "a", "b", "c")
    seen: list[str] = []
    record = _recording_handler(seen)
    fail_on = {"b"}

    def flaky(event, uow):
        record(event, uow)
        if event.payload["username"] in fail_on:
            raise RuntimeError("transient failure")

    bus = EventBus(store.unit_of_work, batch_size=10)
    bus.subscribe("flaky", flaky)
    assert bus.drain() == 0  # the batch a, b failed: nothing stays committed
    assert _handled_ids(store) == []
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbox.subscriber_offset("flaky") == 0
    fail_on.clear()
    assert bus.drain() == 3
    assert len(_handled_ids(store)) == 3  # each event's effect committed exactly once


def test_subscribers_filter_by_type_and_keep_separate_offsets(store):
    _publish(store, "a")
    with store.unit_of_work() as uow:
        from cityops.auth.events import DepartmentCreated

        uow.record(DepartmentCreated(code="SZ", name="市政"))
        uow.commit()
    users: list[str] = []
    everything: list[str] = []
    bus = EventBus(store.unit_of_work)
    bus.subscribe("users", lambda e, uow: users.append(e.type), event_types=["UserCreated"])
    bus.subscribe("all", lambda e, uow: everything.append(e.type))
    bus.drain()
    assert users == ["UserCreated"]
    assert everything == ["UserCreated", "DepartmentCreated"]
    with store.unit_of_work(read_only=True) as uow:
        last = uow.outbox.last_event_id()
        assert uow.outbox.subscriber_offset("users") == last
        assert uow.outbox.subscriber_offset("all") == last


def test_duplicate_subscriber_names_are_refused(store):
    bus = EventBus(store.unit_of_work)
    bus.subscribe("x", lambda e, uow: None)
    with pytest.raises(ValueError, match="already registered"):
        bus.subscribe("x", lambda e, uow: None)


def test_background_worker_delivers_after_commit(store):
    delivered = threading.Event()
    bus = EventBus(store.unit_of_work, poll_interval=30)
    store.on_commit(bus.notify)
    bus.subscribe("live", lambda e, uow: delivered.set())
    bus.start()
    try:
        _publish(store, "a")
        assert delivered.wait(timeout=20), "the worker did not deliver the committed event"
    finally:
        bus.stop()


def test_concurrent_writers_commit_events_without_gaps(store):
    """Many threads record events at once; a reader never sees a later id before an earlier one."""
    errors: list[BaseException] = []

    def writer(n):
        try:
            for i in range(10):
                _publish(store, f"w{n}-{i}")
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.unit_of_work(read_only=True) as uow:
        ids = [e.id for e in uow.outbox.events_after(0, 1000)]
        count = uow.connection.execute(text("SELECT count(*) FROM outbox_events")).scalar_one()
    assert len(ids) == count == 40
    assert ids == sorted(ids)
