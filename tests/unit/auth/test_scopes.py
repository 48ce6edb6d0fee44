"""Unit tests of scopes: parsing, division prefixes and what a scope covers."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.auth.scopes import (
    ResourceScope,
    Scope,
    division_prefix,
    is_department_code,
    parse_scope,
)
from cityops.kernel.errors import ValidationFailed

ASCII_DIGITS = string.digits
GRID_ALPHABET = string.digits + string.ascii_uppercase
DEPARTMENT_FIRST = string.ascii_letters + string.digits
DEPARTMENT_REST = DEPARTMENT_FIRST + "_-"
SCOPE_RULES = {"scope_format", "division_code", "department_code"}

division_codes = st.one_of(
    st.text(ASCII_DIGITS, min_size=6, max_size=6),
    st.text(ASCII_DIGITS, min_size=9, max_size=9),
    st.text(ASCII_DIGITS, min_size=12, max_size=12),
    st.text(GRID_ALPHABET, min_size=15, max_size=15),
)
department_codes = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(DEPARTMENT_FIRST),
    st.text(DEPARTMENT_REST, max_size=31),
)
valid_scope_texts = st.one_of(
    st.just("city"),
    division_codes.map("division:{}".format),
    department_codes.map("department:{}".format),
)


def rule_of(error: ValidationFailed) -> str:
    return error.issues[0].rule


# --- parse_scope: valid input ---------------------------------------------------------------


def test_city_parses_to_the_city_scope() -> None:
    scope = parse_scope("city")
    assert scope == Scope.city()
    assert scope.kind == "city"
    assert scope.code == ""
    assert str(scope) == "city"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("division:320000", "320000"),  # province
        ("division:320100", "320100"),  # city
        ("division:320102", "320102"),  # district
        ("division:320102001", "320102001"),  # street
        ("division:320102001001", "320102001001"),  # community
        ("division:320102001001G01", "320102001001G01"),  # 15-character grid id
        ("division:ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNO"),
    ],
)
def test_division_scopes_parse(text: str, code: str) -> None:
    scope = parse_scope(text)
    assert scope == Scope("division", code)
    assert str(scope) == text


@pytest.mark.parametrize(
    "code", ["cg", "A", "9", "city-mgmt_01", "a" * 32, "Z-", "x_"], ids=lambda c: c[:12]
)
def test_department_scopes_parse(code: str) -> None:
    scope = parse_scope(f"department:{code}")
    assert scope == Scope("department", code)
    assert str(scope) == f"department:{code}"
    assert is_department_code(code)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  city  ", Scope.city()),
        ("city\n", Scope.city()),
        ("\tdivision:320100 ", Scope("division", "320100")),
        (" department:cg\r\n", Scope("department", "cg")),
    ],
)
def test_surrounding_whitespace_is_ignored(text: str, expected: Scope) -> None:
    assert parse_scope(text) == expected


@given(valid_scope_texts)
def test_valid_scopes_round_trip(text: str) -> None:
    scope = parse_scope(text)
    assert str(scope) == text
    assert parse_scope(str(scope)) == scope


@given(division_codes)
def test_every_well_formed_division_code_is_accepted(code: str) -> None:
    scope = parse_scope(f"division:{code}")
    assert scope.kind == "division"
    assert scope.code == code


@given(department_codes)
def test_every_well_formed_department_code_is_accepted(code: str) -> None:
    scope = parse_scope(f"department:{code}")
    assert scope.kind == "department"
    assert scope.code == code


# --- parse_scope: invalid input -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "scope_format"),
        ("   ", "scope_format"),
        ("City", "scope_format"),
        ("CITY", "scope_format"),
        ("cities", "scope_format"),
        ("city:", "scope_format"),
        ("city:320100", "scope_format"),
        ("division", "scope_format"),
        ("department", "scope_format"),
        ("Division:320100", "scope_format"),
        ("town:320100", "scope_format"),
        ("division=320100", "scope_format"),
        (":320100", "scope_format"),
        ("division:", "division_code"),
        ("division:32010", "division_code"),
        ("division:3201000", "division_code"),
        ("division:3201020010", "division_code"),
        ("division:32010200100", "division_code"),
        ("division:3201020010010", "division_code"),
        ("division:320102001001g01", "division_code"),
        ("division:320102001001G0", "division_code"),
        ("division:320102001001G012", "division_code"),
        ("division: 320100", "division_code"),
        ("division:320 100", "division_code"),
        ("division:32010a", "division_code"),
        ("division:320100:1", "division_code"),
        ("division:320100\n1", "division_code"),
        ("department:", "department_code"),
        ("department:-cg", "department_code"),
        ("department:_cg", "department_code"),
        ("department:" + "a" * 33, "department_code"),
        ("department:城管", "department_code"),
        ("department:cg/east", "department_code"),
        ("department:cg east", "department_code"),
        ("department:cg.east", "department_code"),
        ("department:cg:east", "department_code"),
        ("department: cg", "department_code"),
    ],
)
def test_invalid_scopes_name_the_field_and_rule(text: str, rule: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_scope(text)
    issue = caught.value.issues[0]
    assert issue.field == "scope"
    assert issue.rule == rule
    assert issue.message
    assert "scope" in str(caught.value)
    assert rule in str(caught.value)


def test_the_field_name_is_the_callers() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_scope("nowhere", field="grants[2].scope")
    assert caught.value.issues[0].field == "grants[2].scope"
    assert caught.value.issues[0].rule == "scope_format"


@pytest.mark.parametrize(
    "code",
    [
        "３２０１００",  # full-width digits, as typed with a Chinese input method
        "٣٢٠١٠٠",  # Arabic-Indic digits
        "३२०१००",  # Devanagari digits
        "３２０１０２００１",
    ],
    ids=["fullwidth-6", "arabic-indic-6", "devanagari-6", "fullwidth-9"],
)
def test_division_codes_are_ascii_digits_only(code: str) -> None:
    """GB/T 2260 codes are ASCII digits; other Unicode decimal digits must be refused."""
    with pytest.raises(ValidationFailed) as caught:
        parse_scope(f"division:{code}")
    assert rule_of(caught.value) == "division_code"


@given(
    st.sampled_from([6, 9, 12]).flatmap(
        lambda n: st.text(st.characters(categories=["Nd"]), min_size=n, max_size=n)
    )
)
def test_non_ascii_decimal_digits_never_make_a_division_code(code: str) -> None:
    if code.isascii():
        assert parse_scope(f"division:{code}").code == code
    else:
        with pytest.raises(ValidationFailed):
            parse_scope(f"division:{code}")


def _check_parse_outcome(text: str, field: str = "scope") -> None:
    try:
        scope = parse_scope(text, field=field)
    except ValidationFailed as error:
        issue = error.issues[0]
        assert issue.field == field
        assert issue.rule in SCOPE_RULES
        return
    assert scope.kind in {"city", "division", "department"}
    assert str(scope) == text.strip()
    assert parse_scope(str(scope)) == scope
    if scope.kind == "department":
        assert is_department_code(scope.code)


@given(st.text())
def test_arbitrary_text_parses_or_raises_validation_failed(text: str) -> None:
    _check_parse_outcome(text)


@given(st.sampled_from(["division:", "department:", "city", " division:", "x:"]), st.text())
def test_arbitrary_codes_parse_or_raise_validation_failed(prefix: str, rest: str) -> None:
    _check_parse_outcome(prefix + rest, field="where")


@given(st.text())
def test_is_department_code_agrees_with_parse_scope(code: str) -> None:
    text = f"department:{code}"
    if is_department_code(code) and code == code.strip():
        assert parse_scope(text) == Scope("department", code)
    elif not is_department_code(code.strip()):
        with pytest.raises(ValidationFailed):
            parse_scope(text)


# --- division_prefix --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("320000", "32"),
        ("110000", "11"),
        ("320100", "3201"),
        ("110100", "1101"),
        ("321000", "3210"),  # Yangzhou: one padding pair, not two
        ("320010", "320010"),
        ("300000", "30"),
        ("320102", "320102"),
        ("320102001", "320102001"),
        ("320102001000", "320102001000"),
        ("320100000", "320100000"),
        ("320102001001", "320102001001"),
        ("320102001001G01", "320102001001G01"),
        ("3200000000000A0", "3200000000000A0"),
    ],
)
def test_division_prefix(code: str, prefix: str) -> None:
    assert division_prefix(code) == prefix


@given(division_codes)
def test_division_prefix_is_a_prefix_and_only_drops_padding(code: str) -> None:
    prefix = division_prefix(code)
    assert code.startswith(prefix)
    assert set(code[len(prefix) :]) <= {"0"}
    if len(code) != 6:
        assert prefix == code
    else:
        assert len(prefix) in (2, 4, 6)


# --- Scope.covers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        None,
        ResourceScope(),
        ResourceScope(division_code="320102001"),
        ResourceScope(division_code="110000"),
        ResourceScope(department_codes=("cg",)),
        ResourceScope(division_code="320102", department_codes=("hw", "root")),
    ],
)
def test_city_covers_everything(resource: ResourceScope | None) -> None:
    assert Scope.city().covers(resource)


@given(st.one_of(st.none(), division_codes), st.lists(department_codes, max_size=3))
def test_city_covers_any_resource(division: str | None, departments: list[str]) -> None:
    assert Scope.city().covers(ResourceScope(division, tuple(departments)))


@pytest.mark.parametrize(
    ("scope_code", "resource_code", "covered"),
    [
        # province 320000 covers all of Jiangsu, nothing of Zhejiang
        ("320000", "320000", True),
        ("320000", "320100", True),
        ("320000", "320102001001", True),
        ("320000", "330100", False),
        ("320000", "310000", False),
        # city 320100 (Nanjing) covers its districts, streets and grids
        ("320100", "320100", True),
        ("320100", "320102", True),
        ("320100", "320102001", True),
        ("320100", "320102001001", True),
        ("320100", "320102001001G01", True),
        ("320100", "320200", False),  # sibling city
        ("320100", "320000", False),  # its own province is wider
        ("320100", "320201001", False),
        # city 321000 (Yangzhou) is not Jiangsu as a whole
        ("321000", "321002", True),
        ("321000", "320102", False),
        # district 320102 covers its streets, not sibling districts
        ("320102", "320102", True),
        ("320102", "320102001", True),
        ("320102", "320102001001", True),
        ("320102", "320103", False),
        ("320102", "320101", False),
        ("320102", "320103001", False),
        ("320102", "320100", False),
        # street 320102001
        ("320102001", "320102001", True),
        ("320102001", "320102001001", True),
        ("320102001", "320102002001", False),
        ("320102001", "320102", False),
        # grid id covers only itself
        ("320102001001G01", "320102001001G01", True),
        ("320102001001G01", "320102001001G02", False),
    ],
)
def test_division_covers(scope_code: str, resource_code: str, covered: bool) -> None:
    scope = Scope("division", scope_code)
    assert scope.covers(ResourceScope(division_code=resource_code)) is covered


@pytest.mark.parametrize(
    "resource",
    [
        None,
        ResourceScope(),
        ResourceScope(division_code=None, department_codes=("cg",)),
    ],
)
def test_division_does_not_cover_city_wide_or_unplaced_resources(
    resource: ResourceScope | None,
) -> None:
    assert not Scope("division", "320100").covers(resource)


@given(division_codes)
def test_a_division_covers_itself(code: str) -> None:
    assert Scope("division", code).covers(ResourceScope(division_code=code))


@given(division_codes, st.text(ASCII_DIGITS, min_size=3, max_size=6))
def test_a_division_covers_codes_extending_its_prefix(code: str, tail: str) -> None:
    inner = division_prefix(code) + tail
    assert Scope("division", code).covers(ResourceScope(division_code=inner))


@pytest.mark.parametrize(
    ("chain", "covered"),
    [
        (("cg",), True),
        (("cg-east", "cg"), True),
        (("cg-east-1", "cg-east", "cg", "root"), True),
        (("hw",), False),
        (("hw-east", "hw"), False),
        (("cg-east",), False),  # a similar code is not the same department
        (("c",), False),
        ((), False),
    ],
)
def test_department_covers_its_chain(chain: tuple[str, ...], covered: bool) -> None:
    scope = Scope("department", "cg")
    assert scope.covers(ResourceScope(division_code="320102", department_codes=chain)) is covered


def test_department_does_not_cover_city_wide_resources() -> None:
    assert not Scope("department", "cg").covers(None)


def test_department_ignores_the_division() -> None:
    scope = Scope("department", "cg")
    assert not scope.covers(ResourceScope(division_code="320102"))


def test_division_ignores_departments() -> None:
    scope = Scope("division", "320102")
    assert not scope.covers(ResourceScope(division_code="320103", department_codes=("320102",)))


@given(department_codes, st.lists(department_codes, max_size=4))
def test_department_covers_exactly_when_in_the_chain(code: str, chain: list[str]) -> None:
    resource = ResourceScope(department_codes=tuple(chain))
    assert Scope("department", code).covers(resource) is (code in chain)


def test_str_of_each_kind() -> None:
    assert str(Scope.city()) == "city"
    assert str(Scope("division", "320102")) == "division:320102"
    assert str(Scope("department", "cg")) == "department:cg"
