"""KPI day cells answer exactly what the raw KPI query answers, on SQLite and PostgreSQL.

Random cases (random on purpose: any combination of fields, not only those the workflow makes)
are written straight into the cases table around local midnights; then every grouping the cells
keep is compared with the raw aggregate over the cases, before and after changes are folded in.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, update

from cityops.cases.queries import CELL_GROUPS, CaseFilter, CellQuery, Visibility, cell_query
from cityops.cases.workflow import Status
from cityops.storage import Store
from cityops.storage.repositories.case_kpi_cells import CELL_DIMENSIONS, COMMIT_MARGIN
from cityops.storage.schema import case_kpi_cells, case_kpi_state, cases

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Local midnight of 2026-10-01 in Shanghai; cases fall on the four days around it.
MIDNIGHT = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
NOW = MIDNIGHT + timedelta(days=3)
EVERYTHING = Visibility(everything=True)


@pytest.fixture
def store(database_url, clock):
    built = Store(database_url, clock=clock)
    yield built
    built.dispose()


def _place(code: str | None) -> dict[str, str | None]:
    """The division codes of a place known down to ``code`` (consistent, as intake writes)."""
    levels = ("district_code", "street_code", "community_code", "grid_code")
    widths = (6, 9, 12, 15)
    return {
        level: code[:width] if code and len(code) >= width else None
        for level, width in zip(levels, widths, strict=True)
    }


PLACES = [
    _place(code)
    for code in (
        None,
        "310101",
        "310101001",
        "310101002",
        "310101001001",
        "310101002001",
        "310101001001001",
        "310101001001002",
        "310101002001001",
    )
]
DIVISIONS = ("310101", "310101001", "310101002", "310101001001", "310101002001")


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


_instants = st.integers(-2 * 86_400, 2 * 86_400 - 1).map(lambda s: MIDNIGHT + timedelta(seconds=s))
_seconds = _maybe(st.integers(0, 400_000))


@st.composite
def case_rows(draw: st.DrawFn) -> dict[str, Any]:
    accepted = draw(_instants)
    return {
        "channel": draw(st.sampled_from(["hotline", "app", "patroller"])),
        "urgency": "normal",
        "description": "x",
        "status": draw(st.sampled_from(list(Status))).value,
        "extension_pending": False,
        "reworks": draw(st.integers(0, 2)),
        "returns": draw(st.integers(0, 1)),
        "urges": 0,
        "extensions": draw(st.integers(0, 1)),
        "holds": draw(st.integers(0, 1)),
        "self_handled": draw(st.booleans()),
        "satisfaction": draw(_maybe(st.integers(1, 5))),
        "suggestions": {},
        "department_code": draw(_maybe(st.sampled_from(["SZ", "HW", "CG"]))),
        **draw(st.sampled_from(PLACES)),
        "merged_into": draw(st.sampled_from([None, None, None, 1])),
        "accepted_by": "clerk",
        "accepted_at": accepted,
        "filed_at": draw(_maybe(st.just(accepted))),
        "dispatched_at": draw(_maybe(st.just(accepted))),
        "handled_at": draw(_maybe(st.just(accepted))),
        "closed_at": draw(_maybe(st.just(accepted))),
        "pauses": [],
        "due_at": draw(_maybe(_instants.map(lambda at: at + timedelta(days=1)))),
        "escalation": 0,
        "handled_on_time": draw(_maybe(st.booleans())),
        "closed_on_time": draw(_maybe(st.booleans())),
        "seconds_to_dispatch": draw(_seconds),
        "seconds_to_handle": draw(_seconds),
        "seconds_to_close": draw(_seconds),
        "updated_at": NOW - timedelta(hours=1),
    }


def _row(**values: Any) -> dict[str, Any]:
    base = {
        "channel": "app",
        "urgency": "normal",
        "description": "x",
        "status": Status.CLOSED.value,
        "extension_pending": False,
        "reworks": 0,
        "returns": 0,
        "urges": 0,
        "extensions": 0,
        "holds": 0,
        "self_handled": False,
        "suggestions": {},
        "accepted_by": "clerk",
        "pauses": [],
        "escalation": 0,
        "seconds_to_close": 3_600,
    }
    return base | values


def _periods() -> list[tuple[datetime | None, datetime | None]]:
    day = timedelta(days=1)
    return [
        (None, None),
        (MIDNIGHT, None),
        (None, MIDNIGHT),
        (MIDNIGHT - day, MIDNIGHT + day),
    ]


def _as_dicts(found: list[Any]) -> dict[str, dict[str, Any]]:
    return {counters.group: asdict(counters) for counters in found}


def _assert_same(cells: list[Any], raw: list[Any], context: str) -> None:
    by_cells, by_raw = _as_dicts(cells), _as_dicts(raw)
    assert by_cells.keys() == by_raw.keys(), context
    for group, expected in by_raw.items():
        got = by_cells[group]
        for name, value in expected.items():
            if name.startswith("avg_") and value is not None:
                assert math.isclose(got[name], value, rel_tol=1e-12), (context, group, name)
            else:
                assert got[name] == value, (context, group, name)


def _from_cells(uow: Any, query: CellQuery, zone: ZoneInfo) -> list[Any]:
    """Read the cells as listing.kpis does (one division's own group, renamed "all")."""
    found = uow.kpi_cells.counters(query.group_by, query.first_day, query.end_day, zone, NOW)
    if query.only is None:
        return found
    return [replace(c, group="all") for c in found if c.group == query.only]


def _compare_all(store: Store, zone: ZoneInfo) -> None:
    filters = [(group_by, None) for group_by in sorted(CELL_GROUPS)]
    filters += [("all", division) for division in DIVISIONS]
    with store.unit_of_work(read_only=True) as uow:
        for group_by, division in filters:
            for start, end in _periods():
                case_filter = CaseFilter(
                    accepted_from=start, accepted_to=end, division_code=division
                )
                query = cell_query(case_filter, EVERYTHING, group_by, zone)
                if query is None:  # a period not on this zone's midnights
                    continue
                cells = _from_cells(uow, query, zone)
                raw = uow.cases.kpi_counters(case_filter, EVERYTHING, group_by, NOW, zone)
                _assert_same(cells, raw, f"{group_by} {division} {start} {end} {zone.key}")


def _fold(store: Store, zone: ZoneInfo, now: datetime = NOW) -> int:
    with store.unit_of_work() as uow:
        days = uow.kpi_cells.fold(zone, now)
        uow.commit()
    return days


def _reset(store: Store) -> None:
    with store.unit_of_work() as uow:
        for table in (case_kpi_cells, case_kpi_state, cases):
            uow.connection.execute(delete(table))
        uow.commit()


def test_the_cells_keep_every_grouping_but_month_which_they_read_from_all() -> None:
    assert (CELL_GROUPS - {"month"}) == CELL_DIMENSIONS


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(case_rows(), min_size=0, max_size=40),
    changes=st.lists(case_rows(), min_size=1, max_size=6),
)
def test_cells_equal_the_raw_query_before_and_after_changes(store, rows, changes) -> None:
    _reset(store)
    if rows:
        with store.unit_of_work() as uow:
            uow.connection.execute(insert(cases), rows)
            uow.commit()
    _fold(store, SHANGHAI)
    _compare_all(store, SHANGHAI)

    # Changes after the fold: new cases and rewritten ones, stamped later; then fold again.
    later = NOW + timedelta(minutes=30)
    with store.unit_of_work() as uow:
        for n, row in enumerate(changes):
            changed = dict(row, updated_at=later)
            if n % 2 and rows:
                # A case's acceptance never changes; everything else may.
                del changed["accepted_at"]
                uow.connection.execute(update(cases).where(cases.c.id == n).values(**changed))
            else:
                uow.connection.execute(insert(cases), [changed])
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.kpi_cells.stale(SHANGHAI)
    _fold(store, SHANGHAI, later)
    _compare_all(store, SHANGHAI)

    # Cut in another zone, the same cases fall on other days: the cells are rebuilt.
    _fold(store, ZoneInfo("UTC"), later)
    _compare_all(store, ZoneInfo("UTC"))


