"""Intake as a service: auto-dispatch when class and route are certain; concurrent repeats."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.bootstrap import bootstrap
from cityops.cases.intake import IntakeRequest
from cityops.cases.queries import CaseFilter
from cityops.cases.routing_book import RECHECK_SECONDS
from cityops.cases.rules import MatterRule
from cityops.cases.workflow import Status
from tests.web.cases_city import G1, GARBAGE, IN_G1, IN_G2, MANHOLE, STREET, build_city


@pytest.fixture
def auto_services(settings, clock, hasher, system):
    built = bootstrap(
        settings.model_copy(update={"case_auto_dispatch": True}), clock=clock, hasher=hasher
    )
    build_city(built, system)
    yield built
    built.close()


def request(**fields) -> IntakeRequest:
    values = {
        "channel": "patroller",
        "description": "污水井盖破损",
        "lon": IN_G1[0],
        "lat": IN_G1[1],
    }
    values.update(fields)
    return IntakeRequest(**values)


def test_certain_class_and_route_are_dispatched_without_a_clerk(auto_services, system):
    result = auto_services.intake.accept(system, request(matter_code=MANHOLE))
    assert result.auto_dispatched is True
    assert result.case.status is Status.DISPATCHED
    assert result.case.department_code == "SZ"
    assert result.case.due_at is not None
    history = auto_services.cases.get(system, result.case.id)["history"]
    assert [e["command"] for e in history] == ["accept", "file", "dispatch"]
    assert history[1]["actor"] == "system:auto-dispatch"
    assert history[2]["data"]["auto"] is True


def test_uncertain_cases_wait_for_a_clerk(auto_services, system):
    outside = auto_services.intake.accept(system, request(matter_code=MANHOLE, lon=100.0, lat=30.0))
    assert outside.auto_dispatched is False  # no grid: the route is not certain
    assert outside.case.status is Status.ACCEPTED
    no_rule = auto_services.intake.accept(system, request(matter_code="01037"))
    assert no_rule.case.department_code is None
    assert no_rule.auto_dispatched is False
    first = auto_services.intake.accept(
        system, request(matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])
    )
    assert first.auto_dispatched is True
    duplicate = auto_services.intake.accept(
        system, request(matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])
    )
    assert [d.case_id for d in duplicate.duplicates] == [first.case.id]
    assert duplicate.auto_dispatched is False  # a possible duplicate needs a person


def test_auto_dispatch_is_off_by_default(services, system):
    build_city(services, system)
    result = services.intake.accept(system, request(matter_code=MANHOLE))
    assert result.auto_dispatched is False
    assert result.case.status is Status.ACCEPTED


def test_concurrent_repeats_of_a_reference_make_one_case(services, system):
    build_city(services, system)

    def send(_: int):
        return services.intake.accept(
            system, request(channel="enterprise", external_ref="HW-GPS-77", matter_code=MANHOLE)
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(12)))
    assert len({r.case.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    found = services.case_lists.search(system, CaseFilter(channels=("enterprise",)), limit=50)
    assert found["total"] == 1


def test_routing_changes_here_are_seen_at_once_and_another_process_s_within_the_recheck(
    services, settings, clock, hasher, system, make_user
):
    build_city(services, system)
    make_user("pat1", Role.PATROLLER, Scope("division", STREET))
    first = services.intake.accept(system, request(matter_code=MANHOLE))
    assert (first.case.department_code, first.case.grid_worker) == ("SZ", None)
    services.matter_rules.put(system, MatterRule(MANHOLE, department_code="CGJ"))
    services.responsibility.assign_worker(system, G1, "pat1")
    second = services.intake.accept(system, request(matter_code=MANHOLE))
    assert (second.case.department_code, second.case.grid_worker) == ("CGJ", "pat1")

    other = bootstrap(settings, clock=clock, hasher=hasher)  # another process on the same store
    try:
        clock.advance(timedelta(seconds=1))
        other.matter_rules.put(system, MatterRule(MANHOLE, department_code="HWS"))
        other.responsibility.set_unit(system, G1, key_kind="department", key="HWS", unit_code="SZ")
    finally:
        other.close()
    time.sleep(RECHECK_SECONDS + 0.1)
    third = services.intake.accept(system, request(matter_code=MANHOLE))
    assert third.case.department_code == "SZ"  # HWS by the new rule, SZ in grid 1 by the unit
