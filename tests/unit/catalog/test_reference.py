"""Tests of the GB/T 47678.5-2026 class tables against the standard's own tables (as transcribed).

The expected figures and names come from the standards notes, section 1.2 (附录 A 表 A.1 and
附录 C 表 C.1 as transcribed in Jackyhellolove/city-inspection-ai, grade B) and section 1.3
(legacy codes, grade C).
"""

from __future__ import annotations

import csv
import io
import re
import string
from collections import Counter
from importlib.resources import files

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cityops.catalog import (
    LEGACY_STANDARDS,
    STANDARD,
    ComponentId,
    Kind,
    MatterCode,
    absent_codes,
    check_class_code,
    check_component_class,
    check_division_code,
    check_matter_class,
    component_class,
    component_classes,
    legacy_codes,
    major_classes,
    make_component_id,
    make_matter_code,
    map_legacy,
    matter_class,
    matter_classes,
    parse_component_id,
    parse_matter_code,
)
from cityops.kernel.errors import NotFound, ValidationFailed

DATA = files("cityops.catalog") / "data"
CSV_FILES = [
    "gbt47678.5-2026_components.csv",
    "gbt47678.5-2026_matters.csv",
    "gbt47678.5-2026_absent_codes.csv",
    "legacy_codes.csv",
]

COMPONENT_MAJORS = {
    "01": ("市政公用设施", 76),
    "02": ("交通设施", 44),
    "03": ("市容环卫设施", 16),
    "04": ("园林绿化设施", 14),
    "05": ("其他管理部件", 3),
}
MATTER_MAJORS = {
    "01": ("市政公用设施类", 76),
    "02": ("交通设施类", 44),
    "03": ("市容环卫设施类", 16),
    "04": ("园林绿化设施类", 14),
    "05": ("其他管理部件类", 3),
    "06": ("市容环境类", 51),
    "07": ("宣传广告类", 7),
    "08": ("施工管理类", 16),
    "09": ("街面秩序类", 21),
    "10": ("其他事项类", 2),
}
ABSENT_COMPONENTS = {"01016", "05001", "05004", "05005", "05006", "05007", "05008"}
ABSENT_MATTERS = ABSENT_COMPONENTS | {"06031", "07005", "09007"}
# The one mirror matter whose transcribed name breaks the "<部件名>异常" pattern.
MIRROR_NAME_DEVIATIONS = {"01066": "紧急报警点异常SOS"}
RENUMBERED = {"01": "06", "02": "07", "03": "08", "04": "09"}

RULES = {
    "class_code_format",
    "component_class_known",
    "matter_class_known",
    "division_code_format",
    "component_id_format",
    "matter_code_format",
    "sequence_range",
}

division_codes = st.text(string.digits, min_size=6, max_size=6)
component_codes = st.sampled_from(sorted(component_classes()))
matter_codes = st.sampled_from(sorted(matter_classes()))
sequences = st.integers(min_value=0, max_value=999_999)


def read_rows(name: str) -> list[list[str]]:
    """Read one data file as raw rows, header included."""
    text = (DATA / name).read_bytes().decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def bare(name: str) -> str:
    """Drop punctuation-only differences: 、 and parenthesised variants （…）."""
    return re.sub(r"（[^）]*）|、", "", name)


# --------------------------------------------------------------------------- the files


@pytest.mark.parametrize("name", CSV_FILES)
def test_csv_is_utf8_without_bom_with_rows_of_equal_width(name: str) -> None:
    raw = (DATA / name).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("utf-8")  # raises on invalid UTF-8
    assert b"\r" not in raw
    assert raw.endswith(b"\n")
    rows = read_rows(name)
    widths = {len(row) for row in rows}
    assert widths == {len(rows[0])}
    for row in rows:
        assert all(cell == cell.strip() for cell in row)


def test_readme_names_every_file_and_the_edition() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert STANDARD in readme
    assert "Jackyhellolove/city-inspection-ai" in readme
    for name in CSV_FILES:
        assert name in readme


@pytest.mark.parametrize("name", ["gbt47678.5-2026_components.csv", "gbt47678.5-2026_matters.csv"])
def test_codes_are_unique_and_sorted(name: str) -> None:
    codes = [row[0] for row in read_rows(name)[1:]]
    assert len(codes) == len(set(codes))
    assert codes == sorted(codes)


