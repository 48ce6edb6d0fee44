"""The demo's case history: deterministic, every state and side flow, histories that replay.

One module-scoped store holds the demo city with a short, dense history (800 cases over 45 days,
loaded on a Monday morning, so the weekend's cases wait in the intake queue); the generator's
determinism and the rules file are checked without a store.
"""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cityops.auth.model import Principal
from cityops.auth.secrets import PasswordHasher
from cityops.bootstrap import Services, bootstrap, case_policy
from cityops.cases import corpus
from cityops.cases.model import Case, Channel, HistoryEntry
from cityops.cases.queries import CaseFilter, Visibility
from cityops.cases.rules import MatterRule, read_rules_csv
from cityops.cases.workcalendar import build_calendar
from cityops.cases.workflow import OPEN, WITH_DEPARTMENT, Status
from cityops.catalog.reference import matter_classes
from cityops.demo.accounts import DEPARTMENTS
from cityops.demo.cases import (
    demo_components,
    demo_grids,
    generate_cases,
    load_demo_cases,
    period_end,
)
from cityops.demo.city import DemoCity, generate
from cityops.demo.furniture import component_rows
from cityops.demo.lifecycle import base_department
from cityops.demo.load import demo_rules_csv, load_demo
from cityops.demo.worktime_index import indexed
from cityops.kernel.audit import AuditFilter
from cityops.kernel.clock import FrozenClock
from cityops.kernel.worktime import WorkingCalendar, parse_limit
from cityops.settings import Settings
from tests.conftest import BACKENDS, TEST_SECRET
from tests.conftest import _truncate_postgres as truncate_postgres

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
COUNT, DAYS = 800, 45
SYSTEM = Principal.system("test")
NOT_PATROLLER = tuple(c.value for c in Channel if c is not Channel.PATROLLER)
SETTINGS = Settings(mode="dev", secret_key=TEST_SECRET)


@dataclass
class Loaded:
    """The store with the demo loaded, and what the tests read back from it."""

    services: Services
    city: DemoCity
    cases: list[Case]
    histories: dict[int, list[HistoryEntry]]


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return generate()


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, city: DemoCity
) -> Iterator[Loaded]:
    root = tmp_path_factory.mktemp("demo-cases")
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, root / "cityops.db")
        database_url = f"sqlite:///{root / 'cityops.db'}"
    else:
        database_url = request.getfixturevalue("postgres_database")
        truncate_postgres(database_url)
    settings = Settings(
        mode="dev", database_url=database_url, data_dir=root / "var", secret_key=TEST_SECRET
    )
    hasher = PasswordHasher(time_cost=1, memory_cost=1024)
    services = bootstrap(settings, clock=FrozenClock(MONDAY), hasher=hasher)
    summary = load_demo(services, root / "credentials.txt", cases=0, sensor_days=0)
    assert summary.rules == 250
    assert summary.cases == summary.cases_added == 0
    load = load_demo_cases(services, city, component_rows(city), count=COUNT, days=DAYS)
    assert load.added == load.cases == COUNT
    with services.store.unit_of_work(read_only=True) as uow:
        cases, total = uow.cases.search(
            CaseFilter(include_merged=True),
            Visibility(everything=True),
            MONDAY,
            limit=COUNT,
            offset=0,
        )
        assert total == COUNT
        histories = {case.id: uow.cases.history(case.id) for case in cases}
    yield Loaded(services, city, cases, histories)
    services.close()


# -- the generator --------------------------------------------------------------------------


def _inputs(city: DemoCity) -> dict[str, Any]:
    """The generator's inputs without a store (grid duty as the loader assigns it)."""
    streets = sorted(city.streets, key=lambda s: s.code)
    number = {street.code: i for i, street in enumerate(streets, start=1)}
    street_of = {c.code: c.parent_code for c in city.communities}
    workers, units = set(), {}
    for grid in city.grids:
        n = number[street_of[grid.parent_code or ""] or ""]
        workers.add((grid.code, f"gridworker{n:02d}"))
        units[(grid.code, "department", "HWS")] = f"HWS{n:02d}"
    grids = demo_grids(city, workers, units)
    policy = case_policy(SETTINGS)
    return {
        "grids": grids,
        "components": demo_components(component_rows(city), grids),
        "roads": city.roads,
        "rules": read_rules_csv(demo_rules_csv()),
        "calendar": _calendar(),
        "policy": policy,
        "end": period_end(MONDAY, policy.zone),
        "days": 30,
    }


