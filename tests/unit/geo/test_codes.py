"""Division codes: levels, the rules each check names, and the parent-prefix property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.geo.codes import Level, check_code, children_level, implied_parents, level_of
from cityops.kernel.errors import ValidationFailed

DIGIT = st.sampled_from("0123456789")
GRID_CHAR = st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(DIGIT, min_size=n, max_size=n)


def _rule(error: pytest.ExceptionInfo[ValidationFailed]) -> tuple[str, str]:
    issue = error.value.issues[0]
    return issue.field, issue.rule


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("310000", Level.PROVINCE),
        ("110000", Level.PROVINCE),
        ("310100", Level.CITY),
        ("441900", Level.CITY),  # 东莞: a city without districts
        ("310101", Level.DISTRICT),
        ("310115", Level.DISTRICT),
        ("429004", Level.DISTRICT),  # 仙桃: a county-level city directly under the province
        ("310101002", Level.STREET),
        ("310101002001", Level.COMMUNITY),
        ("310101002001001", Level.GRID),
        ("3101010020010A9", Level.GRID),
        ("310101002001ZZZ", Level.GRID),
    ],
)
def test_level_of_well_formed_codes(code: str, level: Level) -> None:
    assert level_of(code) is level
    assert check_code(code, level=level, parent_code=(implied_parents(code) or (None,))[0]) is level


def test_levels_are_ordered_from_the_top() -> None:
    assert [level.depth for level in Level] == [0, 1, 2, 3, 4, 5]
    assert children_level(Level.DISTRICT) is Level.STREET
    assert children_level(Level.COMMUNITY) is Level.GRID
    assert children_level(Level.GRID) is None


@pytest.mark.parametrize(
    ("code", "parents"),
    [
        ("310000", ()),
        ("310100", ("310000",)),
        ("310101", ("310100", "310000")),
        ("310101002", ("310101",)),
        ("310101002001", ("310101002",)),
        ("310101002001001", ("310101002001",)),
        ("31010100200100A", ("310101002001",)),
    ],
)
def test_implied_parents(code: str, parents: tuple[str, ...]) -> None:
    assert implied_parents(code) == parents


@pytest.mark.parametrize(
    "code",
    [
        "",
        "3",
        "31010",
        "3101011",
        "31010100",
        "3101010020",
        "31010100200",
        "3101010020010",
        "31010100200100",
        "3101010020010011",
    ],
)
def test_code_length(code: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        level_of(code)
    assert _rule(error) == ("code", "code_length")


@pytest.mark.parametrize(
    "code",
    [
        "31010A",  # a letter in a district code
        "３１０１０１",  # full-width digits
        "31010100X",
        "31010100200 ",
        "310101002001ab1",  # lower case in a grid id
        "31010100200A001",  # a letter inside the community part of a grid id
        "310101002001-01",
        "310101002001\u0661\u0662\u0663",  # Arabic-Indic digits
    ],
)
def test_code_charset(code: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        level_of(code, field="grid_code")
    assert _rule(error) == ("grid_code", "code_charset")


def test_code_level() -> None:
    with pytest.raises(ValidationFailed) as error:
        check_code("310101002", level=Level.GRID, parent_code="310101")
    assert _rule(error) == ("code", "code_level")
    assert "street" in error.value.issues[0].message


@pytest.mark.parametrize("code", ["310101002", "310101002001", "310101002001001"])
def test_parent_required_below_districts(code: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        check_code(code)
    assert _rule(error) == ("parent_code", "parent_required")


@pytest.mark.parametrize("code", ["310000", "310100", "310101"])
def test_top_levels_need_no_parent(code: str) -> None:
    assert check_code(code) is level_of(code)


@pytest.mark.parametrize(
    ("code", "parent"),
    [
        ("310101002", "310102"),
        ("310101002001", "310101003"),
        ("310101002001001", "310101002002"),
        ("310101", "320100"),
        ("310100", "320000"),
        ("310000", "310000"),  # a province has no parent at all
    ],
)
def test_parent_prefix(code: str, parent: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        check_code(code, parent_code=parent)
    assert _rule(error) == ("parent_code", "parent_prefix")


# -- properties ---------------------------------------------------------------------------------


@st.composite
def parent_and_child(draw: st.DrawFn) -> tuple[str, str]:
    """A parent code of any level above a grid, and a child built as parent + suffix."""
    kind = draw(
        st.sampled_from(
            [
                "province>city",
                "province>district",
                "city>district",
                "district>street",
                "street>community",
                "community>grid",
            ]
        )
    )
    two = draw(digits(2))
    pair = draw(digits(2).filter(lambda s: s != "00"))
    if kind == "province>city":
        return two + "0000", two + pair + "00"
    if kind == "province>district":
        return two + "0000", two + draw(digits(2)) + pair
    if kind == "city>district":
        city = two + pair + "00"
        return city, city[:4] + draw(digits(2).filter(lambda s: s != "00"))
    if kind == "district>street":
        district = two + draw(digits(2)) + pair
        return district, district + draw(digits(3))
    if kind == "street>community":
        street = draw(digits(9))
        return street, street + draw(digits(3))
    community = draw(digits(12))
    return community, community + draw(st.text(GRID_CHAR, min_size=3, max_size=3))


@given(parent_and_child())
def test_a_child_built_from_its_parent_validates(pair: tuple[str, str]) -> None:
    parent, child = pair
    level = check_code(child, parent_code=parent)
    assert level is level_of(child)
    assert level.depth > level_of(parent).depth
    assert parent in implied_parents(child)
    assert child.startswith(parent[: {6: 2, 9: 6, 12: 9, 15: 12}.get(len(child), 4)])


@given(parent_and_child(), st.text(max_size=20))
def test_any_other_parent_is_refused(pair: tuple[str, str], other: str) -> None:
    _parent, child = pair
    if other in implied_parents(child):
        other = other + "0"
    with pytest.raises(ValidationFailed) as error:
        check_code(child, parent_code=other)
    assert _rule(error) == ("parent_code", "parent_prefix")


@given(parent_and_child(), parent_and_child())
def test_a_child_of_another_parent_is_refused(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    parent, _ = first
    _, child = second
    if parent in implied_parents(child):
        return
    with pytest.raises(ValidationFailed) as error:
        check_code(child, parent_code=parent)
    assert _rule(error) == ("parent_code", "parent_prefix")


@given(
    st.text(max_size=20) | st.text(GRID_CHAR, min_size=15, max_size=15) | digits(12),
    st.none() | st.text(max_size=16),
    st.none() | st.sampled_from(list(Level)),
)
def test_arbitrary_text_only_ever_fails_validation(
    code: str, parent: str | None, level: Level | None
) -> None:
    rules = []
    for attempt in (
        lambda: level_of(code),
        lambda: implied_parents(code),
        lambda: check_code(code, level=level, parent_code=parent),
    ):
        try:
            attempt()
        except ValidationFailed as error:
            rules.append(error.issues[0].rule)
    assert set(rules) <= {
        "code_length",
        "code_charset",
        "code_level",
        "parent_required",
        "parent_prefix",
    }