# --------------------------------------------------------------------------- components


def test_153_components_split_by_major_class() -> None:
    components = component_classes()
    assert len(components) == 153
    counts = Counter(c.major_code for c in components.values())
    assert counts == {code: n for code, (_, n) in COMPONENT_MAJORS.items()}
    for c in components.values():
        assert c.major_name == COMPONENT_MAJORS[c.major_code][0]


def test_component_fields() -> None:
    for code, c in component_classes().items():
        assert code == c.code
        assert re.fullmatch(r"[0-9]{5}", c.code)
        assert c.major_code == c.code[:2]
        assert c.minor_code == c.code[2:]
        assert c.confidence == "B"
        assert c.name
        assert c.kind is Kind.COMPONENT


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("01001", "供水井盖"),
        ("01015", "信号灯电源井盖"),
        ("01017", "电缆井盖"),
        ("01066", "紧急报警点SOS"),
        ("01077", "综合杆"),
        ("02014", "交通信号灯"),
        ("02044", "公路隧道"),
        ("03016", "烟头收集器或灭烟处"),
        ("04014", "林地及林地管护设施"),
        ("05003", "车辆加油（气、电）站"),
        ("05009", "文物古迹"),
    ],
)
def test_component_names(code: str, name: str) -> None:
    assert component_class(code).name == name


def test_component_ranges_are_contiguous_apart_from_the_gaps() -> None:
    codes = set(component_classes())
    for major, (_, count) in COMPONENT_MAJORS.items():
        last = max(int(c[2:]) for c in codes if c[:2] == major)
        expected = {f"{major}{n:03d}" for n in range(1, last + 1)} - ABSENT_COMPONENTS
        assert {c for c in codes if c[:2] == major} == expected
        assert len(expected) == count


# --------------------------------------------------------------------------- matters


def test_250_matters_split_by_major_class() -> None:
    matters = matter_classes()
    assert len(matters) == 250
    counts = Counter(m.major_code for m in matters.values())
    assert counts == {code: n for code, (_, n) in MATTER_MAJORS.items()}
    mirrors = [m for m in matters.values() if m.component_code is not None]
    assert len(mirrors) == 153
    others = Counter(m.major_code for m in matters.values() if m.component_code is None)
    assert others == {"06": 51, "07": 7, "08": 16, "09": 21, "10": 2}
    for m in matters.values():
        assert m.major_name == MATTER_MAJORS[m.major_code][0]


def test_matter_fields() -> None:
    for code, m in matter_classes().items():
        assert code == m.code
        assert re.fullmatch(r"[0-9]{5}", m.code)
        assert m.major_code == m.code[:2]
        assert m.minor_code == m.code[2:]
        assert m.confidence == "B"
        assert m.name
        assert m.kind is Kind.MATTER


def test_every_component_has_its_mirror_matter() -> None:
    matters = matter_classes()
    for code, component in component_classes().items():
        matter = matters[code]
        assert matter.component_code == code
        assert matter.major_name == component.major_name + "类"
        expected = MIRROR_NAME_DEVIATIONS.get(code, component.name + "异常")
        assert matter.name == expected
    for matter in matters.values():
        assert (matter.component_code is not None) == (matter.major_code <= "05")


def test_the_mirror_name_deviation_is_explained() -> None:
    for code in MIRROR_NAME_DEVIATIONS:
        assert "verify" in matter_class(code).note
        assert component_class(code).name + "异常" != matter_class(code).name


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("01001", "供水井盖异常"),
        ("02014", "交通信号灯异常"),
        ("05009", "文物古迹异常"),
        ("06001", "私搭乱建"),
        ("06030", "乱倒乱排污水、废水"),
        ("06032", "非正规垃圾填埋场"),
        ("06052", "无障碍坡道破损"),
        ("07008", "公益性宣传品缺损"),
        ("08011", "渣土运输车辆未安装密闭装置"),
        ("08016", "无证建设"),
        ("09018", "履带车（铁轮车）违规上路行驶"),
        ("09022", "占道促销宣传"),
        ("10001", "道路积雪、结冰"),
        ("10002", "架空线缆脱落"),
    ],
)
def test_matter_names(code: str, name: str) -> None:
    assert matter_class(code).name == name


