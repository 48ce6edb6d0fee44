"""One component row (GB/T 47678.5 表2 attributes + a point): checked, never raising."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.catalog.components import (
    DATA_SOURCES,
    LIMITS,
    STATUSES,
    Component,
    RowIssue,
    component_from_row,
)

ID = "41017101037000001"  # 410171 + 01037 (路灯) + 000001


def good_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": ID,
        "name": "路灯",
        "department_code": "SZ",
        "department_name": "市政设施管理处",
        "owner_code": "QS01",
        "owner_name": "高新区城市管理局",
        "maintainer_code": "YH01",
        "maintainer_name": "郑州市政养护公司",
        "status": "完好",
        "initial_date": "20190301",
        "change_date": "2026-06-30",
        "data_source": "实测",
        "note": "东侧人行道",
        "lon": "113.5501",
        "lat": "34.8102",
    }
    row.update(changes)
    return row


def rules(issues: list[RowIssue]) -> list[tuple[str, str]]:
    return [(i.field, i.rule) for i in issues]


def refused(row: dict[str, Any], index: int = 7) -> list[tuple[str, str]]:
    component, issues = component_from_row(row, index)
    assert component is None
    assert issues
    assert all(i.row == index for i in issues)
    assert all(i.message for i in issues)
    return rules(issues)


# -- a good row ---------------------------------------------------------------------------------


def test_a_good_row_carries_every_table_2_attribute() -> None:
    component, issues = component_from_row(good_row(), 1)
    assert issues == []
    assert component == Component(
        id=ID,
        class_code="01037",
        name="路灯",
        department_code="SZ",
        department_name="市政设施管理处",
        status="完好",
        initial_date=date(2019, 3, 1),
        lon=113.5501,
        lat=34.8102,
        owner_code="QS01",
        owner_name="高新区城市管理局",
        maintainer_code="YH01",
        maintainer_name="郑州市政养护公司",
        change_date=date(2026, 6, 30),
        data_source="实测",
        note="东侧人行道",
    )
    assert component.division_code == "410171"
    data = component.as_json()
    assert data["initial_date"] == "2019-03-01"
    assert data["change_date"] == "2026-06-30"
    assert data["division_code"] == "410171"
    assert data["grid_code"] is None


def test_optional_attributes_may_be_missing_or_blank() -> None:
    row = good_row(owner_code="", owner_name="  ", change_date=None, data_source="", note=None)
    del row["maintainer_code"]
    del row["maintainer_name"]
    component, issues = component_from_row(row, 1)
    assert issues == []
    assert component is not None
    assert component.owner_code is None
    assert component.owner_name is None
    assert component.maintainer_code is None
    assert component.change_date is None
    assert component.data_source is None
    assert component.note is None


def test_values_are_trimmed_and_numbers_accepted() -> None:
    component, issues = component_from_row(
        good_row(
            id=f" {ID} ",
            name=" 路灯 ",
            status="破损 ",
            lon=113.55,
            lat=34,
            initial_date=" 2019-03-01 ",
        ),
        1,
    )
    assert issues == []
    assert component is not None
    assert (component.id, component.name, component.status) == (ID, "路灯", "破损")
    assert (component.lon, component.lat) == (113.55, 34.0)
    assert component.initial_date == date(2019, 3, 1)


@pytest.mark.parametrize("status", STATUSES)
def test_every_standard_status_is_accepted(status: str) -> None:
    component, issues = component_from_row(good_row(status=status), 1)
    assert issues == []
    assert component is not None
    assert component.status == status


@pytest.mark.parametrize("source", DATA_SOURCES)
def test_every_standard_data_source_is_accepted(source: str) -> None:
    component, issues = component_from_row(good_row(data_source=source), 1)
    assert issues == []
    assert component is not None
    assert component.data_source == source


# -- the rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "])
def test_the_id_is_required(value: Any) -> None:
    component, issues = component_from_row(good_row(id=value), 3)
    assert component is None
    assert rules(issues) == [("id", "required")]
    assert issues[0].row == 3
    assert issues[0].id is None
    assert str(issues[0]).startswith("row 3: id:")


def test_a_row_without_an_id_key_is_refused() -> None:
    row = good_row()
    del row["id"]
    assert refused(row) == [("id", "required")]


@pytest.mark.parametrize(
    "value",
    [
        "4101710103700001",  # 16 digits
        "410171010370000011",  # 18 digits
        "41017101037A00001",
        "４１０１７１０１０３７０００００１",  # full-width digits
        "410171-01037-000001",
    ],
)
def test_the_id_is_17_ascii_digits(value: str) -> None:
    component, issues = component_from_row(good_row(id=value), 2)
    assert component is None
    assert rules(issues) == [("id", "component_id_format")]
    assert issues[0].id == value
    assert str(issues[0]).startswith(f"row 2 ({value}): id:")


@pytest.mark.parametrize("class_code", ["09999", "01016", "00000"])
def test_the_class_in_the_id_must_exist(class_code: str) -> None:
    assert refused(good_row(id=f"410171{class_code}000001")) == [("id", "component_class_known")]


@pytest.mark.parametrize(
    "key", ["name", "department_code", "department_name", "status", "initial_date"]
)
@pytest.mark.parametrize("value", [None, "", "  ", "missing"])
def test_mandatory_fields(key: str, value: str | None) -> None:
    row = good_row()
    if value == "missing":
        del row[key]
    else:
        row[key] = value
    assert refused(row) == [(key, "required")]


@pytest.mark.parametrize(("key", "limit"), sorted(LIMITS.items()))
def test_text_limits_of_table_2(key: str, limit: int) -> None:
    # data_source is also a closed list; its limit is checked first, the list second.
    at_limit = "量" * limit
    over = "量" * (limit + 1)
    if key != "data_source":
        component, issues = component_from_row(good_row(**{key: at_limit}), 1)
        assert issues == []
        assert component is not None
        assert getattr(component, key) == at_limit
    found = refused(good_row(**{key: over}))
    assert (key, "max_length") in found


def test_table_2_limits_are_the_standard_ones() -> None:
    assert LIMITS == {
        "name": 30,
        "department_code": 18,
        "department_name": 100,
        "owner_code": 18,
        "owner_name": 100,
        "maintainer_code": 18,
        "maintainer_name": 100,
        "data_source": 30,
        "note": 1000,
    }


@pytest.mark.parametrize("status", ["正常", "好", "完好的", "intact"])
def test_status_is_one_of_the_standard_values(status: str) -> None:
    assert refused(good_row(status=status)) == [("status", "one_of")]


@pytest.mark.parametrize("source", ["测量", "遥感", "other"])
def test_data_source_is_one_of_the_standard_values(source: str) -> None:
    assert refused(good_row(data_source=source)) == [("data_source", "one_of")]


@pytest.mark.parametrize("value", ["2019/03/01", "20190230", "2019-3-1x", "01-03-2019", "昨天"])
@pytest.mark.parametrize("key", ["initial_date", "change_date"])
def test_dates_are_yyyymmdd_or_iso(key: str, value: str) -> None:
    assert refused(good_row(**{key: value})) == [(key, "date_format")]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("lon", "180.5"),
        ("lon", "-181"),
        ("lat", "90.01"),
        ("lat", -91),
        ("lon", "东经113"),
        ("lat", ""),
        ("lon", None),
        ("lat", "nan"),
        ("lon", "inf"),
        ("lat", float("nan")),
    ],
)
def test_coordinates_are_numbers_in_range(key: str, value: Any) -> None:
    assert refused(good_row(**{key: value})) == [(key, "range")]


def test_a_row_without_coordinates_names_both() -> None:
    row = good_row()
    del row["lon"]
    del row["lat"]
    assert refused(row) == [("lon", "range"), ("lat", "range")]


def test_every_problem_of_a_row_is_listed() -> None:
    row = good_row(name="", status="坏了", data_source="卫星", initial_date="2019.03.01", lat="95")
    found = refused(row, index=12)
    assert set(found) == {
        ("name", "required"),
        ("status", "one_of"),
        ("data_source", "one_of"),
        ("initial_date", "date_format"),
        ("lat", "range"),
    }
    _component, issues = component_from_row(row, 12)
    assert all(i.id == ID for i in issues)
    assert all(str(i).startswith(f"row 12 ({ID}): ") for i in issues)
    assert all("(rule: " in str(i) for i in issues)


# -- never raises -------------------------------------------------------------------------------

KEYS = (
    "id",
    "name",
    "department_code",
    "department_name",
    "owner_code",
    "owner_name",
    "maintainer_code",
    "maintainer_name",
    "status",
    "initial_date",
    "change_date",
    "data_source",
    "note",
    "lon",
    "lat",
    "grid_code",
)
VALUES = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.dates().map(str),
    st.sampled_from([ID, "41017101002000009", *STATUSES, *DATA_SOURCES, "20200101", "113.5"]),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(
    row=st.one_of(
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), VALUES, max_size=20),
        st.fixed_dictionaries({k: VALUES for k in KEYS}),
        st.builds(
            lambda changes: good_row(**changes), st.dictionaries(st.sampled_from(KEYS), VALUES)
        ),
    ),
    index=st.integers(min_value=1, max_value=10**6),
)
def test_arbitrary_rows_never_raise(row: dict[str, Any], index: int) -> None:
    component, issues = component_from_row(row, index)
    if component is None:
        assert issues
        assert all(isinstance(i, RowIssue) and i.row == index for i in issues)
        assert all(i.field and i.rule and i.message for i in issues)
    else:
        assert issues == []
        assert len(component.id) == 17
        assert component.id.isascii()
        assert component.id.isdigit()
        assert component.status in STATUSES
        assert component.data_source in (None, *DATA_SOURCES)
        assert -180 <= component.lon <= 180
        assert -90 <= component.lat <= 90
        for key, limit in LIMITS.items():
            value = getattr(component, key)
            assert value is None or len(value) <= limit