def _calendar() -> WorkingCalendar:
    return build_calendar(SETTINGS.timezone, SETTINGS.working_hours, None)


def _fingerprint(generated: list[Any]) -> list[Any]:
    return [
        (
            g.case.accepted_at,
            g.case.channel,
            g.case.matter_code,
            g.case.description,
            g.case.lon,
            g.case.lat,
            g.case.status,
            g.case.department_code,
            g.case.due_at,
            g.case.closed_on_time,
            [(e.command, e.at, e.actor, e.from_status, e.to_status, e.data) for e in g.history],
        )
        for g in generated
    ]


def test_the_same_seed_and_day_give_the_same_cases(city: DemoCity) -> None:
    inputs = _inputs(city)
    first = generate_cases(**inputs, count=300, seed=7)
    second = generate_cases(**inputs, count=300, seed=7)
    other = generate_cases(**inputs, count=300, seed=8)
    assert len(first) == 300
    assert _fingerprint(first) == _fingerprint(second)
    assert _fingerprint(first) != _fingerprint(other)
    end = inputs["end"]
    assert all(end - timedelta(days=31) < g.case.accepted_at < end for g in first)
    assert all(e.at < end for g in first for e in g.history)  # nothing after the load day starts
    accepted = [g.case.accepted_at for g in first]
    assert accepted == sorted(accepted)


def test_the_period_ends_at_the_start_of_the_local_load_day() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert period_end(MONDAY, shanghai) == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    late = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)  # 01:30 on Monday in Shanghai
    assert period_end(late, shanghai) == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def test_the_indexed_calendar_answers_like_the_plain_one() -> None:
    plain = _calendar()
    fast = indexed(plain, date(2025, 9, 1), date(2027, 1, 31))
    rng = random.Random(3)
    start_of = datetime(2025, 9, 25, tzinfo=UTC)
    for _ in range(3000):
        start = start_of + timedelta(seconds=rng.randrange(0, 470 * 86400))
        if rng.random() < 0.3:  # exactly on a working-period boundary
            start = start.replace(minute=rng.choice((0, 30)), second=0) - timedelta(hours=8)
        holds: list[tuple[datetime, datetime | None]] = []
        cursor = start
        for _ in range(rng.randrange(0, 3)):
            hold_start = cursor + timedelta(seconds=rng.randrange(0, 8 * 86400))
            cursor = hold_start + timedelta(seconds=rng.randrange(1, 15 * 86400))
            holds.append((hold_start, cursor))
        limit = timedelta(minutes=rng.choice((30, 60, 180, 210, 420, 2100))) * rng.choice((1, 1, 3))
        assert fast.add(start, limit, holds) == plain.add(start, limit, holds)
        end = start + timedelta(seconds=rng.randrange(-3600, 50 * 86400))
        assert fast.elapsed(start, end, holds) == plain.elapsed(start, end, holds)
    far = datetime(2028, 3, 1, 1, tzinfo=UTC)  # outside the index: the plain calendar answers
    assert fast.add(far, timedelta(hours=5)) == plain.add(far, timedelta(hours=5))


# -- the rules file -------------------------------------------------------------------------


def test_the_rules_file_covers_every_matter_class_with_a_department_and_limits() -> None:
    rules = read_rules_csv(demo_rules_csv())
    classes = matter_classes()
    assert sorted(r.matter_code for r in rules) == sorted(classes)
    departments = {code for code, _ in DEPARTMENTS}
    for rule in rules:
        assert rule.division_code == ""
        assert rule.department_code in departments, rule
        assert rule.filing_condition, rule
        assert rule.closing_condition, rule
        assert rule.limit_normal, rule
        assert rule.limit_urgent, rule
        normal = parse_limit(rule.limit_normal)
        urgent = parse_limit(rule.limit_urgent)
        assert urgent.unit == "hours", rule
        hours = normal.amount * (7 if normal.unit == "days" else 1)
        assert urgent.amount < hours, rule
    by_code = {r.matter_code: r for r in rules}
    assert by_code["06010"].limit_normal == "1 工作日"  # 暴露垃圾
    assert by_code["06012"].limit_normal == "5 工作时"  # 道路不洁
    assert by_code["06001"].limit_normal == "15 工作日"  # 私搭乱建
    assert by_code["01037"].department_code == "SZ"  # 路灯
    assert by_code["09009"].department_code == "JJ"  # 机动车乱停放