def test_traffic_light_matter_is_about_the_traffic_light_component() -> None:
    matter = matter_class("02014")
    assert matter.name == "交通信号灯异常"
    assert matter.component_code == "02014"
    assert matter.major_name == "交通设施类"
    assert component_class("02014").name == "交通信号灯"


def test_same_code_different_kind() -> None:
    assert component_class("01001").name == "供水井盖"
    assert matter_class("01001").name == "供水井盖异常"
    assert component_class("01001").kind is not matter_class("01001").kind


# --------------------------------------------------------------------------- absent codes


def test_absent_codes_are_listed_and_absent_from_the_tables() -> None:
    absent = absent_codes()
    assert {c for k, c in absent if k is Kind.COMPONENT} == ABSENT_COMPONENTS
    assert {c for k, c in absent if k is Kind.MATTER} == ABSENT_MATTERS
    assert len(absent) == len(ABSENT_COMPONENTS) + len(ABSENT_MATTERS)
    for (kind, code), entry in absent.items():
        assert (entry.kind, entry.code) == (kind, code)
        assert "verify" in entry.note
        table = component_classes() if kind is Kind.COMPONENT else matter_classes()
        assert code not in table


@pytest.mark.parametrize("code", sorted(ABSENT_COMPONENTS))
def test_absent_component_lookup_says_it_is_absent(code: str) -> None:
    with pytest.raises(NotFound, match="absent"):
        component_class(code)
    with pytest.raises(ValidationFailed) as caught:
        check_component_class(code)
    assert caught.value.issues[0].rule == "component_class_known"


@pytest.mark.parametrize("code", sorted(ABSENT_MATTERS))
def test_absent_matter_lookup_says_it_is_absent(code: str) -> None:
    with pytest.raises(NotFound, match="absent"):
        matter_class(code)


# --------------------------------------------------------------------------- lookups


def test_unknown_codes_raise_not_found() -> None:
    with pytest.raises(NotFound, match="component"):
        component_class("11001")
    with pytest.raises(NotFound, match="matter"):
        matter_class("06999")
    with pytest.raises(NotFound, match="5 ASCII digits"):
        matter_class("abc")


def test_returned_tables_are_copies() -> None:
    components = component_classes()
    components.clear()
    matters = matter_classes()
    del matters["01001"]
    assert len(component_classes()) == 153
    assert "01001" in matter_classes()


def test_major_classes() -> None:
    components = major_classes(Kind.COMPONENT)
    assert [(m.code, m.name) for m in components] == [
        (code, name) for code, (name, _) in COMPONENT_MAJORS.items()
    ]
    matters = major_classes(Kind.MATTER)
    assert [(m.code, m.name) for m in matters] == [
        (code, name) for code, (name, _) in MATTER_MAJORS.items()
    ]
    assert all(m.kind is Kind.MATTER for m in matters)


def test_kind_labels() -> None:
    assert Kind.COMPONENT.label_zh == "部件"
    assert Kind.MATTER.label_zh == "事项"
    assert Kind("matter") is Kind.MATTER


# --------------------------------------------------------------------------- legacy codes


def test_legacy_mappings_point_at_existing_matters() -> None:
    matters = matter_classes()
    entries = legacy_codes()
    assert entries
    for (standard, kind, legacy_code), entry in entries.items():
        assert (entry.legacy_standard, entry.kind, entry.legacy_code) == (
            standard,
            kind,
            legacy_code,
        )
        assert standard in LEGACY_STANDARDS
        assert kind is Kind.MATTER
        assert entry.confidence == "C"
        assert entry.basis
        assert entry.code is None or entry.code in matters


def test_gbt_30428_2_codes_follow_the_inferred_renumbering() -> None:
    entries = [e for e in legacy_codes().values() if e.legacy_standard == "GB/T 30428.2-2013"]
    assert {e.legacy_code for e in entries} == {
        "04-01", "04-05", "04-06", "04-09", "04-10", "03-11", "01-01",
        "01-07", "01-10", "01-11", "01-12", "01-36", "02-01", "02-03",
    }  # fmt: skip
    for entry in entries:
        major, minor = entry.legacy_code.split("-")
        assert entry.code == RENUMBERED[major] + "0" + minor
        assert entry.basis.startswith("inferred: major classes renumbered")
        assert "mapping annex" in entry.basis


