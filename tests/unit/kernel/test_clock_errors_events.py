"""Unit tests of the kernel: clocks, domain errors, domain events and the request context."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.auth.events import (
    ApiKeyIssued,
    DepartmentCreated,
    RoleGranted,
    UserChanged,
    UserCreated,
)
from cityops.kernel.clock import FrozenClock, SystemClock
from cityops.kernel.context import (
    RequestContext,
    current_context,
    new_request_id,
    request_context,
)
from cityops.kernel.errors import (
    AuthenticationFailed,
    CityOpsError,
    Conflict,
    FieldIssue,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from cityops.kernel.events import DomainEvent

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))


# --- clocks ---------------------------------------------------------------------------------


def test_frozen_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 11, 20, 2, 0))  # noqa: DTZ001 - naive on purpose


def test_frozen_clock_stands_still() -> None:
    clock = FrozenClock(START)
    assert clock.now() == START
    assert clock.now() == START


def test_frozen_clock_converts_to_utc() -> None:
    clock = FrozenClock(datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING))
    assert clock.now() == START
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.now().hour == 2


def test_frozen_clock_advances() -> None:
    clock = FrozenClock(START)
    clock.advance(timedelta(minutes=15))
    assert clock.now() == START + timedelta(minutes=15)
    clock.advance(timedelta(days=1, seconds=1))
    assert clock.now() == START + timedelta(days=1, minutes=15, seconds=1)


@given(st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)), max_size=10))
def test_frozen_clock_advance_adds_up(steps: list[timedelta]) -> None:
    clock = FrozenClock(START)
    for step in steps:
        clock.advance(step)
    assert clock.now() == START + sum(steps, timedelta(0))


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


# --- errors ---------------------------------------------------------------------------------


def test_validation_failed_single() -> None:
    error = ValidationFailed.single("username", "required", "must be set")
    assert isinstance(error, CityOpsError)
    assert error.issues == [FieldIssue("username", "required", "must be set")]
    assert error.message == "username: must be set (rule: required)"
    assert str(error) == error.message
    assert error.status == 422
    assert error.title == "Validation failed"


@given(
    field=st.text(min_size=1, max_size=20),
    rule=st.text(min_size=1, max_size=20),
    message=st.text(max_size=40),
)
def test_validation_failed_message_names_field_and_rule(
    field: str, rule: str, message: str
) -> None:
    error = ValidationFailed.single(field, rule, message)
    assert field in error.message
    assert rule in error.message
    assert error.message == f"{field}: {message} (rule: {rule})"
    assert error.issues[0] == FieldIssue(field, rule, message)


def test_validation_failed_keeps_every_issue_and_reports_the_first() -> None:
    issues = [
        FieldIssue("username", "required", "must be set"),
        FieldIssue("password", "min_length", "too short"),
    ]
    error = ValidationFailed(issues)
    assert error.issues == issues
    assert error.issues is not issues
    assert error.message.startswith("username:")
    assert "password" not in error.message


def test_validation_failed_needs_an_issue() -> None:
    with pytest.raises(ValueError, match="at least one issue"):
        ValidationFailed([])


@pytest.mark.parametrize(
    ("error_type", "status"),
    [
        (CityOpsError, 400),
        (ValidationFailed, 422),
        (NotFound, 404),
        (Conflict, 409),
        (AuthenticationFailed, 401),
        (PermissionDenied, 403),
        (RateLimited, 429),
    ],
)
def test_error_statuses(error_type: type[CityOpsError], status: int) -> None:
    assert error_type.status == status
    assert issubclass(error_type, CityOpsError)
    assert error_type.title


def test_plain_errors_keep_their_message() -> None:
    error = NotFound("no user named bob")
    assert error.message == "no user named bob"
    assert str(error) == "no user named bob"


def test_rate_limited_carries_retry_after() -> None:
    error = RateLimited("slow down", retry_after=42)
    assert error.retry_after == 42
    assert error.message == "slow down"


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InspectionScheduled(DomainEvent):
    """A test event with every kind of field the payload converter handles."""

    aggregate_type = "inspection"
    inspection_id: int
    at: datetime
    windows: tuple[datetime, ...] = ()
    tags: tuple[str, ...] = ()
    crew: frozenset[str] = frozenset()
    details: dict[object, object] = dataclasses.field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class NothingHappened(DomainEvent):
    """An event without fields."""


def test_auth_event_type_id_and_payload() -> None:
    event = UserCreated(username="alice")
    assert event.event_type() == "UserCreated"
    assert event.aggregate_type == "user"
    assert event.aggregate_id() == "alice"
    assert event.payload() == {"username": "alice"}


def test_aggregate_id_is_the_first_field() -> None:
    event = RoleGranted(username="alice", role="dispatcher", scope="division:320102")
    assert event.aggregate_id() == "alice"
    assert event.payload() == {
        "username": "alice",
        "role": "dispatcher",
        "scope": "division:320102",
    }
    assert DepartmentCreated(code="cg", name="城管").aggregate_id() == "cg"
    assert ApiKeyIssued(prefix="a1b2c3d4", name="gateway").aggregate_id() == "a1b2c3d4"
    assert UserChanged(username="bob", active=False).payload() == {
        "username": "bob",
        "active": False,
    }


def test_aggregate_type_is_not_a_payload_field() -> None:
    assert "aggregate_type" not in UserCreated(username="alice").payload()
    assert "aggregate_type" not in InspectionScheduled(inspection_id=1, at=START).payload()


def test_payload_converts_datetimes_and_collections() -> None:
    event = InspectionScheduled(
        inspection_id=42,
        at=START,
        windows=(START, START + timedelta(hours=1)),
        tags=("bridge", "night"),
        crew=frozenset({"zhang"}),
        details={"due": START, 3: ("a", "b")},
    )
    assert event.event_type() == "InspectionScheduled"
    assert event.aggregate_id() == "42"
    assert event.payload() == {
        "inspection_id": 42,
        "at": "2026-11-20T02:00:00+00:00",
        "windows": ["2026-11-20T02:00:00+00:00", "2026-11-20T03:00:00+00:00"],
        "tags": ["bridge", "night"],
        "crew": ["zhang"],
        "details": {"due": "2026-11-20T02:00:00+00:00", "3": ["a", "b"]},
        "note": None,
    }
    json.dumps(event.payload())


def test_event_without_fields() -> None:
    event = NothingHappened()
    assert event.event_type() == "NothingHappened"
    assert event.aggregate_id() == ""
    assert event.payload() == {}


def test_events_are_frozen() -> None:
    event = UserCreated(username="alice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.username = "mallory"  # type: ignore[misc]


@given(
    at=st.datetimes(timezones=st.just(UTC)),
    tags=st.lists(st.text(max_size=8), max_size=5).map(tuple),
)
def test_payload_is_json_ready_and_reversible(at: datetime, tags: tuple[str, ...]) -> None:
    event = InspectionScheduled(inspection_id=1, at=at, windows=(at,), tags=tags)
    payload = json.loads(json.dumps(event.payload()))
    assert datetime.fromisoformat(payload["at"]) == at
    assert [datetime.fromisoformat(w) for w in payload["windows"]] == [at]
    assert payload["tags"] == list(tags)


# --- request context ------------------------------------------------------------------------


def test_request_context_is_set_and_reset() -> None:
    assert current_context() is None
    outer = RequestContext(new_request_id(), "10.0.0.1")
    with request_context(outer) as entered:
        assert entered is outer
        assert current_context() is outer
        inner = RequestContext("inner")
        with request_context(inner):
            assert current_context() is inner
        assert current_context() is outer
    assert current_context() is None


def test_request_context_resets_after_an_error() -> None:
    with pytest.raises(RuntimeError), request_context(RequestContext("r1")):
        raise RuntimeError("boom")
    assert current_context() is None


def test_request_ids_are_unique_hex() -> None:
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