def test_rule_keywords_are_few_and_do_not_steal_other_classes_texts() -> None:
    rules: list[MatterRule] = [r for r in read_rules_csv(demo_rules_csv()) if r.keywords]
    assert 25 <= len(rules) <= 45
    words = [k for r in rules for k in r.keywords]
    assert len(words) == len(set(words))
    texts = corpus.generate(11, 40)
    for rule in rules:
        stolen = Counter(
            code
            for text, code in texts
            if code != rule.matter_code and any(k in text for k in rule.keywords)
        )
        assert not stolen, (rule.matter_code, rule.keywords, stolen.most_common(3))


# -- the loaded store -----------------------------------------------------------------------


def test_cases_reach_every_state_and_recent_ones_are_open(loaded: Loaded) -> None:
    reached = {e.to_status for history in loaded.histories.values() for e in history}
    assert reached == set(Status)
    now = Counter(case.status for case in loaded.cases)
    assert {Status.CLOSED, Status.EVALUATED, Status.REJECTED, Status.VOIDED} <= set(now)
    assert {Status.ACCEPTED, Status.HANDLED} <= set(now)
    assert now[Status.DISPATCHED] + now[Status.IN_PROGRESS] > 0
    end = period_end(MONDAY, loaded.services.case_policy.zone)
    recent = [c for c in loaded.cases if c.accepted_at > end - timedelta(days=10)]
    old = [c for c in loaded.cases if c.accepted_at < end - timedelta(days=40)]
    assert sum(c.status in OPEN for c in recent) > 0.1 * len(recent)
    assert old
    assert sum(c.status in OPEN - {Status.ON_HOLD} for c in old) <= 0.02 * len(old)
    weekend = [c for c in loaded.cases if c.accepted_at > end - timedelta(hours=54)]
    assert weekend
    assert all(c.status in (Status.ACCEPTED, Status.HANDLED) for c in weekend)


def test_side_flows_come_at_their_usual_rates(loaded: Loaded) -> None:
    cases = loaded.cases
    counts = {
        "reworks": sum(c.state.reworks > 0 for c in cases),
        "extensions": sum(c.state.extensions > 0 for c in cases),
        "holds": sum(c.state.holds > 0 for c in cases),
        "returns": sum(c.state.returns > 0 for c in cases),
        "urges": sum(c.state.urges > 0 for c in cases),
        "self_handled": sum(c.state.self_handled for c in cases),
    }
    assert all(count > 0 for count in counts.values()), counts
    assert counts["self_handled"] < 0.1 * len(cases)
    assert all(c.channel is Channel.PATROLLER for c in cases if c.state.self_handled)
    channels = Counter(c.channel for c in cases)
    assert channels[Channel.PATROLLER] > channels[Channel.HOTLINE] > channels[Channel.APP]
    urgent = sum(c.urgency.value == "urgent" for c in cases)
    assert 0.03 * len(cases) < urgent < 0.15 * len(cases)
    satisfaction = Counter(c.state.satisfaction for c in cases if c.state.satisfaction)
    assert satisfaction[4] + satisfaction[5] > 0.7 * sum(satisfaction.values())


def test_on_time_and_overdue_cases_exist(loaded: Loaded) -> None:
    closed = [c for c in loaded.cases if c.closed_at is not None and c.filed_at is not None]
    assert any(c.closed_on_time for c in closed)
    assert any(c.closed_on_time is False for c in closed)
    running = [c for c in loaded.cases if c.status in WITH_DEPARTMENT]
    assert any(c.due_at is not None and c.due_at <= MONDAY for c in running)  # red


def test_every_history_replays(loaded: Loaded) -> None:
    for case in loaded.cases:
        history = loaded.histories[case.id]
        first = history[0]
        assert first.command == "accept"
        assert first.from_status is None
        assert first.to_status is Status.ACCEPTED
        assert first.at == case.accepted_at
        for before, after in zip(history, history[1:], strict=False):
            assert after.from_status is before.to_status, (case.id, before, after)
            assert after.at >= before.at, (case.id, before, after)
        assert history[-1].to_status is case.status
        commands = Counter(e.command for e in history)
        assert commands["verify_fail"] == case.state.reworks
        assert commands["return"] == case.state.returns
        assert commands["hold"] == case.state.holds
        assert commands["urge"] == case.state.urges
        assert commands["approve_extension"] == case.state.extensions
        if case.dispatched_at is not None:
            dispatch = next(e for e in history if e.command == "dispatch")
            assert dispatch.at == case.dispatched_at
            assert dispatch.data["limit"]


