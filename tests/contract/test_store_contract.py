"""One contract suite for every repository, run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cityops.auth.events import UserCreated
from cityops.auth.model import Department, RoleGrant
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.kernel.audit import AuditEntry, AuditFilter
from cityops.storage import Store, migrate


@pytest.fixture
def store(database_url, clock):
    built = Store(database_url, clock=clock)
    yield built
    built.dispose()


def _user(uow, clock, username="alice", department=None):
    return uow.users.add(
        username=username,
        display_name=username.title(),
        department_code=department,
        password_hash="h",
        created_at=clock.now(),
    )


def test_migrations_leave_no_drift(store):
    status = migrate.check(store.engine)
    assert status.current == status.head
    assert status.differences == []
    assert status.ok


def test_upgrade_twice_is_a_no_op(store):
    migrate.upgrade(store.engine)
    assert migrate.current_revision(store.engine) == migrate.head_revision()


def test_departments_round_trip_and_update(store, clock):
    with store.unit_of_work() as uow:
        uow.departments.add(Department("GOV", "区政府"), clock.now())
        uow.departments.add(Department("SZ", "市政", parent_code="GOV"), clock.now())
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.departments.get("SZ") == Department("SZ", "市政", "GOV", True)
        assert [d.code for d in uow.departments.list()] == ["GOV", "SZ"]
        assert uow.departments.get("NOPE") is None
    with store.unit_of_work() as uow:
        uow.departments.update(Department("SZ", "市政设施", None, False))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.departments.get("SZ") == Department("SZ", "市政设施", None, False)


def test_unknown_parent_department_is_refused_by_the_store(store, clock):
    with store.unit_of_work() as uow, pytest.raises(DBAPIError):
        uow.departments.add(Department("X", "x", parent_code="MISSING"), clock.now())


def test_users_and_grants(store, clock):
    with store.unit_of_work() as uow:
        user = _user(uow, clock)
        assert uow.users.add_grant(user.id, RoleGrant(Role.INTAKE, Scope.city()))
        assert not uow.users.add_grant(user.id, RoleGrant(Role.INTAKE, Scope.city()))
        assert uow.users.add_grant(user.id, RoleGrant(Role.VIEWER, Scope("division", "320102")))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        found = uow.users.get("ALICE")
        assert found is not None
        assert found.created_at == clock.now()
        assert {str(g) for g in found.grants} == {"intake@city", "viewer@division:320102"}
        assert uow.users.get_by_id(found.id) == found
        assert [u.username for u in uow.users.list()] == ["alice"]
    with store.unit_of_work() as uow:
        assert uow.users.remove_grant(user.id, RoleGrant(Role.INTAKE, Scope.city()))
        assert not uow.users.remove_grant(user.id, RoleGrant(Role.INTAKE, Scope.city()))
        uow.users.update(user.id, display_name="A", department_code=None, active=False)
        uow.users.set_password_hash(user.id, "h2", clock.now())
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        found = uow.users.get("alice")
        assert found is not None
        assert (found.display_name, found.active, found.password_hash) == ("A", False, "h2")
        assert [str(g) for g in found.grants] == ["viewer@division:320102"]


def test_duplicate_username_is_refused(store, clock):
    with store.unit_of_work() as uow:
        _user(uow, clock)
        uow.commit()
    with store.unit_of_work() as uow, pytest.raises(DBAPIError):
        _user(uow, clock)


def test_sessions(store, clock):
    with store.unit_of_work() as uow:
        user = _user(uow, clock)
        for n, hours in enumerate((1, 2, -1)):
            uow.sessions.add(
                token_hash=f"t{n}",
                user_id=user.id,
                created_at=clock.now(),
                expires_at=clock.now() + timedelta(hours=hours),
                client_address="127.0.0.1",
            )
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.sessions.get("t0") == (user.id, clock.now() + timedelta(hours=1))
        assert uow.sessions.purge_expired(clock.now()) == 1
        uow.sessions.delete("t0")
        assert uow.sessions.get("t0") is None
        assert uow.sessions.delete_for_user(user.id) == 1
        uow.commit()


def test_api_keys(store, clock):
    with store.unit_of_work() as uow:
        key = uow.api_keys.add(
            prefix="abcd1234",
            secret_hash="s" * 64,
            name="gateway",
            permissions=frozenset({"telemetry:write", "cases:create"}),
            scope=Scope("division", "320102"),
            created_by="admin",
            created_at=clock.now(),
            expires_at=None,
        )
        uow.commit()
    with store.unit_of_work() as uow:
        found, secret_hash = uow.api_keys.find("abcd1234")
        assert found == key
        assert secret_hash == "s" * 64
        assert uow.api_keys.find("nope0000") is None
        uow.api_keys.revoke(key.id, clock.now())
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        revoked = uow.api_keys.get(key.id)
        assert revoked is not None
        assert revoked.revoked_at == clock.now()
        assert [k.prefix for k in uow.api_keys.list()] == ["abcd1234"]


def _entry(clock, n, **overrides):
    values = {
        "action": "user.create",
        "object_type": "user",
        "object_id": f"u{n}",
        "actor": "admin",
        "role": "admin",
        "scope": "city",
        "before": None,
        "after": {"n": n, "名字": "张三"},
        "at": clock.now() + timedelta(minutes=n),
        "request_id": f"r{n}",
        "client_address": "10.0.0.1",
    }
    values.update(overrides)
    return AuditEntry(**values)


def test_audit_append_many_and_query(store, clock):
    with store.unit_of_work() as uow:
        uow.audit.append_many([_entry(clock, n) for n in range(10)])
        uow.audit.append(_entry(clock, 10, action="user.disable", actor="boss"))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        newest = uow.audit.query(AuditFilter(limit=3))
        assert [e.object_id for e in newest] == ["u10", "u9", "u8"]
        assert newest[1].after == {"n": 9, "名字": "张三"}
        assert newest[1].at == clock.now() + timedelta(minutes=9)
        page2 = uow.audit.query(AuditFilter(limit=3, before_id=newest[-1].id))
        assert [e.object_id for e in page2] == ["u7", "u6", "u5"]
        assert [e.object_id for e in uow.audit.query(AuditFilter(actor="boss"))] == ["u10"]
        assert len(uow.audit.query(AuditFilter(action="user.create", limit=100))) == 10
        window = uow.audit.query(
            AuditFilter(
                since=clock.now() + timedelta(minutes=2), until=clock.now() + timedelta(minutes=4)
            )
        )
        assert [e.object_id for e in window] == ["u3", "u2"]


def test_audit_log_is_append_only(store, clock):
    with store.unit_of_work() as uow:
        uow.audit.append(_entry(clock, 1))
        uow.commit()
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with store.unit_of_work() as uow, pytest.raises(DBAPIError, match="append-only"):
            uow.connection.execute(text(statement))
    with store.unit_of_work(read_only=True) as uow:
        assert [e.actor for e in uow.audit.query(AuditFilter())] == ["admin"]


def test_a_unit_of_work_left_without_commit_writes_nothing(store, clock):
    with store.unit_of_work() as uow:
        _user(uow, clock)
        uow.audit.append(_entry(clock, 1))
        uow.record(UserCreated(username="alice"))

    def commit_bob_then_fail():
        with store.unit_of_work() as uow:
            _user(uow, clock, "bob")
            uow.commit()
            _user(uow, clock, "carol")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        commit_bob_then_fail()
    with store.unit_of_work(read_only=True) as uow:
        assert [u.username for u in uow.users.list()] == ["bob"]
        assert uow.audit.query(AuditFilter()) == []
        assert uow.outbox.events_after(0, 10) == []


def test_events_are_written_at_commit_in_order_and_notify_after_commit(store, clock):
    notified: list[int] = []
    store.on_commit(lambda: notified.append(1))
    with store.unit_of_work() as uow:
        uow.record(UserCreated(username="a"))
        uow.record(UserCreated(username="b"))
        assert uow.outbox.events_after(0, 10) == []
        uow.commit()
        assert notified == []  # only once the unit of work has let go of the store
    assert notified == [1]
    with store.unit_of_work(read_only=True) as uow:
        events = uow.outbox.events_after(0, 10)
        assert [(e.type, e.aggregate_type, e.aggregate_id) for e in events] == [
            ("UserCreated", "user", "a"),
            ("UserCreated", "user", "b"),
        ]
        assert events[0].payload == {"username": "a"}
        assert events[0].occurred_at == clock.now()
        assert events[0].id < events[1].id
        assert uow.outbox.last_event_id() == events[1].id
        assert uow.outbox.events_after(events[0].id, 10) == [events[1]]


def test_read_only_units_of_work_cannot_record_events(store):
    with store.unit_of_work(read_only=True) as uow, pytest.raises(RuntimeError):
        uow.record(UserCreated(username="a"))


def test_subscriber_offsets(store):
    with store.unit_of_work() as uow:
        assert uow.outbox.subscriber_offset("kpi") == 0
        uow.outbox.set_subscriber_offset("kpi", 7)
        uow.outbox.set_subscriber_offset("kpi", 9)
        uow.outbox.set_subscriber_offset("feed", 3)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbox.subscriber_offset("kpi") == 9
        assert uow.outbox.subscriber_offset("feed") == 3