@pytest.mark.parametrize(
    ("standard", "legacy_code", "code"),
    [
        ("GB/T 30428.2-2013", "04-01", "09001"),
        ("GB/T 30428.2-2013", "01-36", "06036"),
        ("GB/T 30428.2-2013", "03-11", "08011"),
        ("CJ/T 214-2007", "1-01", "06001"),
        ("CJ/T 214-2007", "1-02", "06010"),
        ("CJ/T 214-2007", "3-05", "08003"),
        ("CJ/T 214-2007", "5-11", "06007"),
        ("CJ/T 214-2007", "4-07", "10001"),
        ("CJ/T 214-2007", "4-01", None),
        ("CJ/T 214-2007", "1-08", None),
        ("CJ/T 214-2007", "5-99", None),
    ],
)
def test_map_legacy(standard: str, legacy_code: str, code: str | None) -> None:
    found = map_legacy(standard, legacy_code)
    assert (found.code if found else None) == code


def test_cjt_214_maps_by_name_only() -> None:
    by_bare_name = {bare(m.name): m.code for m in matter_classes().values()}
    for entry in legacy_codes().values():
        if entry.legacy_standard != "CJ/T 214-2007":
            continue
        if entry.code is None:
            assert bare(entry.legacy_name) not in by_bare_name
            assert "no same-named" in entry.basis
        else:
            assert by_bare_name[bare(entry.legacy_name)] == entry.code
            assert entry.basis.startswith("same name")


def test_emergency_events_have_no_counterpart_except_by_name() -> None:
    emergencies = [
        e
        for e in legacy_codes().values()
        if e.legacy_standard == "CJ/T 214-2007" and e.legacy_code.startswith("4-")
    ]
    assert len(emergencies) == 10
    assert {e.legacy_code for e in emergencies if e.code is not None} == {"4-07"}
    for entry in emergencies:
        if entry.code is None:
            assert "Part 6" in entry.basis


def test_map_legacy_rejects_unknown_standard_and_code() -> None:
    with pytest.raises(ValidationFailed) as caught:
        map_legacy("GB/T 30428.2", "01-01")
    assert (caught.value.issues[0].field, caught.value.issues[0].rule) == (
        "standard",
        "legacy_standard_known",
    )
    with pytest.raises(ValidationFailed) as caught:
        map_legacy("CJ/T 214-2007", "01-01")
    assert (caught.value.issues[0].field, caught.value.issues[0].rule) == (
        "legacy_code",
        "legacy_code_known",
    )


# --------------------------------------------------------------------------- validators


@given(st.text(string.digits, min_size=5, max_size=5))
def test_check_class_code_accepts_five_ascii_digits(code: str) -> None:
    assert check_class_code(code) == code


@given(st.text())
@example("0100１")  # a full-width digit
@example("٠١٠٠١")  # Arabic-Indic digits
@example("01001\n")
@example(" 01001")
@example("")
def test_check_class_code_rejects_everything_else(text: str) -> None:
    if re.fullmatch(r"[0-9]{5}", text):
        assert check_class_code(text) == text
        return
    with pytest.raises(ValidationFailed) as caught:
        check_class_code(text, field="matter_class")
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == ("matter_class", "class_code_format")


@given(division_codes, component_codes, sequences)
def test_component_id_round_trip(division: str, class_code: str, sequence: int) -> None:
    component_id = make_component_id(division, class_code, sequence)
    assert len(component_id) == 17
    assert re.fullmatch(r"[0-9]{17}", component_id)
    parsed = parse_component_id(component_id)
    assert parsed == ComponentId(division, class_code, sequence)
    assert make_component_id(*parsed) == component_id


def test_component_id_example() -> None:
    assert make_component_id("320508", "01001", 1) == "32050801001000001"
    assert parse_component_id("32050801001000001") == ("320508", "01001", 1)


@given(division_codes, matter_codes)
def test_matter_code_round_trip(division: str, class_code: str) -> None:
    code = make_matter_code(division, class_code)
    assert len(code) == 11
    assert parse_matter_code(code) == MatterCode(division, class_code)