def test_cases_lie_in_their_grids_and_are_routed_like_intake(loaded: Loaded) -> None:
    for case in loaded.cases[:60]:
        assert case.lon is not None
        assert case.lat is not None
        location = loaded.services.locations.locate(SYSTEM, case.lon, case.lat)
        assert location.grid_id == case.grid_code, case
        assert case.street_code
        assert (case.grid_code or "").startswith(case.street_code)
    sanitation = [c for c in loaded.cases if c.matter_code == "06010" and c.department_code]
    assert sanitation
    assert all(re.fullmatch(r"HWS\d\d", c.department_code or "") for c in sanitation)
    assert any(c.component_id for c in loaded.cases)
    workers = {c.grid_worker for c in loaded.cases}
    assert all(w and w.startswith("gridworker") for w in workers)


def test_citizens_leave_well_formed_fake_names_and_phones(loaded: Loaded) -> None:
    citizens = [c for c in loaded.cases if c.channel in (Channel.HOTLINE, Channel.APP)]
    assert citizens
    with loaded.services.store.unit_of_work(read_only=True) as uow:
        for case in citizens[:40]:
            reporters = uow.cases.reporters(case.id)
            assert [(r.name, r.phone) for r in reporters] == [
                (case.reporter_name, case.reporter_phone)
            ]
    for case in citizens:
        assert re.fullmatch(r"1[3-9]\d0000\d{4}", case.reporter_phone or ""), case.reporter_phone
        assert case.reporter_name


def test_department_kpis_are_sensible_and_the_slow_department_is_often_late(
    loaded: Loaded,
) -> None:
    # Self-handled cases are left out: the KPI counters count them as closed but not as
    # due to close (see the note in the report of this loader), which pushes rates over 1.
    kpis = loaded.services.case_lists.kpis(
        SYSTEM, group_by="department", case_filter=CaseFilter(channels=NOT_PATROLLER)
    )
    rates: dict[str, dict[str, float]] = {}
    for group in kpis["groups"]:
        for name, value in group["rates"].items():
            if value is not None and name.endswith("_rate"):
                assert 0.0 <= value <= 1.0, (group["group"], name, value)
        rates[group["group"]] = group["rates"]
    on_time = {
        base_department(code): r["on_time_closing_rate"]
        for code, r in rates.items()
        if r.get("on_time_closing_rate") is not None
    }
    assert on_time["ZJ"] < 0.8
    assert on_time["ZJ"] < on_time["CGJ"]


def test_closing_rates_stay_at_most_one_with_self_handled_cases(loaded: Loaded) -> None:
    kpis = loaded.services.case_lists.kpis(SYSTEM, group_by="all")
    for name in ("closing_rate", "on_time_closing_rate", "handling_rate"):
        value = kpis["groups"][0]["rates"][name]
        assert value is None or value <= 1.0, (name, value)


def test_one_audit_entry_and_a_second_load_changes_nothing(loaded: Loaded) -> None:
    services = loaded.services
    entries = services.audit.query(SYSTEM, AuditFilter(action="demo.cases_load"))
    assert len(entries) == 1
    assert entries[0].after is not None
    assert entries[0].after["cases"] == COUNT
    again = load_demo_cases(services, loaded.city, [], count=COUNT, days=DAYS)
    assert (again.cases, again.added) == (COUNT, 0)
    summary = load_demo(
        services, Path(services.settings.data_dir) / "credentials.txt", cases=5, sensor_days=1
    )
    assert (summary.rules, summary.cases, summary.cases_added) == (250, COUNT, 0)
    assert len(services.audit.query(SYSTEM, AuditFilter(action="demo.cases_load"))) == 1
    rule_changes = services.audit.query(SYSTEM, AuditFilter(action="cases.rule_set", limit=1000))
    assert len(rule_changes) == 250


def test_the_load_builds_the_kpi_day_cells_and_they_agree_with_the_cases(loaded: Loaded) -> None:
    zone = loaded.services.case_policy.zone
    with loaded.services.store.unit_of_work(read_only=True) as uow:
        cells = uow.kpi_cells.counters("street", None, None, zone, MONDAY)
        rows = uow.cases.kpi_counters(
            CaseFilter(), Visibility(everything=True), "street", MONDAY, zone
        )
    assert sum(c.accepted for c in cells) == COUNT - sum(1 for c in loaded.cases if c.merged_into)
    # Averages may differ in the last bit (PostgreSQL's numeric avg); everything else is exact.
    assert {c.group: _rounded(c) for c in cells} == {c.group: _rounded(c) for c in rows}


def _rounded(counters: Any) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(counters).items()}