def test_a_change_stamped_before_the_last_fold_but_within_the_margin_is_folded(store) -> None:
    _reset(store)
    _fold(store, SHANGHAI, NOW)
    # A transaction that stamped its case a minute before the fold but committed after it.
    late = _row(accepted_at=MIDNIGHT, updated_at=NOW - timedelta(minutes=1))
    with store.unit_of_work() as uow:
        uow.connection.execute(insert(cases), [late])
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.kpi_cells.stale(SHANGHAI)
    assert _fold(store, SHANGHAI, NOW) == 1
    with store.unit_of_work(read_only=True) as uow:
        assert [c.accepted for c in uow.kpi_cells.counters("all", None, None, SHANGHAI, NOW)] == [1]
        # Still within the margin of the last fold: the next one looks at it again.
        assert late["updated_at"] > NOW - COMMIT_MARGIN
        assert uow.kpi_cells.stale(SHANGHAI)


def test_a_fold_with_nothing_changed_recomputes_no_day(store) -> None:
    _reset(store)
    row = _row(accepted_at=MIDNIGHT, updated_at=NOW - timedelta(hours=1))
    with store.unit_of_work() as uow:
        uow.connection.execute(insert(cases), [row])
        uow.commit()
    assert _fold(store, SHANGHAI, NOW) == 1  # the first fold builds every day
    with store.unit_of_work(read_only=True) as uow:
        assert not uow.kpi_cells.stale(SHANGHAI)
    assert _fold(store, SHANGHAI, NOW) == 0
    with store.unit_of_work(read_only=True) as uow:
        assert uow.kpi_cells.stale(ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (None, None)),
        (MIDNIGHT, MIDNIGHT + timedelta(days=2), (date(2026, 10, 1), date(2026, 10, 3))),
        (MIDNIGHT + timedelta(hours=1), None, None),  # not a local midnight
        (datetime(2026, 10, 1, tzinfo=UTC), None, None),  # UTC midnight, 08:00 in Shanghai
    ],
)
def test_cells_answer_only_whole_local_days(start, end, expected) -> None:
    query = cell_query(
        CaseFilter(accepted_from=start, accepted_to=end), EVERYTHING, "street", SHANGHAI
    )
    assert (query and (query.first_day, query.end_day)) == expected


def test_cells_answer_one_district_street_or_community_of_the_all_grouping() -> None:
    for code, level in (
        ("310101", "district"),
        ("310101001", "street"),
        ("310101001001", "community"),
    ):
        query = cell_query(CaseFilter(division_code=code), EVERYTHING, "all", SHANGHAI)
        assert query == CellQuery(level, None, None, only=code)
    grid = CaseFilter(division_code="310101001001001")
    assert cell_query(grid, EVERYTHING, "all", SHANGHAI) is None
    street = CaseFilter(division_code="310101001")
    assert cell_query(street, EVERYTHING, "department", SHANGHAI) is None


def test_cells_do_not_answer_scoped_readers_other_filters_or_other_groupings() -> None:
    period = CaseFilter(accepted_from=MIDNIGHT)
    assert cell_query(period, Visibility(department_codes=("SZ",)), "street", SHANGHAI) is None
    assert cell_query(CaseFilter(channels=("app",)), EVERYTHING, "street", SHANGHAI) is None
    assert cell_query(period, EVERYTHING, "grid", SHANGHAI) is None
    assert cell_query(period, EVERYTHING, "month", SHANGHAI) == CellQuery(
        "month", date(2026, 10, 1), None
    )