@pytest.mark.parametrize(
    ("args", "field", "rule"),
    [
        (("32050", "01001", 1), "division_code", "division_code_format"),
        (("32050a", "01001", 1), "division_code", "division_code_format"),
        (("320508", "1001", 1), "class_code", "class_code_format"),
        (("320508", "01016", 1), "class_code", "component_class_known"),
        (("320508", "06001", 1), "class_code", "component_class_known"),
        (("320508", "01001", -1), "sequence", "sequence_range"),
        (("320508", "01001", 1_000_000), "sequence", "sequence_range"),
        (("320508", "01001", True), "sequence", "sequence_range"),
        (("320508", "01001", "000001"), "sequence", "sequence_range"),
    ],
)
def test_make_component_id_names_field_and_rule(
    args: tuple[str, str, int], field: str, rule: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        make_component_id(*args)
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == (field, rule)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("3205080101000001", "component_id_format"),  # the legacy 16-digit shape
        ("320508010010000012", "component_id_format"),
        ("32050801001０00001", "component_id_format"),
        ("32050801001000001\n", "component_id_format"),
        ("32050801016000001", "component_class_known"),  # absent class 01016
        ("32050806001000001", "component_class_known"),  # a matter class, not a component
    ],
)
def test_parse_component_id_names_field_and_rule(text: str, rule: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_component_id(text, field="glbjbsm")
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == ("glbjbsm", rule)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("3205080600", "matter_code_format"),
        ("32050806001 ", "matter_code_format"),
        ("32050806031", "matter_class_known"),
        ("32050811001", "matter_class_known"),
    ],
)
def test_parse_matter_code_names_field_and_rule(text: str, rule: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_matter_code(text)
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == ("matter_code", rule)


def test_make_matter_code_checks_its_parts() -> None:
    assert make_matter_code("320508", "06001") == "32050806001"
    with pytest.raises(ValidationFailed) as caught:
        make_matter_code("320508", "07005")
    assert caught.value.issues[0].rule == "matter_class_known"
    with pytest.raises(ValidationFailed) as caught:
        make_matter_code("32O508", "06001")
    assert caught.value.issues[0].rule == "division_code_format"


def test_check_division_and_class_helpers() -> None:
    assert check_division_code("320508") == "320508"
    assert check_component_class("02014").name == "交通信号灯"
    assert check_matter_class("02014").name == "交通信号灯异常"


mutated_ids = st.builds(
    lambda division, code, seq, pos, char: (
        (division + code + f"{seq:06d}")[:pos] + char + (division + code + f"{seq:06d}")[pos:]
    ),
    division_codes,
    component_codes,
    sequences,
    st.integers(min_value=0, max_value=17),
    st.characters(),
)


@given(st.one_of(st.text(), st.text(string.digits, min_size=5, max_size=17), mutated_ids))
def test_arbitrary_text_raises_only_validation_failed(text: str) -> None:
    for check in (
        check_class_code,
        check_division_code,
        check_component_class,
        check_matter_class,
        parse_component_id,
        parse_matter_code,
    ):
        try:
            check(text)
        except ValidationFailed as error:
            issue = error.issues[0]
        else:
            continue
        assert issue.rule in RULES
        assert issue.field


@given(st.one_of(st.text(), st.text(string.digits, min_size=5, max_size=5)))
def test_arbitrary_lookups_raise_only_not_found(text: str) -> None:
    for lookup in (component_class, matter_class):
        try:
            found = lookup(text)
        except NotFound as error:
            message = error.message
        else:
            assert found.code == text
            continue
        assert message


@given(st.text(), st.text())
def test_map_legacy_raises_only_validation_failed(standard: str, code: str) -> None:
    try:
        map_legacy(standard, code)
    except ValidationFailed as error:
        rule = error.issues[0].rule
    else:
        return
    assert rule in {"legacy_standard_known", "legacy_code_known"}


def test_non_text_input_is_a_validation_error() -> None:
    for value in (None, 1001, b"01001", 1.5):
        with pytest.raises(ValidationFailed):
            check_class_code(value)  # type: ignore[arg-type]
        with pytest.raises(ValidationFailed):
            parse_component_id(value)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            component_class(value)  # type: ignore[arg-type]
