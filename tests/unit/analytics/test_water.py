"""Surface-water classes under GB 3838—2002, against the standard's own 表1 and §5.1.

表1 is restated below as printed (strings, so the comparison is exact) so that a slip in the data
file shows here; the worked examples were classed by hand from that table.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.analytics import water as m
from cityops.kernel.errors import ValidationFailed

# 表1 地表水环境质量标准基本项目标准限值, classes I–V (mg/L; 粪大肠菌群 个/L).
TABLE_1 = {
    "codmn": ("2", "4", "6", "10", "15"),
    "cod": ("15", "15", "20", "30", "40"),
    "bod5": ("3", "3", "4", "6", "10"),
    "nh3n": ("0.15", "0.5", "1.0", "1.5", "2.0"),
    "tp": ("0.02", "0.1", "0.2", "0.3", "0.4"),
    "tn": ("0.2", "0.5", "1.0", "1.5", "2.0"),
    "cu": ("0.01", "1.0", "1.0", "1.0", "1.0"),
    "zn": ("0.05", "1.0", "1.0", "2.0", "2.0"),
    "f": ("1.0", "1.0", "1.0", "1.5", "1.5"),
    "se": ("0.01", "0.01", "0.01", "0.02", "0.02"),
    "as": ("0.05", "0.05", "0.05", "0.1", "0.1"),
    "hg": ("0.00005", "0.00005", "0.0001", "0.001", "0.001"),
    "cd": ("0.001", "0.005", "0.005", "0.005", "0.01"),
    "cr6": ("0.01", "0.05", "0.05", "0.05", "0.1"),
    "pb": ("0.01", "0.01", "0.05", "0.05", "0.1"),
    "cn": ("0.005", "0.05", "0.2", "0.2", "0.2"),
    "phenol": ("0.002", "0.002", "0.005", "0.01", "0.1"),
    "oil": ("0.05", "0.05", "0.05", "0.5", "1.0"),
    "las": ("0.2", "0.2", "0.2", "0.3", "0.3"),
    "s2": ("0.05", "0.1", "0.2", "0.5", "1.0"),
    "fecal_coliform": ("200", "2000", "10000", "20000", "40000"),
}
DO = ("7.5", "6", "5", "3", "2")  # 溶解氧 ≥
TP_LAKE = ("0.01", "0.025", "0.05", "0.1", "0.2")  # 总磷 湖、库
NAMES = ["I", "II", "III", "IV", "V", "劣V"]
MAXIMA = sorted(set(TABLE_1) - {"tn"})


def test_the_data_file_holds_table_1():
    rows = m.table()["parameters"]
    found = {
        k: [Decimal(x) for x in v["limits"]] for k, v in rows.items() if v["direction"] == "max"
    }
    assert found == {k: [Decimal(x) for x in v] for k, v in TABLE_1.items()}
    assert [Decimal(x) for x in rows["do"]["limits"]] == [Decimal(x) for x in DO]
    assert rows["do"]["direction"] == "min"
    assert [Decimal(x) for x in rows["tp"]["limits_lake"]] == [Decimal(x) for x in TP_LAKE]
    assert rows["ph"]["direction"] == "range"
    assert rows["ph"]["limits"] == [[6, 9]] * 5
    assert rows["temp"]["direction"] == "narrative"
    assert rows["tn"]["waterbodies"] == ["lake"]
    assert [v["no"] for v in rows.values()] == list(range(1, 25))  # all 24 items, in order
    assert rows["fecal_coliform"]["unit"] == "个/L"
    assert rows["ph"]["unit"] == "dimensionless"
    assert m.table()["standard"] == "GB 3838—2002"


def test_the_classes_status_wording_and_colours():
    found = [(c.name, c.ordinal, c.status, c.color) for c in m.classes()]
    assert found == [
        ("I", 1, "优", "蓝色"),
        ("II", 2, "优", "蓝色"),
        ("III", 3, "良好", "绿色"),
        ("IV", 4, "轻度污染", "黄色"),
        ("V", 5, "中度污染", "橙色"),
        ("劣V", 6, "重度污染", "红色"),
    ]
    assert [c.hex for c in m.classes()][2:] == ["#00E400", "#FFFF00", "#FF7E00", "#FF0000"]
    assert m.classes()[0].use.startswith("主要适用于源头水、国家自然保护区")
    assert "一级保护区" in m.classes()[1].use
    assert "二级保护区" in m.classes()[2].use
    assert "游泳区" in m.classes()[2].use
    assert "一般工业用水区" in m.classes()[3].use
    assert "农业用水区" in m.classes()[4].use


def test_the_worked_river_sample():
    sample = {"do": "5.5", "codmn": "5.0", "nh3n": "1.2", "tp": "0.15"}
    result = m.assess(sample, target="III")
    assert {k: c.name for k, c in result.classes.items()} == {
        "do": "III",
        "codmn": "III",
        "nh3n": "IV",
        "tp": "III",
    }
    assert result.water_class.name == "IV"
    assert result.water_class.status == "轻度污染"
    assert result.deciding == ("nh3n",)
    assert result.meets_target is False
    assert result.exceeding == {"nh3n": Decimal("0.20")}  # (1.2 − 1.0) / 1.0


def test_the_same_phosphorus_is_worse_in_a_lake():
    assert m.parameter_class("tp", "0.15").name == "III"
    assert m.parameter_class("tp", "0.15", "lake").name == "V"
    assert m.parameter_class("tp", "0.025", "lake").name == "II"
    assert m.parameter_class("tp", "0.025", "reservoir").name == "II"
    assert m.parameter_class("tp", "0.025").name == "II"  # river: above 0.02
    assert m.parameter_class("tp", "0.41").name == "劣V"


def test_a_limit_belongs_to_the_better_class():
    assert m.parameter_class("nh3n", "0.5").name == "II"
    assert m.parameter_class("nh3n", "0.5001").name == "III"
    assert m.parameter_class("nh3n", 0.15).name == "I"  # a float is read by its shortest repr
    assert m.parameter_class("cod", 15).name == "I"  # I and II share 15
    assert m.parameter_class("cod", "15.01").name == "III"
    assert m.parameter_class("hg", "0.00005").name == "I"
    assert m.parameter_class("hg", "0.00006").name == "III"  # I and II share 0.00005
    assert m.parameter_class("fecal_coliform", 200).name == "I"
    assert m.parameter_class("fecal_coliform", 40001).name == "劣V"
    assert m.parameter_class("cn", "0.2").name == "III"


def test_dissolved_oxygen_is_not_less_than():
    assert m.parameter_class("do", "7.5").name == "I"
    assert m.parameter_class("do", "7.4999").name == "II"
    assert m.parameter_class("do", 12).name == "I"
    assert m.parameter_class("do", 5).name == "III"
    assert m.parameter_class("do", 2).name == "V"
    assert m.parameter_class("do", "1.99").name == "劣V"
    assert m.parameter_class("do", 0).name == "劣V"


@pytest.mark.parametrize(
    ("value", "expected"), [("5.99", "劣V"), (6, "I"), ("7.8", "I"), (9, "I"), ("9.01", "劣V")]
)
def test_ph_inside_6_to_9_is_i_outside_is_worse_than_v(value, expected):
    assert m.parameter_class("ph", value).name == expected


def test_ph_out_of_range_makes_the_sample_worse_than_v():
    result = m.assess({"ph": "9.5", "nh3n": "0.1", "do": 8}, target="II")
    assert result.water_class.name == "劣V"
    assert result.deciding == ("ph",)
    assert result.exceeding == {"ph": None}  # pH gets no multiple


def test_total_nitrogen_is_classed_in_lakes_only():
    assert m.parameter_class("tn", "3") is None
    assert m.parameter_class("tn", "3", "lake").name == "劣V"
    assert "tn" not in m.parameters("river")
    assert "tn" in m.parameters("lake")
    river = m.assess({"nh3n": "0.3", "tn": "3.0"})
    assert river.water_class.name == "II"
    assert "tn" not in river.classes
    assert "lakes and reservoirs only" in river.unclassed["tn"]
    assert river.values["tn"] == Decimal("3.0")
    lake = m.assess({"nh3n": "0.3", "tn": "3.0"}, "lake")
    assert lake.water_class.name == "劣V"
    assert lake.deciding == ("tn",)


def test_water_temperature_is_reported_never_classed():
    assert m.parameter_class("temp", 25) is None
    result = m.assess({"temp": 25, "cod": 18})
    assert result.water_class.name == "III"
    assert "周平均最大温升" in result.unclassed["temp"]
    assert len(m.parameters("river")) == 22  # 24 items less 水温 and 总氮
    assert len(m.parameters("lake")) == 23


def test_exceedances_are_sorted_and_dissolved_oxygen_has_no_multiple():
    values = {"do": 4, "codmn": "7.5", "nh3n": "2.5", "tp": "0.21", "cod": 20}
    result = m.assess(values, target=3)
    assert result.water_class.name == "劣V"
    assert result.deciding == ("nh3n",)
    assert result.exceeding == {
        "nh3n": Decimal("1.50"),  # (2.5 − 1.0) / 1.0
        "codmn": Decimal("0.25"),  # (7.5 − 6) / 6
        "tp": Decimal("0.05"),  # (0.21 − 0.2) / 0.2
        "do": None,  # 4 < 5, but a shortfall is not a multiple
    }
    assert m.assess(values, target="V").exceeding == {"nh3n": Decimal("0.25")}
    assert m.assess({"tp": "0.06"}, "lake", target="III").exceeding == {"tp": Decimal("0.20")}


def test_meeting_the_target_and_ties_in_the_worst_class():
    result = m.assess({"cod": 20, "bod5": 4, "nh3n": "0.4", "do": 7}, target="Ⅲ类")
    assert result.water_class.name == "III"
    assert result.deciding == ("cod", "bod5")
    assert result.meets_target is True
    assert result.exceeding == {}
    assert m.assess({"cod": 20}).target is None
    assert m.assess({"cod": 20}).meets_target is None


def test_as_json():
    found = m.assess({"do": "5.5", "nh3n": "1.2"}, target="III").as_json()
    assert found == {
        "standard": "GB3838-2002",
        "waterbody": "river",
        "class": "IV",
        "ordinal": 4,
        "status": "轻度污染",
        "status_en": "Lightly polluted",
        "color": "#FFFF00",
        "color_name": "黄色",
        "use": m.classes()[3].use,
        "classes": {"do": "III", "nh3n": "IV"},
        "deciding": ["nh3n"],
        "values": {"do": 5.5, "nh3n": 1.2},
        "unclassed": {},
        "target": "III",
        "meets_target": False,
        "exceeding": {"nh3n": 0.2},
    }


@pytest.mark.parametrize(
    ("call", "field", "rule"),
    [
        (lambda: m.assess({"nh3n": -1}), "values.nh3n", "non_negative"),
        (lambda: m.assess({"nh3n": "nan"}), "values.nh3n", "finite"),
        (lambda: m.assess({"do": float("inf")}), "values.do", "finite"),
        (lambda: m.assess({"nh3n": "abc"}), "values.nh3n", "number"),
        (lambda: m.assess({"nh3n": True}), "values.nh3n", "number"),
        (lambda: m.assess({"ph": 15}), "values.ph", "ph_scale"),
        (lambda: m.assess({"nh3n": 1, "toc": 3}), "values.toc", "parameter"),
        (lambda: m.assess({"nh3n": 1}, "sea"), "waterbody", "one_of"),
        (lambda: m.assess({"nh3n": 1}, target="VI"), "target", "one_of"),
        (lambda: m.assess({"nh3n": 1}, target="劣V"), "target", "one_of"),
        (lambda: m.assess({}), "values", "required"),
        (lambda: m.assess({"tn": 1}), "values", "required"),  # TN alone cannot class a river
        (lambda: m.parameter_class("toc", 1), "parameter", "parameter"),
        (lambda: m.parameter_class("nh3n", -0.1), "value", "non_negative"),
        (lambda: m.parameter_class("nh3n", 1, "ocean"), "waterbody", "one_of"),
    ],
)
def test_bad_input_names_the_field_and_the_rule(call, field, rule):
    with pytest.raises(ValidationFailed) as caught:
        call()
    assert (caught.value.issues[0].field, caught.value.issues[0].rule) == (field, rule)


def test_class_names():
    assert [m.water_class(n).name for n in ["i", "Ⅱ", "III类", "iv", "Ⅴ类", "劣Ⅴ"]] == NAMES
    assert m.water_class(3).name == "III"


def _decimals(top: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=0, max_value=Decimal(top), places=6, allow_nan=False)


@given(
    st.sampled_from(MAXIMA + ["tn"]),
    st.sampled_from(["lake", "river"]),
    _decimals("60000"),
    _decimals("60000"),
)
def test_a_class_never_improves_as_the_concentration_rises(parameter, body, a, b):
    if parameter == "tn":
        body = "lake"
    low, high = sorted((a, b))
    ordinal = [m.parameter_class(parameter, v, body).ordinal for v in (low, high)]
    assert ordinal[0] <= ordinal[1]


@given(_decimals("20"), _decimals("20"))
def test_a_do_class_never_worsens_as_oxygen_rises(a, b):
    low, high = sorted((a, b))
    assert m.parameter_class("do", low).ordinal >= m.parameter_class("do", high).ordinal


@given(st.sampled_from(MAXIMA), st.sampled_from(["lake", "river"]), st.data())
def test_on_a_limit_the_class_is_the_best_with_that_limit(parameter, body, data):
    rows = TABLE_1 | {"tp": TP_LAKE} if body == "lake" else TABLE_1
    limits = [Decimal(x) for x in rows[parameter]]
    index = data.draw(st.integers(min_value=0, max_value=4))
    assert (
        m.parameter_class(parameter, limits[index], body).ordinal == limits.index(limits[index]) + 1
    )
    just_above = limits[index] + Decimal("0.000001")
    expected = next((i + 1 for i, lim in enumerate(limits) if just_above <= lim), 6)
    assert m.parameter_class(parameter, just_above, body).ordinal == expected


@given(
    st.dictionaries(st.sampled_from(MAXIMA), _decimals("50000"), min_size=1),
    st.one_of(st.none(), _decimals("15")),
    st.sampled_from(["lake", "river"]),
    st.integers(min_value=1, max_value=5),
)
def test_the_overall_class_is_the_worst_parameter_class(values, do, body, target):
    if do is not None:
        values = {**values, "do": do}
    result = m.assess(values, body, target=target)
    ordinals = {k: m.parameter_class(k, v, body).ordinal for k, v in values.items()}
    assert result.water_class.ordinal == max(ordinals.values())
    assert set(result.deciding) == {k for k, o in ordinals.items() if o == max(ordinals.values())}
    assert set(result.exceeding) == {k for k, o in ordinals.items() if o > target}
    assert result.meets_target is (max(ordinals.values()) <= target)
    assert all(v is None or v >= 0 for v in result.exceeding.values())
